"""Node settings in the engine: retry (tries, waits), onError (stop, continue,
errorOutput) and forEach (order, item/index scope, concurrency cap)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from hookline_execution.domain import Engine, TemplateRenderer
from hookline_runtime.workflow.node_settings import RetrySettings

from .conftest import RunWorkflow
from .local_http import LocalHttpServer, Reply, Request
from .workflows import link, node, workflow


@pytest.fixture
def waits() -> list[float]:
    """Every wait the engine asked for between tries, in order."""
    return []


@pytest.fixture
def engine(http_client: httpx.AsyncClient, waits: list[float]) -> Engine:
    """The engine with a clock that notes each retry wait instead of waiting."""

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return Engine(TemplateRenderer(), http_client, max_response_bytes=64 * 1024, sleep=sleep)


def with_settings(data: dict[str, Any], **settings: Any) -> dict[str, Any]:
    data.update(settings)
    return data


# ------------------------------------------------------------------------- retry
@pytest.mark.parametrize(
    ("retry", "schedule"),
    [
        ({}, []),
        ({"maxTries": 3, "waitSeconds": 0.5}, [0.5, 0.5]),
        ({"maxTries": 4, "waitSeconds": 1, "backoff": "exponential"}, [1, 2, 4]),
        ({"maxTries": 5, "waitSeconds": 0.25, "backoff": "exponential"}, [0.25, 0.5, 1, 2]),
        ({"maxTries": 2, "waitSeconds": 0}, [0]),
    ],
)
def test_retry_schedule_waits_before_each_next_try(
    retry: dict[str, Any], schedule: list[float]
) -> None:
    assert RetrySettings.model_validate(retry).schedule() == schedule


async def test_retries_stop_at_max_tries_and_the_record_lists_every_try(
    run_workflow: RunWorkflow, waits: list[float]
) -> None:
    failing = with_settings(
        node("Flaky", "stopAndError", message="down"),
        retry={"maxTries": 3, "waitSeconds": 0.2, "backoff": "exponential"},
    )
    record = await run_workflow(workflow([failing, node("After", "set", values={})]))
    flaky = record["nodes"]["Flaky"]
    assert [t["status"] for t in flaky["tries"]] == ["error", "error", "error"]
    assert {t["error"] for t in flaky["tries"]} == {"down"}
    assert all({"startedAt", "durationMs"} <= set(t) for t in flaky["tries"])
    assert waits == [0.2, 0.4]
    assert flaky["status"] == "error"
    assert record["error"] == {"node": "Flaky", "message": "down"}
    assert "After" not in record["nodes"]


async def test_a_flaky_node_succeeds_on_a_later_try(
    run_workflow: RunWorkflow, local_http: LocalHttpServer, waits: list[float]
) -> None:
    calls: list[Request] = []

    def flaky(request: Request) -> Reply:
        calls.append(request)
        if len(calls) < 3:
            raise ConnectionResetError  # the server hangs up without answering
        return Reply(200, {"Content-Type": "application/json"}, b'{"ok":true}')

    local_http.routes["/flaky"] = flaky
    call = with_settings(
        node("Call", "httpRequest", url=local_http.url("/flaky")),
        retry={"maxTries": 5, "waitSeconds": 0},
    )
    record = await run_workflow(workflow([call]))
    tries = record["nodes"]["Call"]["tries"]
    assert [t["status"] for t in tries] == ["error", "error", "success"]
    assert tries[-1]["error"] is None
    assert len(calls) == 3
    assert waits == [0, 0]
    assert record["nodes"]["Call"]["output"]["body"] == {"ok": True}
    assert record["status"] == "success"


async def test_a_node_without_retry_has_no_tries_in_its_record(run_workflow: RunWorkflow) -> None:
    record = await run_workflow(workflow([node("Shape", "set", values={"a": 1})]))
    assert "tries" not in record["nodes"]["Shape"]


# ----------------------------------------------------------------------- onError
async def test_on_error_continue_outputs_the_error_and_the_run_goes_on(
    run_workflow: RunWorkflow,
) -> None:
    failing = with_settings(node("Fail", "stopAndError", message="boom"), onError="continue")
    after = node("After", "set", values={"seen": "{{ json.error.message }}"})
    record = await run_workflow(workflow([failing, after]))
    assert record["status"] == "success"
    assert record["error"] is None
    fail = record["nodes"]["Fail"]
    assert fail["output"] == {"error": {"message": "boom", "node": "Fail"}}
    assert fail["error"] == "boom"
    assert record["nodes"]["After"]["output"]["seen"] == "boom"


@pytest.mark.parametrize("fails", [True, False])
async def test_on_error_error_output_routes_along_error_connections(
    run_workflow: RunWorkflow, fails: bool
) -> None:
    step = with_settings(
        node("Step", "set", values={"v": "{{ 1 / json.d }}"}), onError="errorOutput"
    )
    data = workflow(
        [step, node("Handled", "set", values={"handled": True}), node("Normal", "set", values={})],
        [link("Start", "Step"), link("Step", "Handled", "error"), link("Step", "Normal")],
    )
    record = await run_workflow(data, {"d": 0 if fails else 2})
    nodes = record["nodes"]
    assert record["status"] == "success"
    if fails:
        assert nodes["Normal"]["status"] == "skipped"
        assert nodes["Handled"]["status"] == "success"
        error = nodes["Handled"]["output"]["error"]
        assert error["node"] == "Step"
        assert 'node "Step" parameter values.v' in error["message"]
    else:
        assert nodes["Normal"]["output"] == {"d": 2, "v": 0.5}
        assert nodes["Handled"]["status"] == "skipped"


async def test_retry_then_on_error_continue_keeps_the_tries(
    run_workflow: RunWorkflow, waits: list[float]
) -> None:
    failing = with_settings(
        node("Fail", "stopAndError", message="nope"),
        retry={"maxTries": 2, "waitSeconds": 0},
        onError="continue",
    )
    record = await run_workflow(workflow([failing, node("After", "set", values={})]))
    assert len(record["nodes"]["Fail"]["tries"]) == 2
    assert record["nodes"]["After"]["status"] == "success"
    assert record["status"] == "success"


# ----------------------------------------------------------------------- forEach
async def test_for_each_runs_per_element_with_item_and_index_in_input_order(
    run_workflow: RunWorkflow,
) -> None:
    each = with_settings(
        node("Each", "set", values={"v": "{{ item * 10 }}", "i": "{{ index }}"}, keepOnlySet=True),
        forEach="{{ json.list }}",
    )
    record = await run_workflow(
        workflow([each, node("Count", "set", values={"n": "{{ json | length }}"})]),
        {"list": [3, 1, 2]},
    )
    assert record["nodes"]["Each"]["output"] == [
        {"v": 30, "i": 0},
        {"v": 10, "i": 1},
        {"v": 20, "i": 2},
    ]
    assert record["nodes"]["Count"]["output"]["n"] == 3


async def test_for_each_over_an_empty_list_outputs_an_empty_list(
    run_workflow: RunWorkflow,
) -> None:
    each = with_settings(node("Each", "set", values={}), forEach="{{ json.list }}")
    record = await run_workflow(workflow([each, node("After", "set", values={})]), {"list": []})
    assert record["nodes"]["Each"]["output"] == []
    assert record["nodes"]["After"]["status"] == "success"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": 1}, 'node "Each" forEach: must give a list, got dict'),
        ([1, 0], 'node "Each" item 1 parameter values.v'),
    ],
)
async def test_for_each_failures_name_the_node_and_the_element(
    run_workflow: RunWorkflow, value: Any, message: str
) -> None:
    each = with_settings(
        node("Each", "set", values={"v": "{{ 1 / item }}"}), forEach="{{ json.list }}"
    )
    record = await run_workflow(workflow([each]), {"list": value})
    assert record["status"] == "error"
    assert record["error"]["node"] == "Each"
    assert record["error"]["message"].startswith(message)


async def test_for_each_keeps_input_order_when_later_elements_finish_first(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    gates = {i: asyncio.Event() for i in range(3)}

    def item(request: Request) -> Reply:
        i = int(request.target.split("i=")[1])
        return Reply(200, {"Content-Type": "application/json"}, json.dumps({"i": i}).encode(),
                     hold=gates[i])

    local_http.routes["/item"] = item
    each = with_settings(
        node("Each", "httpRequest", url=local_http.url("/item?i={{ index }}")),
        forEach="{{ json.list }}",
        forEachConcurrency=3,
    )
    run = asyncio.create_task(run_workflow(workflow([each]), {"list": ["a", "b", "c"]}))
    await local_http.wait_for_count(3)
    for i in (2, 1, 0):  # the last element answers first
        gates[i].set()
    record = await asyncio.wait_for(run, 5)
    assert [out["body"]["i"] for out in record["nodes"]["Each"]["output"]] == [0, 1, 2]


async def test_for_each_concurrency_caps_the_calls_in_flight(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    total, cap = 6, 2
    gates: list[asyncio.Event] = []
    in_flight: list[int] = []

    def item(request: Request) -> Reply:
        gate = asyncio.Event()
        gates.append(gate)
        released = sum(g.is_set() for g in gates)
        in_flight.append(len(gates) - released)
        return Reply(200, body=b"ok", hold=gate)

    local_http.routes["/item"] = item
    each = with_settings(
        node("Each", "httpRequest", url=local_http.url("/item")),
        forEach="{{ json.list }}",
        forEachConcurrency=cap,
    )
    run = asyncio.create_task(run_workflow(workflow([each]), {"list": list(range(total))}))
    for k in range(total):
        # Wait until the cap is reached (or every element has started), then let one go.
        await local_http.wait_for_count(min(k + cap, total))
        gates[k].set()
    record = await asyncio.wait_for(run, 5)
    assert len(record["nodes"]["Each"]["output"]) == total
    assert max(in_flight) == cap
    assert len(local_http.requests) == total
