"""executeWorkflow and errorWorkflow in the execution service, with in-memory stand-ins
for the trigger service (workflow lookup), the run queue and the cache service's
watch: children run as runs of their own, parents wait for their results, depth is
bounded, and a failed run starts its error workflow once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest

from hookline_execution.domain import (
    Engine,
    ExecutionPage,
    ExecutionService,
    RunScheduler,
    StartRequest,
    TemplateRenderer,
)
from hookline_execution.domain.journal import Checkpoint
from hookline_execution.domain.ports import SavedRow
from hookline_execution.domain.service import Delivery
from hookline_execution.domain.subworkflows import ChildStart, Subworkflows
from hookline_runtime.errors import InvalidArgument
from hookline_runtime.ids import derived_id
from hookline_runtime.workflow import parse_workflow

from .memory_journal import MemoryJournal
from .workflows import link, node, workflow


class NoStore:
    """Every workflow here has saving off: the store is never used."""

    async def save(self, rows: list[SavedRow]) -> None:
        raise AssertionError("nothing is saved")

    async def insert(self, **row: Any) -> None:
        raise AssertionError("nothing is saved")

    async def update(
        self, *, execution_id: str, status: str, finished_at: datetime | None, record_json: bytes
    ) -> bool:
        raise AssertionError("nothing is saved")

    async def get(self, execution_id: str) -> bytes | None:
        return None

    async def list(
        self, *, workflow_id: str | None, status: str | None, limit: int, cursor: str | None
    ) -> ExecutionPage:
        return ExecutionPage([], None)


class Results:
    """The cache service: results by execution id, and watches on them."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self._arrived: dict[str, asyncio.Event] = {}

    def _event(self, execution_id: str) -> asyncio.Event:
        return self._arrived.setdefault(execution_id, asyncio.Event())

    async def store_result(
        self, execution_id: str, record_json: bytes, ttl_seconds: int, keep_seconds: int = 0
    ) -> None:
        self.records[execution_id] = json.loads(record_json)
        self._event(execution_id).set()

    async def store_response(
        self, execution_id: str, response_json: bytes, ttl_seconds: int
    ) -> None:
        pass

    async def wait(self, execution_id: str, *, timeout_seconds: float, saved: bool) -> bytes | None:
        try:
            async with asyncio.timeout(timeout_seconds):
                await self._event(execution_id).wait()
        except TimeoutError:
            return None
        return json.dumps(self.records[execution_id]).encode()

    async def record(self, execution_id: str) -> dict[str, Any]:
        async with asyncio.timeout(10):
            await self._event(execution_id).wait()
        return self.records[execution_id]


@dataclass
class Catalog:
    """The trigger service's workflows."""

    by_id_map: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, data: dict[str, Any]) -> dict[str, Any]:
        self.by_id_map[data["id"]] = data
        return data

    async def by_id(self, workflow_id: str) -> Mapping[str, Any] | None:
        return self.by_id_map.get(workflow_id)

    async def by_name(self, name: str) -> Mapping[str, Any] | None:
        return next((w for w in self.by_id_map.values() if w["name"] == name), None)


class Starter:
    """Starts each id once, straight into the service (the queue's part is tested
    with the whole stack)."""

    def __init__(self) -> None:
        self.service: ExecutionService | None = None
        self.started: list[ChildStart] = []
        self._seen: set[str] = set()

    async def start_once(self, child: ChildStart) -> bool:
        if child.execution_id in self._seen:
            return False
        self._seen.add(child.execution_id)
        self.started.append(child)
        assert self.service is not None
        self.service.start(
            StartRequest(
                child.execution_id, child.workflow, child.input, child.mode, depth=child.depth
            )
        )
        return True


@dataclass
class World:
    service: ExecutionService
    results: Results
    catalog: Catalog
    starter: Starter

    async def run(self, data: dict[str, Any], input: Any = None, run_id: str = "top") -> Any:
        self.service.start(StartRequest(run_id, data, input or {}, "manual"))
        return await self.results.record(run_id)


