"""Result delivery through one cache process and Redis: storing, reading, watching."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

import grpc
import pytest
import redis.asyncio as aioredis
from hookline.cache.v1 import cache_service_pb2 as pb

from .conftest import CacheHandle, LogEvents, StartCache, next_event

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def new_execution_id() -> str:
    return f"test-{uuid.uuid4()}"


def record(execution_id: str, **extra: object) -> bytes:
    body = {"id": execution_id, "workflowId": "wf", "status": "success", **extra}
    return json.dumps(body).encode()


async def open_watch(
    cache: CacheHandle, execution_id: str, timeout_ms: int = 5000, **fields: bool
) -> grpc.aio.UnaryStreamCall[pb.WatchResultRequest, pb.WatchResultResponse]:
    call = cache.stub.WatchResult(
        pb.WatchResultRequest(execution_id=execution_id, timeout_ms=timeout_ms, **fields),
        timeout=timeout_ms / 1000 + 5,
    )
    first = await next_event(call)
    assert first.event == pb.WATCH_EVENT_SUBSCRIBED
    return call


async def rest_of(
    call: grpc.aio.UnaryStreamCall[pb.WatchResultRequest, pb.WatchResultResponse],
) -> list[pb.WatchResultResponse]:
    events = []
    while (event := await call.read()) is not grpc.aio.EOF:
        assert isinstance(event, pb.WatchResultResponse)
        events.append(event)
    return events


async def store(
    cache: CacheHandle, execution_id: str, data: bytes, ttl: int = 60
) -> pb.StoreResultResponse:
    response: pb.StoreResultResponse = await cache.stub.StoreResult(
        pb.StoreResultRequest(execution_id=execution_id, record_json=data, ttl_seconds=ttl),
        timeout=10,
    )
    return response


@pytest.fixture
async def cache(start_cache: StartCache, redis_url: str) -> CacheHandle:
    return await start_cache(redis_url=redis_url)


async def test_result_stored_before_the_watch_is_delivered(cache: CacheHandle) -> None:
    execution_id = new_execution_id()
    data = record(execution_id)
    await store(cache, execution_id, data)

    call = await open_watch(cache, execution_id)
    events = await rest_of(call)

    assert [e.event for e in events] == [pb.WATCH_EVENT_RESULT]
    assert events[0].record_json == data


async def test_result_stored_after_the_watch_subscribed_is_delivered(
    cache: CacheHandle, log_events: LogEvents
) -> None:
    execution_id = new_execution_id()
    call = await open_watch(cache, execution_id)
    data = record(execution_id)
    await store(cache, execution_id, data)

    events = await rest_of(call)

    assert [e.event for e in events] == [pb.WATCH_EVENT_RESULT]
    assert events[0].record_json == data
    assert [e["execution_id"] for e in log_events("Cached execution result")] == [execution_id]
    retrieved = log_events("Retrieved cached execution result")
    assert [e["execution_id"] for e in retrieved] == [execution_id]


async def test_result_key_holds_the_record_json_with_the_workflow_ttl(
    cache: CacheHandle, redis_client: aioredis.Redis
) -> None:
    execution_id = new_execution_id()
    data = record(execution_id, nodes={"Shape": {"status": "success"}})

    reply = await store(cache, execution_id, data, ttl=45)

    key = f"execution:result:{execution_id}"
    assert await redis_client.get(key) == data
    assert 43 <= await redis_client.ttl(key) <= 45
    assert json.loads(await redis_client.get(key) or b"null")["id"] == execution_id
    assert reply.compressed is False and reply.stored_bytes == len(data)


async def test_get_result_returns_the_record_and_its_expiry(cache: CacheHandle) -> None:
    execution_id = new_execution_id()
    data = record(execution_id)
    await store(cache, execution_id, data, ttl=120)

    reply = await cache.stub.GetResult(pb.GetResultRequest(execution_id=execution_id), timeout=5)

    assert reply.record_json == data
    seconds_left = reply.expire_time.ToSeconds() - time.time()
    assert 115 <= seconds_left <= 121


async def test_get_result_of_an_unknown_execution_is_not_found(cache: CacheHandle) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await cache.stub.GetResult(pb.GetResultRequest(execution_id=new_execution_id()), timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_record_over_the_threshold_is_stored_compressed_and_round_trips(
    start_cache: StartCache, redis_url: str, redis_client: aioredis.Redis
) -> None:
    cache = await start_cache(redis_url=redis_url, compress_threshold_bytes=1024)
    execution_id = new_execution_id()
    data = record(execution_id, output=["hello world"] * 500)
    call = await open_watch(cache, execution_id)

    reply = await store(cache, execution_id, data)

    raw = await redis_client.get(f"execution:result:{execution_id}")
    assert isinstance(raw, bytes)
    assert reply.compressed is True
    assert raw.startswith(ZSTD_MAGIC) and len(raw) == reply.stored_bytes < len(data)
    assert (await rest_of(call))[0].record_json == data
    got = await cache.stub.GetResult(pb.GetResultRequest(execution_id=execution_id), timeout=5)
    assert got.record_json == data
    late = await rest_of(await open_watch(cache, execution_id))
    assert late[0].record_json == data


async def test_record_over_the_cap_is_refused_and_nothing_is_stored(
    start_cache: StartCache, redis_url: str, redis_client: aioredis.Redis
) -> None:
    cache = await start_cache(redis_url=redis_url, max_result_bytes=4096)
    execution_id = new_execution_id()
    data = record(execution_id, blob="x" * 5000)

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await store(cache, execution_id, data)

    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert info.value.details() == (
        f"execution result of {len(data)} bytes is over the limit of 4096 bytes"
    )
    assert await redis_client.exists(f"execution:result:{execution_id}") == 0


async def test_five_megabyte_record_round_trips_intact(cache: CacheHandle) -> None:
    execution_id = new_execution_id()
    noise = os.urandom(1_900_000).hex()  # 3.8 MB of barely compressible text
    data = record(execution_id, noise=noise, rows=[{"n": i} for i in range(100_000)])
    assert len(data) > 5_000_000
    call = await open_watch(cache, execution_id)

    reply = await store(cache, execution_id, data)

    assert reply.compressed is True
    assert (await rest_of(call))[0].record_json == data
    got = await cache.stub.GetResult(pb.GetResultRequest(execution_id=execution_id), timeout=5)
    assert got.record_json == data


async def test_early_response_ends_a_watch_that_accepts_it(
    cache: CacheHandle, redis_client: aioredis.Redis
) -> None:
    execution_id = new_execution_id()
    call = await open_watch(cache, execution_id, accept_early_response=True)
    response = b'{"statusCode": 201, "headers": {}, "body": {"ok": true}}'

    await cache.stub.StoreResponse(
        pb.StoreResponseRequest(execution_id=execution_id, response_json=response, ttl_seconds=30),
        timeout=5,
    )

    events = await rest_of(call)
    assert [e.event for e in events] == [pb.WATCH_EVENT_RESPONSE]
    assert events[0].response_json == response
    assert await redis_client.get(f"hookline:response:{execution_id}") == response
    assert 28 <= await redis_client.ttl(f"hookline:response:{execution_id}") <= 30


async def test_early_response_stored_before_the_watch_is_delivered(cache: CacheHandle) -> None:
    execution_id = new_execution_id()
    response = b'{"statusCode": 200, "headers": {}, "body": "hi"}'
    await cache.stub.StoreResponse(
        pb.StoreResponseRequest(execution_id=execution_id, response_json=response, ttl_seconds=30),
        timeout=5,
    )

    events = await rest_of(await open_watch(cache, execution_id, accept_early_response=True))

    assert [(e.event, e.response_json) for e in events] == [(pb.WATCH_EVENT_RESPONSE, response)]


async def test_watch_without_accept_waits_past_the_early_response_for_the_result(
    cache: CacheHandle,
) -> None:
    execution_id = new_execution_id()
    call = await open_watch(cache, execution_id)
    await cache.stub.StoreResponse(
        pb.StoreResponseRequest(execution_id=execution_id, response_json=b"{}", ttl_seconds=30),
        timeout=5,
    )
    data = record(execution_id)
    await store(cache, execution_id, data)

    events = await rest_of(call)

    assert [(e.event, e.record_json) for e in events] == [(pb.WATCH_EVENT_RESULT, data)]


async def test_watch_ends_with_timed_out_at_its_deadline(
    cache: CacheHandle, log_events: LogEvents
) -> None:
    execution_id = new_execution_id()
    started = time.monotonic()
    call = await open_watch(cache, execution_id, timeout_ms=300)

    events = await rest_of(call)

    elapsed = time.monotonic() - started
    assert [e.event for e in events] == [pb.WATCH_EVENT_TIMED_OUT]
    assert 0.28 <= elapsed < 1.0
    timeouts = log_events("Timeout waiting for execution result")
    assert [e["execution_id"] for e in timeouts] == [execution_id]
    assert timeouts[0]["level"] == "warning"


async def test_poll_mode_delivers_without_a_subscription(
    start_cache: StartCache, redis_url: str, redis_client: aioredis.Redis
) -> None:
    cache = await start_cache(redis_url=redis_url, result_wait="poll", poll_interval_ms=20)
    execution_id = new_execution_id()
    call = await open_watch(cache, execution_id)
    data = record(execution_id)
    await store(cache, execution_id, data)

    events = await rest_of(call)

    assert [(e.event, e.record_json) for e in events] == [(pb.WATCH_EVENT_RESULT, data)]
    clients = await redis_client.client_list()
    mine = [c for c in clients if c["name"] == cache.server.redis_client_name]
    assert mine and all(c["sub"] == "0" for c in mine)


@pytest.mark.parametrize("size", [200, 40_000], ids=["inline", "read-back"])
async def test_result_stored_on_another_cache_process_reaches_the_waiter(
    start_cache: StartCache, redis_url: str, size: int
) -> None:
    waiting_side = await start_cache(redis_url=redis_url)
    storing_side = await start_cache(redis_url=redis_url)
    execution_id = new_execution_id()
    data = record(execution_id, pad="p" * size)
    call = await open_watch(waiting_side, execution_id)

    await store(storing_side, execution_id, data)

    events = await rest_of(call)
    assert [(e.event, e.record_json) for e in events] == [(pb.WATCH_EVENT_RESULT, data)]


@pytest.mark.parametrize(
    ("execution_id", "ttl"),
    [("", 60), ("has space", 60), ("x" * 201, 60), ("fine-id", 0), ("fine-id", -5)],
)
async def test_store_refuses_bad_ids_and_ttls(
    cache: CacheHandle, execution_id: str, ttl: int
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await store(cache, execution_id, b"{}", ttl=ttl)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_redis_health_is_serving_while_redis_answers(cache: CacheHandle) -> None:
    from grpc_health.v1 import health_pb2

    assert await cache.redis_health() == health_pb2.HealthCheckResponse.SERVING


async def test_watches_of_one_execution_all_get_the_result(cache: CacheHandle) -> None:
    execution_id = new_execution_id()
    calls = [await open_watch(cache, execution_id) for _ in range(5)]
    data = record(execution_id)
    await store(cache, execution_id, data)

    results = await asyncio.gather(*(rest_of(call) for call in calls))

    assert all(
        [(e.event, e.record_json) for e in r] == [(pb.WATCH_EVENT_RESULT, data)] for r in results
    )


async def test_metrics_count_stores_watches_and_local_delivery_time(cache: CacheHandle) -> None:
    registry = cache.server.metrics.registry
    execution_id = new_execution_id()
    call = await open_watch(cache, execution_id)
    assert registry.get_sample_value("hookline_waiting_requests") == 1

    await store(cache, execution_id, record(execution_id))
    await rest_of(call)
    with pytest.raises(grpc.aio.AioRpcError):
        await cache.stub.GetResult(pb.GetResultRequest(execution_id=new_execution_id()), timeout=5)

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("hookline_waiting_requests") == 0
    assert sample("hookline_result_cache_stored_total", backend="redis") == 1
    assert sample("hookline_watch_outcomes_total", outcome="result") == 1
    assert sample("hookline_result_cache_lookups_total", outcome="miss") == 1
    assert sample("hookline_result_delivery_seconds_count") == 1


async def test_watch_accepting_an_early_response_still_ends_with_the_result_when_none_comes(
    cache: CacheHandle,
) -> None:
    execution_id = new_execution_id()
    call = await open_watch(cache, execution_id, accept_early_response=True)
    data = record(execution_id)

    await store(cache, execution_id, data)

    events = await rest_of(call)
    assert [(e.event, e.record_json) for e in events] == [(pb.WATCH_EVENT_RESULT, data)]


async def test_watch_stream_sends_each_watch_its_outcome_alone(cache: CacheHandle) -> None:
    """On ``WatchResults`` a watch gets one event, its outcome, tagged with its watch
    id: no SUBSCRIBED first (nobody on the stream waits for it), whether the result
    was there before the subscribe or came after it."""
    before, after = new_execution_id(), new_execution_id()
    await store(cache, before, record(before))
    call = cache.stub.WatchResults(timeout=15)
    await call.write(
        pb.WatchResultsRequest(
            items=[
                pb.WatchResultsItem(
                    watch_id=watch_id,
                    subscribe=pb.WatchResultRequest(execution_id=execution_id, timeout_ms=5000),
                )
                for watch_id, execution_id in ((1, before), (2, after))
            ]
        )
    )
    events: list[pb.WatchResultsEvent] = []

    async def read_one() -> None:
        message = await call.read()
        assert isinstance(message, pb.WatchResultsResponse)
        events.extend(message.events)

    await asyncio.wait_for(read_one(), 10)  # the stored one answers at once
    await store(cache, after, record(after))
    while len(events) < 2:
        await asyncio.wait_for(read_one(), 10)
    await call.done_writing()
    assert [(e.watch_id, e.execution_id, e.event.event) for e in events] == [
        (1, before, pb.WATCH_EVENT_RESULT),
        (2, after, pb.WATCH_EVENT_RESULT),
    ]
    assert json.loads(events[1].event.record_json)["id"] == after
    assert await call.read() is grpc.aio.EOF
