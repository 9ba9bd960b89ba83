"""Redis goes away and comes back (a throwaway redis-server of this test's own):
no call waits past its deadline, local waiters still get results, saved records are
read through the execution service, the outage is logged once, and everything works
again without a restart."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2
from hookline.cache.v1 import cache_service_pb2 as pb
from hookline.execution.v1 import execution_service_pb2, execution_service_pb2_grpc

from .conftest import CacheHandle, LogEvents, StartCache, ThrowawayRedis, next_event

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
OUTAGE = "Redis connection error in ExecutionResultCache"
CONNECTED = "ExecutionResultCache connected to Redis"


def new_execution_id() -> str:
    return f"outage-{uuid.uuid4()}"


def record(execution_id: str) -> bytes:
    return json.dumps({"id": execution_id, "status": "success"}).encode()


async def open_watch(
    cache: CacheHandle, execution_id: str, timeout_ms: int = 5000, **fields: bool
) -> grpc.aio.UnaryStreamCall[pb.WatchResultRequest, pb.WatchResultResponse]:
    call = cache.stub.WatchResult(
        pb.WatchResultRequest(execution_id=execution_id, timeout_ms=timeout_ms, **fields),
        timeout=timeout_ms / 1000 + 5,
    )
    assert (await next_event(call)).event == pb.WATCH_EVENT_SUBSCRIBED
    return call


async def last_event(
    call: grpc.aio.UnaryStreamCall[pb.WatchResultRequest, pb.WatchResultResponse],
) -> pb.WatchResultResponse:
    event = await call.read()
    assert await call.read() is grpc.aio.EOF
    assert isinstance(event, pb.WatchResultResponse)
    return event


async def store(cache: CacheHandle, execution_id: str, data: bytes) -> pb.StoreResultResponse:
    response: pb.StoreResultResponse = await cache.stub.StoreResult(
        pb.StoreResultRequest(execution_id=execution_id, record_json=data, ttl_seconds=60),
        timeout=3,
    )
    return response


class FakeExecutionService(execution_service_pb2_grpc.ExecutionServiceServicer):
    """GetExecution answers from ``saved`` (NOT_FOUND otherwise) and counts calls;
    nothing else is implemented."""

    StartExecution = execution_service_pb2_grpc.ExecutionServiceServicer.StartExecution
    ListExecutions = execution_service_pb2_grpc.ExecutionServiceServicer.ListExecutions

    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}
        self.calls = 0
        self.asked = asyncio.Event()  # set on every call

    async def GetExecution(
        self,
        request: execution_service_pb2.GetExecutionRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> execution_service_pb2.GetExecutionResponse:
        self.calls += 1
        self.asked.set()
        if request.execution_id not in self.saved:
            await context.abort(grpc.StatusCode.NOT_FOUND, "not saved")
        return execution_service_pb2.GetExecutionResponse(
            record_json=self.saved[request.execution_id]
        )


@pytest.fixture
async def fake_execution() -> AsyncIterator[tuple[FakeExecutionService, str]]:
    server = grpc.aio.server()
    servicer = FakeExecutionService()
    execution_service_pb2_grpc.add_ExecutionServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


async def test_during_an_outage_local_waiters_get_results_and_nothing_waits_past_its_deadline(
    start_cache: StartCache, throwaway_redis: ThrowawayRedis, log_events: LogEvents
) -> None:
    await throwaway_redis.start()
    cache = await start_cache(redis_url=throwaway_redis.url)
    await throwaway_redis.stop()
    await cache.wait_redis_health(NOT_SERVING)

    waiting_id, stored_first_id, missing_id = (new_execution_id() for _ in range(3))
    watch = await open_watch(cache, waiting_id)
    started = time.monotonic()
    reply = await store(cache, waiting_id, record(waiting_id))
    assert time.monotonic() - started < 0.5
    assert reply.stored_bytes == len(record(waiting_id))
    assert (await last_event(watch)).record_json == record(waiting_id)

    await store(cache, stored_first_id, record(stored_first_id))
    late = await open_watch(cache, stored_first_id)
    assert (await last_event(late)).record_json == record(stored_first_id)
    got = await cache.stub.GetResult(pb.GetResultRequest(execution_id=stored_first_id), timeout=2)
    assert got.record_json == record(stored_first_id)

    started = time.monotonic()
    nothing = await open_watch(cache, missing_id, timeout_ms=300)
    assert (await last_event(nothing)).event == pb.WATCH_EVENT_TIMED_OUT
    assert time.monotonic() - started < 1.0
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await cache.stub.GetResult(pb.GetResultRequest(execution_id=missing_id), timeout=2)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND

    outages = log_events(OUTAGE)
    assert len(outages) == 1, outages
    assert outages[0]["level"] == "error" and outages[0]["error"]


async def test_after_redis_returns_everything_works_again_without_a_restart(
    start_cache: StartCache, throwaway_redis: ThrowawayRedis, log_events: LogEvents
) -> None:
    await throwaway_redis.start()
    waiting_side = await start_cache(redis_url=throwaway_redis.url)
    storing_side = await start_cache(redis_url=throwaway_redis.url)
    await throwaway_redis.stop()
    await waiting_side.wait_redis_health(NOT_SERVING)
    kept_id = new_execution_id()
    await store(waiting_side, kept_id, record(kept_id))  # kept in memory meanwhile

    await throwaway_redis.start()
    await waiting_side.wait_redis_health(SERVING)
    await storing_side.wait_redis_health(SERVING)

    # The subscription is back: a result stored by the other process arrives.
    execution_id = new_execution_id()
    watch = await open_watch(waiting_side, execution_id)
    reply = await store(storing_side, execution_id, record(execution_id))
    assert (await last_event(watch)).record_json == record(execution_id)
    assert reply.stored_bytes == len(record(execution_id))
    client = aioredis.Redis.from_url(throwaway_redis.url)
    try:
        assert await client.get(f"execution:result:{execution_id}") == record(execution_id)
        # What was kept in memory during the outage was handed over to Redis.
        assert await client.get(f"execution:result:{kept_id}") == record(kept_id)
        assert 55 <= await client.ttl(f"execution:result:{kept_id}") <= 60
    finally:
        await client.aclose()
    from_other = await open_watch(storing_side, kept_id)
    assert (await last_event(from_other)).record_json == record(kept_id)

    assert len(log_events(OUTAGE)) == 2  # once for each of the two processes
    assert len(log_events(CONNECTED)) == 4  # each process: at start, and after the outage


async def test_cache_that_starts_while_redis_is_down_serves_and_connects_later(
    start_cache: StartCache, throwaway_redis: ThrowawayRedis, log_events: LogEvents
) -> None:
    cache = await start_cache(redis_url=throwaway_redis.url)  # nothing listens there yet
    assert await cache.redis_health() == NOT_SERVING
    execution_id = new_execution_id()
    watch = await open_watch(cache, execution_id)
    await store(cache, execution_id, record(execution_id))
    assert (await last_event(watch)).record_json == record(execution_id)

    await throwaway_redis.start()
    await cache.wait_redis_health(SERVING)

    later_id = new_execution_id()
    await store(cache, later_id, record(later_id))
    client = aioredis.Redis.from_url(throwaway_redis.url)
    try:
        assert await client.exists(f"execution:result:{later_id}") == 1
    finally:
        await client.aclose()
    assert len(log_events(OUTAGE)) == 1
    assert len(log_events(CONNECTED)) == 1


async def test_waiter_of_a_saved_execution_reads_the_saved_record_while_redis_is_down(
    start_cache: StartCache,
    throwaway_redis: ThrowawayRedis,
    fake_execution: tuple[FakeExecutionService, str],
) -> None:
    executions, address = fake_execution
    await throwaway_redis.start()
    cache = await start_cache(redis_url=throwaway_redis.url, execution_addr=address)
    await throwaway_redis.stop()
    await cache.wait_redis_health(NOT_SERVING)
    execution_id = new_execution_id()
    watch = await open_watch(cache, execution_id, saved_to_database=True)

    executions.saved[execution_id] = record(execution_id)  # saved by another process

    event = await asyncio.wait_for(last_event(watch), timeout=3)
    assert (event.event, event.record_json) == (pb.WATCH_EVENT_RESULT, record(execution_id))
    assert executions.calls >= 1


async def test_waiter_of_an_unsaved_execution_does_not_ask_the_execution_service(
    start_cache: StartCache,
    throwaway_redis: ThrowawayRedis,
    fake_execution: tuple[FakeExecutionService, str],
) -> None:
    executions, address = fake_execution
    await throwaway_redis.start()
    cache = await start_cache(redis_url=throwaway_redis.url, execution_addr=address)
    await throwaway_redis.stop()
    await cache.wait_redis_health(NOT_SERVING)
    execution_id = new_execution_id()
    executions.saved[execution_id] = record(execution_id)

    watch = await open_watch(cache, execution_id, timeout_ms=600)

    assert (await last_event(watch)).event == pb.WATCH_EVENT_TIMED_OUT
    assert executions.calls == 0


async def test_saved_record_fallback_serves_only_finished_records(
    start_cache: StartCache,
    throwaway_redis: ThrowawayRedis,
    fake_execution: tuple[FakeExecutionService, str],
) -> None:
    """A saved row that is still ``running`` is not the result: the waiter keeps
    waiting (and times out honestly) instead of being handed it."""
    executions, address = fake_execution
    await throwaway_redis.start()
    cache = await start_cache(redis_url=throwaway_redis.url, execution_addr=address)
    await throwaway_redis.stop()
    await cache.wait_redis_health(NOT_SERVING)

    running_id, finishing_id = new_execution_id(), new_execution_id()
    executions.saved[running_id] = json.dumps({"id": running_id, "status": "running"}).encode()
    watch = await open_watch(cache, running_id, timeout_ms=800, saved_to_database=True)
    assert (await last_event(watch)).event == pb.WATCH_EVENT_TIMED_OUT
    assert executions.calls >= 1

    executions.saved[finishing_id] = json.dumps({"id": finishing_id, "status": "running"}).encode()
    executions.asked.clear()
    watch = await open_watch(cache, finishing_id, timeout_ms=5000, saved_to_database=True)
    # The running row is read (and passed over) before the run finishes.
    await asyncio.wait_for(executions.asked.wait(), timeout=3)
    finished = json.dumps({"id": finishing_id, "status": "error", "error": "boom"}).encode()
    executions.saved[finishing_id] = finished
    event = await asyncio.wait_for(last_event(watch), timeout=3)
    assert (event.event, event.record_json) == (pb.WATCH_EVENT_RESULT, finished)