@pytest.fixture
async def world(http_client: httpx.AsyncClient) -> AsyncIterator[World]:
    results, catalog, starter = Results(), Catalog(), Starter()
    service = ExecutionService(
        engine=Engine(TemplateRenderer(), http_client),
        store=NoStore(),
        sink=results,
        scheduler=RunScheduler(50),
        max_result_bytes=1024 * 1024,
    )
    service.use_subworkflows(Subworkflows(catalog, starter, results, max_depth=3))
    starter.service = service
    yield World(service, results, catalog, starter)
    await service.shutdown(grace=5)


def unsaved(data: dict[str, Any], **settings: Any) -> dict[str, Any]:
    data["settings"].update(saveExecutionToDatabase=False, **settings)
    return data


def child_replying() -> dict[str, Any]:
    return unsaved(
        workflow(
            [
                node("Shape", "set", values={"greeting": "Hello {{ json.name }}"}),
                node("Reply", "httpResponse", statusCode=201, body={"said": "{{ json.greeting }}"}),
            ],
            name="Child",
            trigger=node("Hook", "webhook", path="child-hook"),
        )
    )


def call(name: str = "Call", **parameters: Any) -> dict[str, Any]:
    return node(name, "executeWorkflow", **parameters)


async def test_a_child_runs_as_its_own_run_and_its_response_body_is_the_output(
    world: World,
) -> None:
    child = world.catalog.add(child_replying())
    parent = unsaved(workflow([call(workflowId=child["id"])]))
    record = await world.run(parent, {"name": "Ada"})
    assert record["status"] == "success"
    assert record["nodes"]["Call"]["output"] == {"said": "Hello Ada"}
    [started] = world.starter.started
    assert started.mode == "subworkflow" and started.depth == 2
    assert started.input == {"name": "Ada"}
    child_record = world.results.records[started.execution_id]
    assert child_record["mode"] == "subworkflow"
    assert child_record["nodes"]["Hook"]["output"] == {"name": "Ada"}  # the given input


async def test_input_template_and_last_node_output_by_name(world: World) -> None:
    world.catalog.add(
        unsaved(workflow([node("Double", "set", values={"n": "{{ json.n * 2 }}"})], name="Doubler"))
    )
    parent = unsaved(workflow([call(workflowName="Doubler", input={"n": "{{ json.x }}"})]))
    record = await world.run(parent, {"x": 21})
    assert record["nodes"]["Call"]["output"] == {"n": 42}


async def test_without_wait_the_output_is_the_child_execution_id(world: World) -> None:
    child = world.catalog.add(unsaved(workflow([node("Pause", "wait", seconds=0.2)])))
    parent = unsaved(workflow([call(workflowId=child["id"], wait=False)]))
    record = await world.run(parent)
    [started] = world.starter.started
    assert record["nodes"]["Call"]["output"] == {"executionId": started.execution_id}
    assert started.execution_id not in world.results.records  # not waited for
    assert (await world.results.record(started.execution_id))["status"] == "success"


async def test_a_failed_child_fails_the_node_and_on_error_continue_goes_on(
    world: World,
) -> None:
    child = world.catalog.add(
        unsaved(workflow([node("Boom", "stopAndError", message="child broke")], name="Breaker"))
    )
    parent = unsaved(workflow([call(workflowId=child["id"])]))
    record = await world.run(parent, run_id="stops")
    assert record["status"] == "error"
    assert record["error"]["node"] == "Call"
    assert 'workflow "Breaker" failed at node "Boom"' in record["error"]["message"]
    assert "child broke" in record["error"]["message"]

    going_on = call(workflowId=child["id"])
    going_on["onError"] = "continue"
    parent = unsaved(workflow([going_on, node("After", "set", values={"ok": True})]))
    record = await world.run(parent, run_id="continues")
    assert record["status"] == "success"
    assert "child broke" in record["nodes"]["Call"]["output"]["error"]["message"]
    assert record["nodes"]["After"]["status"] == "success"


