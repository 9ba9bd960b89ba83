"""The spec's feature matrix, row by row, through the whole stack.

| Trigger  | Response mode | saveToDatabase: false | Database save | Response source            |
|----------|---------------|-----------------------|---------------|----------------------------|
| Webhook  | onReceived    | supported             | skipped       | standard 200 OK            |
| Webhook  | lastNode      | supported             | skipped       | Redis -> HTTP Response node|
| Webhook  | lastNode      | default (true)        | saved         | HTTP Response node         |
| Schedule | n/a           | supported             | skipped       | n/a                        |
| Manual   | n/a           | supported             | skipped       | n/a                        |
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings
from tests.stack.support import logged, saved_execution_rows, saved_rows_reach

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["in-process", "grpc"])
async def stack(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], redis_url: str
) -> AsyncIterator[LocalStack]:
    """Every row on both wirings of the services: in-process adapters of their ports
    (``hookline dev``) and gRPC streams between them (as ``hookline serve`` runs)."""
    settings = make_settings(redis_url=redis_url)
    async with LocalStack(settings, wiring=request.param) as running:
        yield running


def webhook_workflow(path: str, name: str, *, mode: str, save: bool,
                     extra_nodes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"name": "Hook", "type": "webhook",
         "parameters": {"path": path, "method": "POST", "responseMode": mode}},
        {"name": "Shape", "type": "set",
         "parameters": {"values": {"greeting": "Hello {{ json.body.name }}"}}},
        {"name": "Reply", "type": "httpResponse",
         "parameters": {"statusCode": 201, "headers": {"X-Greeter": "1"},
                        "body": {"message": "{{ json.greeting }}"}}},
    ]
    connections = [{"from": "Hook", "to": "Shape"}, {"from": "Shape", "to": "Reply"}]
    for node in extra_nodes or []:
        connections.append({"from": nodes[-1]["name"], "to": node["name"]})
        nodes.append(node)
    return {"name": name, "settings": {"saveExecutionToDatabase": save},
            "nodes": nodes, "connections": connections}


async def create(client: httpx.AsyncClient, workflow: dict[str, Any]) -> str:
    resp = await client.post("/api/v1/workflows", json=workflow)
    assert resp.status_code == 201, resp.text
    workflow_id: str = resp.json()["id"]
    return workflow_id


async def eventually_fetch(client: httpx.AsyncClient, execution_id: str) -> httpx.Response:
    """The execution record once the run has ended (bounded)."""
    for _ in range(200):
        resp = await client.get(f"/api/v1/executions/{execution_id}")
        if resp.status_code == 200 and resp.json()["status"] != "running":
            return resp
        await asyncio.sleep(0.05)
    raise AssertionError(f"execution {execution_id} did not finish")


async def test_webhook_on_received_with_saving_off_answers_at_once_and_saves_nothing(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str],
    info_logs: pytest.LogCaptureFixture,
) -> None:
    path = unique("fire")
    slow = {"name": "Slow", "type": "wait", "parameters": {"seconds": 1}}
    workflow_id = await create(client, webhook_workflow(
        path, unique("Fire"), mode="onReceived", save=False, extra_nodes=[slow]))

    resp = await client.post(f"/webhook/{path}", json={"name": "Ada"})

    assert resp.status_code == 200
    execution_id = resp.headers["x-execution-id"]
    assert resp.json() == {"executionId": execution_id, "status": "started"}
    # The answer came while the run is still in its one-second wait: nothing is
    # saved and the result is not cached yet.
    pending = await client.get(f"/api/v1/executions/{execution_id}")
    assert pending.status_code == 404
    done = await eventually_fetch(client, execution_id)
    assert done.headers["x-hookline-source"] == "cache"
    assert done.json()["status"] == "success"
    assert saved_execution_rows(stack.settings.database_url, workflow_id) == 0
    assert logged(info_logs, "Skipping database save for execution", execution_id=execution_id)


async def test_webhook_last_node_with_saving_off_answers_from_redis_and_saves_nothing(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str],
    redis_url: str, info_logs: pytest.LogCaptureFixture,
) -> None:
    path = unique("greet")
    workflow_id = await create(client, webhook_workflow(path, unique("G"), mode="lastNode",
                                                        save=False))

    resp = await client.post(f"/webhook/{path}", json={"name": "Ada"})

    assert resp.status_code == 201
    assert resp.headers["x-greeter"] == "1"
    assert resp.json() == {"message": "Hello Ada"}
    execution_id = resp.headers["x-execution-id"]
    assert saved_execution_rows(stack.settings.database_url, workflow_id) == 0
    r = aioredis.Redis.from_url(redis_url)
    try:
        assert await r.exists(f"execution:result:{execution_id}")
        assert 0 < await r.ttl(f"execution:result:{execution_id}") <= 60
    finally:
        await r.aclose()
    assert logged(info_logs, "Skipping database save for execution", execution_id=execution_id)
    assert logged(info_logs, "Cached execution result", execution_id=execution_id)
    assert logged(info_logs, "Retrieved cached execution result", execution_id=execution_id)


async def test_webhook_last_node_with_saving_on_answers_and_saves_the_record(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str],
    info_logs: pytest.LogCaptureFixture,
) -> None:
    path = unique("greet")
    workflow_id = await create(client, webhook_workflow(path, unique("G"), mode="lastNode",
                                                        save=True))

    resp = await client.post(f"/webhook/{path}", json={"name": "Grace"})

    assert resp.status_code == 201
    assert resp.json() == {"message": "Hello Grace"}
    execution_id = resp.headers["x-execution-id"]
    assert await saved_rows_reach(stack.settings.database_url, workflow_id, 1) == 1
    record = await client.get(f"/api/v1/executions/{execution_id}")
    assert record.headers["x-hookline-source"] == "database"
    body = record.json()
    assert body["status"] == "success" and body["mode"] == "webhook"
    assert body["response"] == {"statusCode": 201, "headers": {"X-Greeter": "1"},
                                "body": {"message": "Hello Grace"}}
    assert not logged(info_logs, "Skipping database save for execution",
                      execution_id=execution_id)


async def test_manual_run_with_saving_off_is_delivered_and_saves_nothing(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str],
    info_logs: pytest.LogCaptureFixture,
) -> None:
    workflow = {
        "name": unique("Manual"),
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Start", "type": "manual"},
            {"name": "Double", "type": "set", "parameters": {"values": {"n": "{{ json.n * 2 }}"}}},
        ],
        "connections": [{"from": "Start", "to": "Double"}],
    }
    workflow_id = await create(client, workflow)

    started = await client.post(f"/api/v1/workflows/{workflow_id}/run", json={"n": 21})
    assert started.status_code == 202
    execution_id = started.json()["executionId"]
    waited = await client.post(f"/api/v1/workflows/{workflow_id}/run?wait=true", json={"n": 5})

    assert waited.status_code == 200
    assert waited.json()["status"] == "success"
    assert waited.json()["nodes"]["Double"]["output"]["n"] == 10
    done = await eventually_fetch(client, execution_id)
    assert done.json()["nodes"]["Double"]["output"]["n"] == 42
    assert done.headers["x-hookline-source"] == "cache"
    assert saved_execution_rows(stack.settings.database_url, workflow_id) == 0
    assert logged(info_logs, "Skipping database save for execution", execution_id=execution_id)


async def test_schedule_with_saving_off_runs_and_caches_results_but_saves_nothing(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str], redis_url: str,
) -> None:
    workflow = {
        "name": unique("Tick"),
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Every second", "type": "schedule", "parameters": {"cron": "* * * * * *"}},
            {"name": "Note", "type": "set", "parameters": {"values": {"at": "{{ json.firedAt }}"}}},
        ],
        "connections": [{"from": "Every second", "to": "Note"}],
    }
    workflow_id = await create(client, workflow)
    r = aioredis.Redis.from_url(redis_url)
    try:
        found: list[bytes] = []
        for _ in range(100):  # up to ~5 s for two ticks to land in the result cache
            found = []
            async for key in r.scan_iter(match="execution:result:*", count=1000):
                value = await r.get(key)
                if value and workflow_id.encode() in value:
                    found.append(key)
            if len(found) >= 2:
                break
            await asyncio.sleep(0.05)
        assert len(found) >= 2
    finally:
        await r.aclose()
        await client.patch(f"/api/v1/workflows/{workflow_id}", json={"active": False})
    assert saved_execution_rows(stack.settings.database_url, workflow_id) == 0


async def test_switching_history_off_with_patch_stops_new_rows_but_keeps_delivery(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str],
) -> None:
    path = unique("toggle")
    workflow_id = await create(client, webhook_workflow(path, unique("Toggle"), mode="lastNode",
                                                        save=True))
    first = await client.post(f"/webhook/{path}", json={"name": "one"})
    assert first.status_code == 201
    assert await saved_rows_reach(stack.settings.database_url, workflow_id, 1) == 1

    patched = await client.patch(f"/api/v1/workflows/{workflow_id}",
                                 json={"settings": {"saveExecutionToDatabase": False}})
    assert patched.status_code == 200
    assert patched.json()["settings"] == {
        "saveExecutionToDatabase": False, "resultTtlSeconds": 60, "responseTimeoutSeconds": 30,
        "errorWorkflow": None}
    for name in ("two", "three"):
        resp = await client.post(f"/webhook/{path}", json={"name": name})
        assert resp.status_code == 201
        assert resp.json() == {"message": f"Hello {name}"}

    assert await saved_rows_reach(stack.settings.database_url, workflow_id, 1) == 1
