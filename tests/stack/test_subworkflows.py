"""executeWorkflow and errorWorkflow through the whole stack (runs on the Redis run
queue, results through the cache service): a child's httpResponse body reaches the
parent's webhook caller with saving off for both; ``wait: false``; a failing child;
recursion past the depth limit; the error workflow runs once, and a failing error
workflow starts nothing more."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from hookline.cache.v1 import cache_service_pb2_grpc

from hookline_execution.clients.child_runs import CacheResultWatcher
from hookline_launcher.stack import LocalStack
from hookline_runtime.ids import derived_id
from hookline_runtime.redis.keys import started_key
from hookline_runtime.settings import Settings
from hookline_runtime.transport.client import ServiceClient
from tests.stack.support import saved_execution_rows, saved_rows_reach

pytestmark = pytest.mark.timeout(60)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
async def results(stack: LocalStack) -> AsyncIterator[CacheResultWatcher]:
    """Waits for any execution's record through the cache service's watch."""
    client = ServiceClient(
        stack.cache_address, cache_service_pb2_grpc.CacheServiceStub
    )
    yield CacheResultWatcher(client)
    await client.close()


async def record_of(results: CacheResultWatcher, execution_id: str) -> dict[str, Any]:
    data = await results.wait(execution_id, timeout_seconds=20, saved=False)
    assert data is not None, f"no result for {execution_id}"
    record: dict[str, Any] = json.loads(data)
    return record


async def create(client: httpx.AsyncClient, workflow: dict[str, Any]) -> dict[str, Any]:
    created = await client.post("/api/v1/workflows", json=workflow)
    assert created.status_code == 201, created.text
    stored: dict[str, Any] = created.json()
    return stored


def hooked(name: str, *nodes: dict[str, Any], save: bool = False) -> dict[str, Any]:
    """A webhook workflow (path = name, lastNode) whose nodes run in a chain."""
    all_nodes = [
        {"name": "Hook", "type": "webhook",
         "parameters": {"path": name, "method": "POST", "responseMode": "lastNode"}},
        *nodes,
    ]
    return {
        "name": name,
        "settings": {"saveExecutionToDatabase": save},
        "nodes": all_nodes,
        "connections": [
            {"from": a["name"], "to": b["name"]} for a, b in itertools.pairwise(all_nodes)
        ],
    }


def failing_child(name: str) -> dict[str, Any]:
    return hooked(name, {"name": "Boom", "type": "stopAndError",
                         "parameters": {"message": "the child broke"}})


async def test_the_childs_response_body_reaches_the_parents_caller_with_saving_off(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    child, parent = json.loads((EXAMPLES / "sub-workflow.json").read_text())
    child["name"] = unique("builder")
    parent["name"] = unique("greeter")
    parent["nodes"][0]["parameters"]["path"] = parent["name"]
    parent["nodes"][1]["parameters"]["workflowName"] = child["name"]
    stored_child = await create(client, child)
    stored_parent = await create(client, parent)

    reply = await client.post(f"/webhook/{parent['name']}", json={"name": "Ada"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"message": "Hello Ada", "builtBy": "subworkflow"}
    db = stack.settings.database_url
    assert saved_execution_rows(db, stored_child["id"]) == 0
    assert saved_execution_rows(db, stored_parent["id"]) == 0


async def test_without_wait_the_caller_gets_the_child_execution_id(
    client: httpx.AsyncClient, results: CacheResultWatcher, unique: Callable[[str], str]
) -> None:
    child = await create(client, hooked(unique("child"), {
        "name": "Shape", "type": "set", "parameters": {"values": {"got": "{{ json.n }}"}}}))
    parent = await create(client, hooked(unique("parent"), {
        "name": "Call", "type": "executeWorkflow",
        "parameters": {"workflowId": child["id"], "wait": False, "input": {"n": 7}}}))

    reply = await client.post(f"/webhook/{parent['name']}", json={})
    assert reply.status_code == 200, reply.text
    assert set(reply.json()) == {"executionId"}
    record = await record_of(results, reply.json()["executionId"])
    assert record["mode"] == "subworkflow" and record["status"] == "success"
    assert record["workflowId"] == child["id"]
    assert record["nodes"]["Shape"]["output"]["got"] == 7


async def test_a_failing_child_fails_the_node_unless_on_error_continues(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    child = await create(client, failing_child(unique("broken")))
    call = {"name": "Call", "type": "executeWorkflow", "parameters": {"workflowId": child["id"]}}
    strict = await create(client, hooked(unique("strict"), call))
    reply = await client.post(f"/webhook/{strict['name']}", json={})
    assert reply.status_code == 500
    body = reply.json()
    assert body["error"] == "execution_failed" and body["node"] == "Call"
    assert "the child broke" in body["message"] and 'at node "Boom"' in body["message"]

    lenient = await create(client, hooked(unique("lenient"), {**call, "onError": "continue"}))
    reply = await client.post(f"/webhook/{lenient['name']}", json={})
    assert reply.status_code == 200, reply.text
    assert reply.json()["error"]["node"] == "Call"
    assert "the child broke" in reply.json()["error"]["message"]


async def test_recursion_past_the_depth_limit_fails_clearly(
    make_settings: Callable[..., Settings], redis_url: str, unique: Callable[[str], str]
) -> None:
    name = unique("loop")
    looping = hooked(name, {"name": "Again", "type": "executeWorkflow",
                            "parameters": {"workflowName": name}})
    async with (
        LocalStack(make_settings(redis_url=redis_url, max_workflow_depth=3)) as stack,
        httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as client,
    ):
        await create(client, looping)
        reply = await client.post(f"/webhook/{name}", json={})
    assert reply.status_code == 500
    message = reply.json()["message"]
    assert reply.json()["node"] == "Again"
    assert "at depth 4, over the limit of 3 (HOOKLINE_MAX_WORKFLOW_DEPTH)" in message


async def test_the_error_workflow_runs_once_and_a_failing_one_starts_nothing_more(
    make_settings: Callable[..., Settings], redis_url: str, unique: Callable[[str], str]
) -> None:
    handler, failing = json.loads((EXAMPLES / "error-workflow.json").read_text())
    handler["name"] = unique("alert")
    failing["name"] = path = unique("stock")
    failing["nodes"][0]["parameters"]["path"] = path
    failing["settings"]["errorWorkflow"] = handler["name"]
    second = hooked(unique("second"), save=True)  # runs if a failed handler starts anything
    broken_handler = failing_child(unique("broken-alert"))
    broken_handler["settings"]["saveExecutionToDatabase"] = True
    async with (
        LocalStack(make_settings(redis_url=redis_url)) as stack,
        httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as client,
    ):
        client_cache = ServiceClient(
            stack.cache_address, cache_service_pb2_grpc.CacheServiceStub
        )
        results = CacheResultWatcher(client_cache)
        stored_handler = await create(client, handler)
        stored_failing = await create(client, failing)
        stored_second = await create(client, second)
        broken_handler["settings"]["errorWorkflow"] = stored_second["id"]
        stored_broken = await create(client, broken_handler)

        accepted = await client.post(f"/webhook/{path}", json={"quantity": 2})
        assert accepted.status_code == 201
        rejected = await client.post(f"/webhook/{path}", json={"quantity": 0})
        assert rejected.status_code == 500
        failed_id = rejected.headers["X-Execution-Id"]
        alert = await record_of(results, derived_id(failed_id, "errorWorkflow"))
        assert alert["mode"] == "error" and alert["workflowId"] == stored_handler["id"]
        assert alert["nodes"]["Alert"]["output"] == {
            "alert": f"{path} failed at Reject: quantity must be a positive number",
            "failedExecution": failed_id,
        }
        assert alert["nodes"]["Failed"]["output"] == {
            "execution": {"id": failed_id, "workflowId": stored_failing["id"],
                          "mode": "webhook", "node": "Reject",
                          "message": "quantity must be a positive number"},
            "workflow": {"id": stored_failing["id"], "name": path},
        }

        patched = await client.patch(f"/api/v1/workflows/{stored_failing['id']}",
                                     json={"settings": {"errorWorkflow": stored_broken["id"]}})
        assert patched.status_code == 200, patched.text
        again = await client.post(f"/webhook/{path}", json={"quantity": -1})
        assert again.status_code == 500
        broken_run = derived_id(again.headers["X-Execution-Id"], "errorWorkflow")
        assert (await record_of(results, broken_run))["status"] == "error"
        await client_cache.close()
    # The stack has stopped: every run has ended, error workflows' starts included.
    db = stack.settings.database_url
    assert await saved_rows_reach(db, stored_handler["id"], 1) == 1
    assert await saved_rows_reach(db, stored_broken["id"], 1) == 1
    assert saved_execution_rows(db, stored_second["id"]) == 0
    redis = aioredis.Redis.from_url(redis_url)
    try:
        assert await redis.exists(started_key(derived_id(broken_run, "errorWorkflow"))) == 0
    finally:
        await redis.aclose()


async def test_without_redis_the_child_runs_in_the_same_process(
    make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    child_name = unique("child")
    child = hooked(child_name, {"name": "Reply", "type": "httpResponse",
                                "parameters": {"body": {"echo": "{{ json.word }}"}}})
    parent = hooked(unique("parent"), {
        "name": "Call", "type": "executeWorkflow",
        "parameters": {"workflowName": child_name, "input": {"word": "{{ json.body.word }}"}}})
    async with (
        LocalStack(make_settings()) as stack,
        httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as client,
    ):
        await create(client, child)
        await create(client, parent)
        reply = await client.post(f"/webhook/{parent['name']}", json={"word": "solo"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"echo": "solo"}
