"""Under steady webhook traffic, Redis stops and comes back: no request hangs past its
deadline, none fails, none is lost; the outage is logged once; delivery goes back
through Redis afterwards without restarting anything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings
from tests.redis_server import ThrowawayRedis
from tests.stack.support import logged
from tests.stack.test_feature_matrix import create, webhook_workflow

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    # Keeping what it was given, as a durable deployment's Redis does: a run queued the
    # moment before it stopped is read when it returns (a Redis that loses data loses
    # those runs, as the README says).
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def outage_stack(
    make_settings: Callable[..., Settings], throwaway_redis: ThrowawayRedis
) -> AsyncIterator[LocalStack]:
    async with LocalStack(make_settings(redis_url=throwaway_redis.url)) as running:
        yield running


async def test_webhooks_survive_a_redis_outage_without_hanging_failing_or_losing_requests(
    outage_stack: LocalStack, throwaway_redis: ThrowawayRedis, unique: Callable[[str], str],
    info_logs: pytest.LogCaptureFixture,
) -> None:
    path = unique("steady")
    workflow = webhook_workflow(path, unique("Steady"), mode="lastNode", save=False)
    workflow["settings"]["responseTimeoutSeconds"] = 5
    outcomes: list[tuple[int, str]] = []
    completed = 0
    progress = asyncio.Condition()

    async def caller(client: httpx.AsyncClient, worker: int, stop: asyncio.Event) -> None:
        nonlocal completed
        n = 0
        while not stop.is_set():
            n += 1
            name = f"w{worker}-{n}"
            try:
                resp = await client.post(f"/webhook/{path}", json={"name": name}, timeout=8)
                ok = resp.status_code == 201 and resp.json() == {"message": f"Hello {name}"}
                outcomes.append((resp.status_code, "ok" if ok else resp.text))
            except httpx.TimeoutException:
                outcomes.append((0, "hung"))
            async with progress:
                completed += 1
                progress.notify_all()

    async def after(count: int) -> None:
        async with progress:
            await progress.wait_for(lambda: completed >= count)

    async with httpx.AsyncClient(base_url=outage_stack.edge_url) as client:
        await create(client, workflow)
        stop = asyncio.Event()
        workers = [asyncio.create_task(caller(client, i, stop)) for i in range(4)]
        await after(40)
        throwaway_redis.stop()  # Redis goes away under traffic
        await after(completed + 80)
        throwaway_redis.start()  # ... and comes back on the same address
        await after(completed + 80)
        stop.set()
        await asyncio.gather(*workers)

        failures = [o for o in outcomes if o[1] != "ok"]
        assert not failures, failures[:5]
        assert len(outcomes) >= 200

        # Delivery goes through Redis again, with no restart.
        r = aioredis.Redis.from_url(throwaway_redis.url)
        try:
            for _ in range(100):
                resp = await client.post(f"/webhook/{path}", json={"name": "after"})
                assert resp.status_code == 201
                if await r.exists(f"execution:result:{resp.headers['x-execution-id']}"):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("results never went back to Redis")
        finally:
            await r.aclose()

    errors = [rec for rec in info_logs.records if isinstance(rec.msg, dict)
              and rec.msg.get("event") == "Redis connection error in ExecutionResultCache"]
    assert len(errors) == 1, [rec.msg for rec in errors]
    assert logged(info_logs, "ExecutionResultCache connected to Redis")
