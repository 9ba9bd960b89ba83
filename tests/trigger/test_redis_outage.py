"""A Redis outage: webhooks and workflow changes keep working from the database, no
schedule tick fires twice (claims fail closed), and the change subscription and the
scheduler come back with Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_trigger import TriggerServer
from tests.redis_server import ThrowawayRedis

from .builders import call, schedule_workflow, webhook_workflow
from .conftest import FakeExecution, StartedRun, StartTrigger, TriggerStub, create


@pytest.fixture
async def private_redis() -> AsyncIterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _ticks(server: TriggerServer, outcome: str) -> float:
    value = server.metrics.registry.get_sample_value(
        "hookline_schedule_ticks_total", {"outcome": outcome}
    )
    return value or 0.0


async def test_redis_outage_degrades_gracefully_and_recovers(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    fake_execution: FakeExecution,
    private_redis: ThrowawayRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    server = await start_trigger(redis_url=private_redis.url)
    stub = connect(server)
    feed = server.change_feed
    assert feed is not None and feed.subscribed.is_set()
    schedule = await create(stub, schedule_workflow("* * * * * *"))

    def fired(count: int) -> Callable[[list[StartedRun]], bool]:
        return lambda runs: sum(r.workflow_id == schedule["id"] for r in runs) >= count

    await fake_execution.service.wait_until(fired(1))

    private_redis.stop()
    hook = await create(stub, webhook_workflow())
    started = await stub.HandleWebhook(call(hook["nodes"][0]["parameters"]["path"]))
    assert started.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    async with asyncio.timeout(10):
        while _ticks(server, "failed") < 1:  # a tick came due while Redis was down
            await asyncio.sleep(0.1)
    during = {r.trigger_output["firedAt"] for r in fake_execution.service.runs_of(schedule["id"])}

    private_redis.start()
    async with asyncio.timeout(15):
        await feed.subscribed.wait()
    await fake_execution.service.wait_until(fired(len(during) + 1), timeout=10)
    fired_at = [r.trigger_output["firedAt"] for r in fake_execution.service.runs_of(schedule["id"])]
    assert len(fired_at) == len(set(fired_at))
    events = [r.msg.get("event") for r in caplog.records if isinstance(r.msg, dict)]
    assert _ticks(server, "failed") >= 1
    assert sum(str(e).startswith("Could not claim schedule ticks") for e in events) == 1
    assert events.count("Schedule tick claims work again") == 1
