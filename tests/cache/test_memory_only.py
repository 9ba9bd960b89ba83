"""With no Redis configured, the cache service delivers in-process only."""

from __future__ import annotations

import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2
from hookline.cache.v1 import cache_service_pb2 as pb

from .conftest import CacheHandle, LogEvents, StartCache, next_event


def new_execution_id() -> str:
    return f"memory-{uuid.uuid4()}"


async def store(cache: CacheHandle, execution_id: str, data: bytes) -> None:
    await cache.stub.StoreResult(
        pb.StoreResultRequest(execution_id=execution_id, record_json=data, ttl_seconds=60),
        timeout=3,
    )


async def watch(
    cache: CacheHandle, execution_id: str, **fields: bool
) -> grpc.aio.UnaryStreamCall[pb.WatchResultRequest, pb.WatchResultResponse]:
    call = cache.stub.WatchResult(
        pb.WatchResultRequest(execution_id=execution_id, timeout_ms=3000, **fields), timeout=5
    )
    assert (await next_event(call)).event == pb.WATCH_EVENT_SUBSCRIBED
    return call


async def test_without_redis_results_are_delivered_in_process_and_it_says_so(
    start_cache: StartCache, log_events: LogEvents
) -> None:
    cache = await start_cache()
    warnings = log_events(
        "No Redis configured: execution results are delivered in-process only "
        "(single cache process)"
    )
    assert [w["level"] for w in warnings] == ["warning"]

    first, second = new_execution_id(), new_execution_id()
    call = await watch(cache, first)
    await store(cache, first, b'{"n": 1}')
    assert (await next_event(call)).record_json == b'{"n": 1}'

    await store(cache, second, b'{"n": 2}')
    assert (await next_event(await watch(cache, second))).record_json == b'{"n": 2}'
    got = await cache.stub.GetResult(pb.GetResultRequest(execution_id=second), timeout=2)
    assert got.record_json == b'{"n": 2}'
    assert got.expire_time.seconds > 0


async def test_without_redis_an_early_response_is_delivered(start_cache: StartCache) -> None:
    cache = await start_cache()
    execution_id = new_execution_id()
    call = await watch(cache, execution_id, accept_early_response=True)

    await cache.stub.StoreResponse(
        pb.StoreResponseRequest(
            execution_id=execution_id, response_json=b'{"statusCode": 202}', ttl_seconds=5
        ),
        timeout=3,
    )

    event = await next_event(call)
    assert (event.event, event.response_json) == (pb.WATCH_EVENT_RESPONSE, b'{"statusCode": 202}')


async def test_without_redis_the_redis_health_status_is_unknown(start_cache: StartCache) -> None:
    cache = await start_cache()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await cache.redis_health()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    overall = await cache.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
    assert overall.status == health_pb2.HealthCheckResponse.SERVING


async def test_memory_store_keeps_only_the_most_recent_results(start_cache: StartCache) -> None:
    cache = await start_cache(memory_store_max_entries=2)
    ids = [new_execution_id() for _ in range(3)]
    for execution_id in ids:
        await store(cache, execution_id, b"{}")

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await cache.stub.GetResult(pb.GetResultRequest(execution_id=ids[0]), timeout=2)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    for execution_id in ids[1:]:
        await cache.stub.GetResult(pb.GetResultRequest(execution_id=execution_id), timeout=2)


async def test_poll_mode_without_redis_still_delivers(start_cache: StartCache) -> None:
    cache = await start_cache(result_wait="poll", poll_interval_ms=10)
    execution_id = new_execution_id()
    call = await watch(cache, execution_id)
    await store(cache, execution_id, b'{"polled": true}')
    assert (await next_event(call)).record_json == b'{"polled": true}'
