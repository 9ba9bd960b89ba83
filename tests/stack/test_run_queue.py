"""Runs travel through the run queue when Redis is configured (DESIGN.md section 8):
every webhook run is an entry of the stack's stream, acknowledged and deleted once its
record is handed over; /readyz shows the queue; without Redis, start-up says runs
are not durable."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import redis.asyncio as aioredis

from hookline_launcher.stack import LocalStack
from hookline_runtime.redis.keys import RUN_GROUP, journal_key
from hookline_runtime.settings import Settings
from tests.stack.support import logged

pytestmark = pytest.mark.timeout(60)


def _greeter(path: str) -> dict[str, object]:
    return {
        "name": path,
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 201, "body": {"hi": "{{ json.body.name }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Reply"}],
    }


async def test_webhook_runs_go_through_the_stream_and_leave_nothing_behind(
    stack: LocalStack, client: httpx.AsyncClient, redis_url: str, unique: Callable[[str], str]
) -> None:
    path = unique("queued")
    assert (await client.post("/api/v1/workflows", json=_greeter(path))).status_code == 201
    executions = []
    for n in range(5):
        resp = await client.post(f"/webhook/{path}", json={"name": f"n{n}"})
        assert resp.status_code == 201
        assert resp.json() == {"hi": f"n{n}"}
        executions.append(resp.headers["x-execution-id"])
    stream = stack.settings.run_stream
    redis = aioredis.Redis.from_url(redis_url)
    try:
        groups = await redis.xinfo_groups(stream)
        group = next(g for g in groups if g["name"] == RUN_GROUP.encode())
        assert group["entries-read"] >= 5  # every run was an entry of the stream
        assert group["pending"] == 0
        assert await redis.xlen(stream) == 0  # acknowledged entries are deleted
        assert await redis.exists(*(journal_key(e) for e in executions)) == 0
    finally:
        await redis.aclose()

    ready = (await client.get("/readyz")).json()
    assert ready["checks"]["queue"] == "ok"


async def test_without_redis_start_up_says_runs_are_not_durable(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with LocalStack(make_settings()) as stack, httpx.AsyncClient(
        base_url=stack.edge_url
    ) as client:
        ready = (await client.get("/readyz")).json()
    assert ready["checks"]["queue"] == "not_configured"
    assert any(
        isinstance(r.msg, dict) and "not durable" in str(r.msg.get("event"))
        for r in caplog.records
    )
    assert not logged(caplog, "Run queue unavailable: retrying")
