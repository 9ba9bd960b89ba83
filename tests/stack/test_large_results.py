"""Large results through the whole stack: a 5 MB response body round-trips intact (the
record, several times that, is stored zstd-compressed), and a result over the hard cap
answers a clear error instead of hanging — up front (413) when the request alone would
make it, at the end of the run (500) when its nodes build it."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as aioredis

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings
from tests.stack.test_feature_matrix import create

pytestmark = pytest.mark.timeout(90)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def echo_workflow(path: str, name: str) -> dict[str, object]:
    return {
        "name": name,
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Echo", "type": "httpResponse",
             "parameters": {"headers": {"Content-Type": "application/octet-stream"},
                            "body": "{{ json.body }}"}},
        ],
        "connections": [{"from": "Hook", "to": "Echo"}],
    }


@pytest.fixture
async def small_cap_stack(
    make_settings: Callable[..., Settings], redis_url: str
) -> AsyncIterator[LocalStack]:
    async with LocalStack(make_settings(redis_url=redis_url, max_result_bytes=2_000_000)) as s:
        yield s


async def test_a_five_megabyte_response_body_round_trips_intact(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str], redis_url: str
) -> None:
    path = unique("echo")
    await create(client, echo_workflow(path, unique("Echo")))
    payload = base64.b64encode(os.urandom(3_750_000)).decode()  # 5,000,000 characters

    resp = await client.post(f"/webhook/{path}", content=payload,
                             headers={"Content-Type": "text/plain"})

    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/octet-stream")
    assert len(resp.content) == 5_000_000
    assert resp.text == payload
    r = aioredis.Redis.from_url(redis_url)
    try:
        stored = await r.get(f"execution:result:{resp.headers['x-execution-id']}")
    finally:
        await r.aclose()
    assert isinstance(stored, bytes) and stored.startswith(ZSTD_MAGIC)


async def test_a_body_the_capped_record_cannot_hold_is_refused_up_front(
    small_cap_stack: LocalStack, unique: Callable[[str], str]
) -> None:
    path = unique("huge")
    async with httpx.AsyncClient(base_url=small_cap_stack.edge_url, timeout=30) as client:
        await create(client, echo_workflow(path, unique("Huge")))
        resp = await client.post(f"/webhook/{path}", content="x" * 1_500_000,
                                 headers={"Content-Type": "text/plain"})

    assert resp.status_code == 413
    body = resp.json()
    assert body["error"] == "payload_too_large"
    assert "HOOKLINE_MAX_RESULT_BYTES" in body["message"]


async def test_a_result_its_nodes_build_over_the_cap_answers_a_clear_error(
    small_cap_stack: LocalStack, unique: Callable[[str], str]
) -> None:
    path = unique("huge")
    workflow = {
        "name": unique("Builds"),
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Big", "type": "set",
             "parameters": {"values": {"blob": "{{ 'x' * 1500000 }}"}, "keepOnlySet": True}},
            {"name": "Echo", "type": "httpResponse", "parameters": {"body": "{{ json.blob }}"}},
        ],
        "connections": [{"from": "Hook", "to": "Big"}, {"from": "Big", "to": "Echo"}],
    }
    async with httpx.AsyncClient(base_url=small_cap_stack.edge_url, timeout=30) as client:
        await create(client, workflow)
        resp = await client.post(f"/webhook/{path}", json={})

    assert resp.status_code == 500
    body = resp.json()
    assert body["error"] == "execution_failed"
    assert "too large" in body["message"] or "over the limit" in body["message"]