async def test_recursion_past_the_depth_limit_fails_clearly(world: World) -> None:
    looping = world.catalog.add(
        unsaved(workflow([call("Again", workflowName="Loop")], name="Loop"))
    )
    record = await world.run(looping)
    assert record["status"] == "error"
    assert [c.depth for c in world.starter.started] == [2, 3]
    deepest = world.results.records[world.starter.started[-1].execution_id]
    assert deepest["error"]["node"] == "Again"
    assert (
        "at depth 4, over the limit of 3 (HOOKLINE_MAX_WORKFLOW_DEPTH)"
        in (deepest["error"]["message"])
    )


async def test_a_missing_target_fails_the_node(world: World) -> None:
    record = await world.run(unsaved(workflow([call(workflowName="Nowhere")])))
    assert record["error"]["node"] == "Call"
    assert 'no workflow named "Nowhere"' in record["error"]["message"]


async def test_a_retried_node_starts_a_new_child_per_try(world: World) -> None:
    child = world.catalog.add(unsaved(workflow([node("Boom", "stopAndError", message="no")])))
    retried = call(workflowId=child["id"])
    retried["retry"] = {"maxTries": 2, "waitSeconds": 0}
    record = await world.run(unsaved(workflow([retried])))
    assert record["status"] == "error"
    ids = [c.execution_id for c in world.starter.started]
    assert len(ids) == 2 and len(set(ids)) == 2


async def test_the_same_node_run_of_the_same_parent_finds_the_same_child(
    world: World,
) -> None:
    child = world.catalog.add(unsaved(workflow([node("Shape", "set", values={"v": 1})])))
    calls = Subworkflows(world.catalog, world.starter, world.results, max_depth=3).for_run(
        "parent-1", 1
    )
    params = {"workflowId": child["id"]}
    first = await calls.call("Call\x00\x001", params, {}, input_given=False)
    again = await calls.call("Call\x00\x001", params, {}, input_given=False)  # a resumed parent
    assert first == again
    assert len(world.starter.started) == 1


def error_handler(catalog: Catalog, *, fails: bool = False) -> dict[str, Any]:
    body = (
        node("Boom", "stopAndError", message="handler broke")
        if fails
        else node("Note", "set", values={"seen": "{{ json.execution.id }}"})
    )
    return catalog.add(unsaved(workflow([body], name="On failure")))


async def test_a_failed_run_starts_its_error_workflow_once_with_the_failure(
    world: World,
) -> None:
    handler = error_handler(world.catalog)
    failing = unsaved(
        workflow([node("Boom", "stopAndError", message="it broke")], name="Fragile"),
        errorWorkflow=handler["id"],
    )
    record = await world.run(failing, run_id="fragile-1")
    assert record["status"] == "error"
    [started] = world.starter.started
    assert started.mode == "error" and started.depth == 1
    assert started.input == {
        "execution": {
            "id": "fragile-1",
            "workflowId": failing["id"],
            "mode": "manual",
            "node": "Boom",
            "message": "it broke",
        },
        "workflow": {"id": failing["id"], "name": "Fragile"},
    }
    handled = await world.results.record(started.execution_id)
    assert handled["mode"] == "error"
    assert handled["nodes"]["Note"]["output"]["seen"] == "fragile-1"


async def test_a_successful_run_starts_no_error_workflow(world: World) -> None:
    handler = error_handler(world.catalog)
    fine = unsaved(workflow([node("Shape", "set", values={})]), errorWorkflow=handler["id"])
    await world.run(fine)
    assert world.starter.started == []


async def test_a_failing_error_workflow_starts_nothing_further(world: World) -> None:
    handler = error_handler(world.catalog, fails=True)
    handler["settings"]["errorWorkflow"] = handler["id"]  # would loop, if it could
    failing = unsaved(
        workflow([node("Boom", "stopAndError", message="x")]), errorWorkflow=handler["id"]
    )
    await world.run(failing)
    [started] = world.starter.started
    handled = await world.results.record(started.execution_id)
    assert handled["status"] == "error"
    await world.service.shutdown(grace=5)  # every run has ended, the handler's too
    assert len(world.starter.started) == 1


