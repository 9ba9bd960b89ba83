"""The cron scheduler: with two replicas each tick fires exactly once (Redis claims,
or schedule_ticks rows without Redis); changes take effect without restart; ticks
missed while every replica was down are logged and skipped, not replayed."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
import redis.asyncio as aioredis
from hookline.execution.v1 import execution_service_pb2 as exec_pb
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_runtime.clock import from_iso, utcnow
from hookline_trigger import TriggerOptions, TriggerServer
from hookline_trigger.domain.cron import CronTicks

from .builders import schedule_workflow
from .conftest import FakeExecution, StartedRun, StartTrigger, TriggerStub, create

# Without Redis a replica learns of another's change by its periodic refresh.
FAST_REFRESH = TriggerOptions(refresh_seconds=0.2)


@pytest.fixture(params=["redis", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, fresh_sqlite: Callable[[str], str]) -> dict[str, Any]:
    """Settings shared by the replicas: where ticks are claimed."""
    if request.param == "redis":
        return {
            "database_url": fresh_sqlite("shared"),
            "redis_url": request.getfixturevalue("redis_url"),
        }
    if request.param == "sqlite":
        return {"database_url": fresh_sqlite("shared")}
    return {"database_url": request.getfixturevalue("postgres_url")}


def _fired(runs: list[StartedRun]) -> list[datetime]:
    return [from_iso(r.trigger_output["firedAt"]) for r in runs]


def _distinct_ticks(workflow_id: str, at_least: int) -> Callable[[list[StartedRun]], bool]:
    def check(runs: list[StartedRun]) -> bool:
        return len({r.trigger_output["firedAt"] for r in runs if r.workflow_id == workflow_id}) >= (
            at_least
        )

    return check


def _assert_each_tick_once(runs: list[StartedRun]) -> None:
    counts = Counter(r.trigger_output["firedAt"] for r in runs)
    assert set(counts.values()) == {1}, counts
    ticks = sorted(_fired(runs))
    gaps = {(later - earlier).total_seconds() for earlier, later in pairwise(ticks)}
    assert gaps == {1.0}, ticks


async def test_two_replicas_fire_every_tick_exactly_once_until_deactivated(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    fake_execution: FakeExecution,
    backend: dict[str, Any],
) -> None:
    server_a = await start_trigger(**backend, options=FAST_REFRESH)
    server_b = await start_trigger(**backend, options=FAST_REFRESH)
    stub = connect(server_a)
    stored = await create(stub, schedule_workflow("* * * * * *"))
    workflow_id = stored["id"]
    try:
        async with asyncio.timeout(5):
            await server_b.index.wait_until(lambda s: workflow_id in s.schedules)
        assert workflow_id in server_a.scheduler.scheduled
        assert workflow_id in server_b.scheduler.scheduled

        await fake_execution.service.wait_until(_distinct_ticks(workflow_id, 4), timeout=10)
        runs = fake_execution.service.runs_of(workflow_id)
        _assert_each_tick_once(runs)
        assert {r.mode for r in runs} == {exec_pb.EXECUTION_MODE_SCHEDULE}
        assert runs[0].workflow == stored
        assert len({r.execution_id for r in runs}) == len(runs)

        await stub.PatchWorkflow(
            pb.PatchWorkflowRequest(id=workflow_id, patch_json=b'{"active": false}')
        )
        async with asyncio.timeout(5):
            await server_b.index.wait_until(lambda s: workflow_id not in s.schedules)
        assert workflow_id not in server_a.scheduler.scheduled
        stopped_at = utcnow()

        def fired_after_stop(runs: list[StartedRun]) -> bool:
            return any(
                r.workflow_id == workflow_id and from_iso(r.trigger_output["firedAt"]) > stopped_at
                for r in runs
            )

        with pytest.raises(TimeoutError):
            await fake_execution.service.wait_until(fired_after_stop, timeout=1.5)
        runs = fake_execution.service.runs_of(workflow_id)
        _assert_each_tick_once(runs)

        # Both replicas went for the ticks; each tick was won by one of them.
        def ticks(server: TriggerServer, outcome: str) -> float:
            value = server.metrics.registry.get_sample_value(
                "hookline_schedule_ticks_total", {"outcome": outcome}
            )
            return value or 0.0

        assert ticks(server_a, "fired") + ticks(server_b, "fired") == len(runs)
        contested = ticks(server_a, "claimed_elsewhere") + ticks(server_b, "claimed_elsewhere")
        assert contested >= len(runs) // 2
    finally:
        await stub.DeleteWorkflow(pb.DeleteWorkflowRequest(id=workflow_id))


async def test_redis_claim_keys_follow_the_contract(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    fake_execution: FakeExecution,
    redis_url: str,
) -> None:
    server = await start_trigger(redis_url=redis_url)
    stored = await create(connect(server), schedule_workflow("* * * * * *"))
    workflow_id = stored["id"]
    await fake_execution.service.wait_until(_distinct_ticks(workflow_id, 1))
    tick = _fired(fake_execution.service.runs_of(workflow_id))[0]
    epoch = int(tick.timestamp())
    client = aioredis.Redis.from_url(redis_url)
    try:
        claim = f"hookline:schedule:{workflow_id}:{epoch}"
        assert await client.get(claim)
        assert 0 < await client.ttl(claim) <= 120
        last = await client.get(f"hookline:schedule:last:{workflow_id}")
        assert last is not None and int(last) >= epoch
    finally:
        await client.aclose()


async def test_activation_and_cron_changes_take_effect_without_restart(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    fake_execution: FakeExecution,
) -> None:
    server = await start_trigger()
    stub = connect(server)
    stored = await create(stub, schedule_workflow("0 0 1 1 *", active=False))
    workflow_id = stored["id"]
    assert workflow_id not in server.scheduler.scheduled

    await stub.PatchWorkflow(pb.PatchWorkflowRequest(id=workflow_id, patch_json=b'{"active":true}'))
    assert workflow_id in server.scheduler.scheduled
    assert fake_execution.service.runs == []  # once a year: nothing yet

    every_second = schedule_workflow("* * * * * *")
    every_second["name"] = stored["name"]
    await stub.ReplaceWorkflow(
        pb.ReplaceWorkflowRequest(id=workflow_id, workflow_json=json.dumps(every_second).encode())
    )
    await fake_execution.service.wait_until(_distinct_ticks(workflow_id, 1))

    await stub.DeleteWorkflow(pb.DeleteWorkflowRequest(id=workflow_id))
    assert workflow_id not in server.scheduler.scheduled


def _events(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for record in caplog.records:
        if isinstance(record.msg, dict) and record.msg.get("event") == event:
            found.append(record.msg)
    return found


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "database"])
async def test_ticks_missed_while_every_replica_was_down_are_logged_not_replayed(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    fake_execution: FakeExecution,
    caplog: pytest.LogCaptureFixture,
    fresh_sqlite: Callable[[str], str],
    request: pytest.FixtureRequest,
    with_redis: bool,
) -> None:
    shared: dict[str, Any] = {"database_url": fresh_sqlite("shared")}
    if with_redis:
        shared["redis_url"] = request.getfixturevalue("redis_url")
    before = await start_trigger(**shared)
    stored = await create(connect(before), schedule_workflow("* * * * * *"))
    workflow_id = stored["id"]
    await fake_execution.service.wait_until(_distinct_ticks(workflow_id, 1))
    await before.__aexit__(None, None, None)
    last_fired = max(_fired(fake_execution.service.runs_of(workflow_id)))

    # The next replica comes up "a minute later": its clock runs 60 s ahead.
    outage = timedelta(seconds=60)
    caplog.set_level(logging.INFO)
    await start_trigger(**shared, clock=lambda: utcnow() + outage)

    def fired_after_outage(runs: list[StartedRun]) -> bool:
        return any(
            r.workflow_id == workflow_id
            and from_iso(r.trigger_output["firedAt"]) > last_fired + outage - timedelta(seconds=5)
            for r in runs
        )

    await fake_execution.service.wait_until(fired_after_outage)
    (skipped,) = _events(caplog, "Skipped missed schedule ticks")
    assert skipped["workflow_id"] == workflow_id
    assert 55 <= skipped["count"] <= 61
    replayed = [
        t
        for t in _fired(fake_execution.service.runs_of(workflow_id))
        if last_fired < t < last_fired + outage - timedelta(seconds=5)
    ]
    assert replayed == []


async def test_a_tick_is_skipped_and_logged_while_the_run_queue_is_full(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    # No worker reads this queue: the first tick's run waits in it, and it is full.
    stream = f"hookline:runs:test:{uuid.uuid4().hex}"
    server = await start_trigger(
        redis_url=redis_url, run_stream=stream, max_queued_runs=1, drain_queue=False
    )
    await create(connect(server), schedule_workflow("* * * * * *"))
    async with asyncio.timeout(10):
        while not server.metrics.registry.get_sample_value(
            "hookline_schedule_ticks_total", {"outcome": "skipped"}
        ):
            await asyncio.sleep(0.05)
    events = [r.msg.get("event") for r in caplog.records if isinstance(r.msg, dict)]
    assert "Skipped schedule tick: the run queue is full" in events
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.xlen(stream) == 1
    finally:
        await client.delete(stream)
        await client.aclose()


def test_cron_ticks_follow_the_time_zone_and_seconds_field() -> None:
    winter = datetime.fromisoformat("2026-01-10T00:00:00+00:00")
    assert CronTicks("30 2 * * *", "Europe/Berlin").next_after(winter) == (
        datetime.fromisoformat("2026-01-10T01:30:00+00:00")
    )
    summer = datetime.fromisoformat("2026-07-10T00:00:00+00:00")
    assert CronTicks("30 2 * * *", "Europe/Berlin").next_after(summer) == (
        datetime.fromisoformat("2026-07-10T00:30:00+00:00")
    )
    ticks = CronTicks("*/15 * * * * *")
    assert ticks.next_after(winter) == winter + timedelta(seconds=15)
    assert ticks.count_between(winter, winter + timedelta(minutes=1), cap=100) == 4
    assert ticks.count_between(winter, winter + timedelta(hours=1), cap=10) == 10
