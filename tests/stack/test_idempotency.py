"""Idempotency keys through the whole stack (DESIGN.md section 8): a repeat never
starts a second run and gets the same answer, on any edge, during the run and after
it; a reused key with another request is 422; a malformed key is 400."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from hookline_edge.server import EdgeServer
from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings
from tests.stack.support import saved_rows_reach

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], redis_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(make_settings(redis_url=redis_url)) as running:
        yield running


@pytest.fixture
async def second_edge(stack: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    """Another edge on the same services, as behind a load balancer."""
    async with EdgeServer(stack.settings) as edge, httpx.AsyncClient(
        base_url=edge.url, timeout=30
    ) as http:
        yield http


def _workflow(path: str, *, mode: str = "lastNode", wait: float = 0.5, ttl: int = 60,
              body: Any = None, save: bool = True) -> dict[str, Any]:
    return {
        "name": f"idem-{uuid.uuid4().hex[:8]}",
        "settings": {"saveExecutionToDatabase": save, "resultTtlSeconds": ttl},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": mode}},
            {"name": "Pause", "type": "wait", "parameters": {"seconds": wait}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 201, "headers": {"X-Run": "{{ execution.id }}"},
                            "body": body if body is not None
                            else {"got": "{{ json.body.n }}", "run": "{{ execution.id }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Pause"}, {"from": "Pause", "to": "Reply"}],
    }


async def _create(client: httpx.AsyncClient, workflow: dict[str, Any]) -> str:
    resp = await client.post("/api/v1/workflows", json=workflow)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _same_answer(first: httpx.Response, second: httpx.Response) -> None:
    assert second.status_code == first.status_code
    assert second.json() == first.json()
    assert second.headers["x-run"] == first.headers["x-run"]
    assert second.headers["x-execution-id"] == first.headers["x-execution-id"]


async def test_a_repeat_after_the_run_gets_the_same_answer_and_starts_nothing(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    path = unique("idem")
    workflow_id = await _create(client, _workflow(path, wait=0.05))
    headers = {"Idempotency-Key": "order-1"}
    first = await client.post(f"/webhook/{path}", json={"n": 1}, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = await client.post(f"/webhook/{path}", json={"n": 1}, headers=headers)
    _same_answer(first, second)
    assert second.headers["idempotent-replayed"] == "true"
    assert await saved_rows_reach(stack.settings.database_url, workflow_id, 1) == 1


async def test_repeats_at_once_on_two_edges_share_one_run(
    stack: LocalStack,
    client: httpx.AsyncClient,
    second_edge: httpx.AsyncClient,
    unique: Callable[[str], str],
) -> None:
    path = unique("idem")
    workflow_id = await _create(client, _workflow(path, wait=0.5))
    headers = {"Idempotency-Key": "order-2"}
    answers = await asyncio.gather(
        client.post(f"/webhook/{path}", json={"n": 2}, headers=headers),
        second_edge.post(f"/webhook/{path}", json={"n": 2}, headers=headers),
        second_edge.post(f"/webhook/{path}", json={"n": 2}, headers=headers),
    )
    assert [a.status_code for a in answers] == [201, 201, 201]
    for other in answers[1:]:
        _same_answer(answers[0], other)
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 2
    later = await second_edge.post(f"/webhook/{path}", json={"n": 2}, headers=headers)
    _same_answer(answers[0], later)
    assert await saved_rows_reach(stack.settings.database_url, workflow_id, 1) == 1


async def test_the_same_key_with_another_request_is_422_and_starts_nothing(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    path = unique("idem")
    workflow_id = await _create(client, _workflow(path, wait=0.05))
    headers = {"Idempotency-Key": "order-3"}
    first = await client.post(f"/webhook/{path}", json={"n": 3}, headers=headers)
    assert first.status_code == 201
    for changed in (
        client.post(f"/webhook/{path}", json={"n": 4}, headers=headers),
        client.post(f"/webhook/{path}?x=1", json={"n": 3}, headers=headers),
        client.post(f"/webhook/{path}", content=b'{"n": 3}', headers={
            **headers, "Content-Type": "text/plain"}),
    ):
        resp = await changed
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"] == "idempotency_key_reused"
    # Headers other than Content-Type do not make another request.
    same = await client.post(
        f"/webhook/{path}", json={"n": 3}, headers={**headers, "X-Other": "1"}
    )
    _same_answer(first, same)
    assert await saved_rows_reach(stack.settings.database_url, workflow_id, 1) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
async def test_a_malformed_key_is_400(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str], key: str
) -> None:
    path = unique("idem")
    await _create(client, _workflow(path, wait=0.05))
    resp = await client.post(
        f"/webhook/{path}", json={"n": 1}, headers=[(b"Idempotency-Key", key.encode())]
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_idempotency_key"


async def test_on_received_repeats_answer_the_same_execution(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    path = unique("idem")
    await _create(client, _workflow(path, mode="onReceived", wait=0.3, save=False))
    headers = {"Idempotency-Key": "evt-1"}
    first = await client.post(f"/webhook/{path}", json={"n": 1}, headers=headers)
    second = await client.post(f"/webhook/{path}", json={"n": 1}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["x-execution-id"] == first.json()["executionId"]


async def test_a_repeat_after_the_result_expired_gets_the_kept_answer(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    path = unique("idem")
    await _create(client, _workflow(path, wait=0.05, ttl=1, save=False))
    headers = {"Idempotency-Key": "late-1"}
    first = await client.post(f"/webhook/{path}", json={"n": 5}, headers=headers)
    assert first.status_code == 201
    execution_id = first.headers["x-execution-id"]
    async with asyncio.timeout(5):  # the result key expires after its 1 s TTL
        while (await client.get(f"/api/v1/executions/{execution_id}")).status_code != 404:
            await asyncio.sleep(0.1)
    second = await client.post(f"/webhook/{path}", json={"n": 5}, headers=headers)
    _same_answer(first, second)


async def test_a_repeat_after_a_too_large_result_expired_is_409(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    path = unique("idem")
    big = "{{ 'x' * 1200000 }}"
    await _create(client, _workflow(path, wait=0.05, ttl=1, save=False, body={"blob": big}))
    headers = {"Idempotency-Key": "big-1"}
    first = await client.post(f"/webhook/{path}", json={"n": 6}, headers=headers)
    assert first.status_code == 201
    execution_id = first.headers["x-execution-id"]
    async with asyncio.timeout(5):
        while (await client.get(f"/api/v1/executions/{execution_id}")).status_code != 404:
            await asyncio.sleep(0.1)
    second = await client.post(f"/webhook/{path}", json={"n": 6}, headers=headers)
    assert second.status_code == 409, second.text
    assert second.json()["executionId"] == execution_id
    assert second.headers["idempotent-replayed"] == "true"


async def test_manual_runs_honour_the_key(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    workflow_id = await _create(client, _workflow(unique("idem"), wait=0.05))
    headers = {"Idempotency-Key": "manual-1"}
    first = await client.post(
        f"/api/v1/workflows/{workflow_id}/run?wait=true", json={"a": 1}, headers=headers
    )
    assert first.status_code == 200, first.text
    second = await client.post(
        f"/api/v1/workflows/{workflow_id}/run?wait=true", json={"a": 1}, headers=headers
    )
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    reused = await client.post(
        f"/api/v1/workflows/{workflow_id}/run?wait=true", json={"a": 2}, headers=headers
    )
    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"
    assert await saved_rows_reach(stack.settings.database_url, workflow_id, 1) == 1