def test_a_node_names_one_target() -> None:
    with pytest.raises(InvalidArgument, match='node "Call".*one of workflowId or workflowName'):
        parse_workflow(workflow([call(workflowId="a", workflowName="b")]))
    with pytest.raises(InvalidArgument, match="one of workflowId or workflowName"):
        parse_workflow(workflow([call()]))
    parsed = parse_workflow(
        workflow([call(workflowName="{{ json.target }}")], [link("Start", "Call")])
    )
    assert parsed.nodes["Call"].type == "executeWorkflow"


def delivery(journal: MemoryJournal, execution_id: str, *, resume: bool) -> Delivery:
    return Delivery(Checkpoint(journal, execution_id, resume=resume), lambda _: None, resume)


async def test_a_resumed_parent_takes_a_journaled_call_without_starting_the_child_again(
    world: World,
) -> None:
    child = world.catalog.add(unsaved(workflow([node("Shape", "set", values={"v": 1})])))
    parent = unsaved(workflow([call(workflowId=child["id"]), node("After", "set", values={})]))
    journal = MemoryJournal()
    world.service.start(
        StartRequest("p1", parent, {}, "manual"), delivery(journal, "p1", resume=False)
    )
    assert (await world.results.record("p1"))["status"] == "success"
    assert "Call" in journal.entries
    resumed = StartRequest("p1-again", parent, {}, "manual")
    world.service.start(resumed, delivery(journal, "p1-again", resume=True))
    record = await world.results.record("p1-again")
    assert record["nodes"]["Call"]["output"] == {"v": 1}
    assert len(world.starter.started) == 1


async def test_a_parent_that_died_while_waiting_waits_for_the_same_child(world: World) -> None:
    child = world.catalog.add(unsaved(workflow([node("Shape", "set", values={"v": 2})])))
    parent = unsaved(workflow([call(workflowId=child["id"])]))
    earlier = ChildStart(derived_id("p2", "Call\x00\x001"), child, {}, "subworkflow", 2)
    assert await world.starter.start_once(earlier)  # started by the delivery that died
    record = await world.run(parent, run_id="p2")
    assert record["nodes"]["Call"]["output"] == {"v": 2}
    assert world.starter.started == [earlier]


async def test_an_abandoned_run_starts_its_error_workflow(world: World) -> None:
    handler = error_handler(world.catalog)
    poison = unsaved(
        workflow([node("Stuck", "set", values={})], name="Poison"), errorWorkflow="On failure"
    )
    request = StartRequest("poison-1", poison, {}, "webhook")
    world.service.abandon(request, delivery(MemoryJournal(), "poison-1", resume=True), 3)
    assert (await world.results.record("poison-1"))["status"] == "error"
    await world.service.shutdown(grace=5)
    [started] = world.starter.started
    assert started.workflow["id"] == handler["id"]  # found by name
    assert started.input["execution"]["message"] == "run abandoned after 3 deliveries"
    assert started.input["execution"]["node"] == "Stuck"


async def test_a_waiting_parent_gives_its_slot_to_the_child(
    http_client: httpx.AsyncClient,
) -> None:
    results, catalog, starter = Results(), Catalog(), Starter()
    service = ExecutionService(
        engine=Engine(TemplateRenderer(), http_client),
        store=NoStore(),
        sink=results,
        scheduler=RunScheduler(1),  # one run executes at a time
        max_result_bytes=1024 * 1024,
    )
    service.use_subworkflows(Subworkflows(catalog, starter, results, max_depth=5))
    starter.service = service
    quick = {"responseTimeoutSeconds": 5}  # a stuck child would fail the test in 5 s
    leaf = catalog.add(unsaved(workflow([node("Leaf", "set", values={"v": 3})]), **quick))
    middle = catalog.add(unsaved(workflow([call(workflowId=leaf["id"])]), **quick))
    top = unsaved(workflow([call(workflowId=middle["id"])]))
    try:
        service.start(StartRequest("top-1", top, {}, "manual"))
        record = await results.record("top-1")
        assert record["status"] == "success", record["error"]
        assert record["nodes"]["Call"]["output"] == {"v": 3}
    finally:
        await service.shutdown(grace=5)
