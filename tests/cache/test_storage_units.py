"""Unit tests of the storage adapters, the codec and the waiter registry."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest
import redis.exceptions

from hookline_cache.domain.codec import ZSTD_MAGIC, ResultCodec
from hookline_cache.domain.waiters import LOOK_AGAIN, WaiterRegistry
from hookline_cache.storage.base import Kind, StoreUnavailable
from hookline_cache.storage.memory import MemoryResultStore
from hookline_cache.storage.notifications import (
    CHANNEL,
    INLINE_MAX_BYTES,
    Notification,
    decode_notification,
    encode_notification,
)
from hookline_cache.storage.redis_link import RedisLink
from hookline_cache.storage.redis_listener import (
    RedisNotificationListener,
    create_subscriber_redis,
)
from hookline_cache.storage.redis_store import RedisResultStore
from hookline_runtime.errors import ResourceExhausted
from hookline_runtime.redis.client import create_redis
from hookline_runtime.redis.pipeline import AutoPipeline


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_store_evicts_the_least_recently_used_entry_over_the_count() -> None:
    store = MemoryResultStore(max_entries=2, max_bytes=10_000)
    await store.put(Kind.RESULT, "a", b"1", 60_000)
    await store.put(Kind.RESULT, "b", b"2", 60_000)
    assert store.peek(Kind.RESULT, "a") == b"1"  # a is now the most recently used
    await store.put(Kind.RESULT, "c", b"3", 60_000)

    assert store.peek(Kind.RESULT, "b") is None
    assert store.peek(Kind.RESULT, "a") == b"1" and store.peek(Kind.RESULT, "c") == b"3"


async def test_memory_store_evicts_over_the_byte_bound_and_refuses_oversized_values() -> None:
    store = MemoryResultStore(max_entries=100, max_bytes=2048)
    await store.put(Kind.RESULT, "a", b"x" * 1000, 60_000)
    await store.put(Kind.RESULT, "b", b"y" * 1000, 60_000)
    await store.put(Kind.RESULT, "c", b"z" * 1000, 60_000)

    assert store.peek(Kind.RESULT, "a") is None
    assert store.size_bytes == 2000
    assert store.put_now(Kind.RESULT, "huge", b"h" * 4096, 60_000) is False
    assert store.peek(Kind.RESULT, "huge") is None


async def test_memory_store_forgets_values_when_their_ttl_ends() -> None:
    clock = FakeClock()
    store = MemoryResultStore(max_entries=10, max_bytes=10_000, clock=clock)
    await store.put(Kind.RESULT, "a", b"1", 2_000)
    clock.now += 1.5
    stored = await store.get_with_ttl(Kind.RESULT, "a")
    assert stored is not None and stored.ttl_ms == 500

    clock.now += 0.6
    assert await store.get_with_ttl(Kind.RESULT, "a") is None
    assert len(store) == 0


async def test_memory_store_keeps_results_and_responses_apart() -> None:
    store = MemoryResultStore(max_entries=10, max_bytes=10_000)
    await store.put(Kind.RESPONSE, "a", b"response", 60_000)
    assert await store.get_many("a", [Kind.RESULT, Kind.RESPONSE]) == [None, b"response"]


async def test_codec_compresses_only_above_the_threshold_and_marks_with_the_zstd_magic() -> None:
    codec = ResultCodec(compress_threshold_bytes=100, max_bytes=10_000)
    small = await codec.encode(b'{"a": 1}')
    large = await codec.encode(b'{"rows": "' + b"abc" * 1000 + b'"}')

    assert small == type(small)(b'{"a": 1}', False)
    assert large.compressed and large.data.startswith(ZSTD_MAGIC)
    assert await codec.decode(large.data) == b'{"rows": "' + b"abc" * 1000 + b'"}'
    assert await codec.decode(small.data) == b'{"a": 1}'


async def test_codec_stores_incompressible_data_as_is() -> None:
    codec = ResultCodec(compress_threshold_bytes=100, max_bytes=100_000)
    noise = os.urandom(5000)
    encoded = await codec.encode(noise)
    assert encoded.compressed is False and encoded.data == noise


async def test_codec_refuses_a_payload_over_the_cap_with_a_clear_message() -> None:
    codec = ResultCodec(compress_threshold_bytes=100, max_bytes=1024)
    with pytest.raises(ResourceExhausted) as info:
        await codec.encode(b"x" * 1025)
    assert info.value.message == "execution result of 1025 bytes is over the limit of 1024 bytes"


def test_notifications_carry_small_values_inline_and_large_ones_by_reference() -> None:
    small = encode_notification(Kind.RESULT, "e-1", b'{"x": 1}', 1700000000.25)
    large = encode_notification(Kind.RESPONSE, "e-2", b"y" * (INLINE_MAX_BYTES + 1), 1.5)

    assert decode_notification(small) == Notification(
        Kind.RESULT, "e-1", b'{"x": 1}', 1700000000.25
    )
    assert decode_notification(large) == Notification(Kind.RESPONSE, "e-2", None, 1.5)
    assert decode_notification(b"garbage") is None


async def test_waiter_prefers_a_value_over_look_again_and_skips_unaccepted_responses() -> None:
    registry = WaiterRegistry()
    result_only = registry.add("e", accept_response=False)
    any_kind = registry.add("e", accept_response=True)

    registry.wake_all()
    registry.wake("e", Kind.RESPONSE, b"response")

    assert await result_only.next() == LOOK_AGAIN
    woken = await any_kind.next()
    assert woken is not None and (woken.kind, woken.payload) == (Kind.RESPONSE, b"response")
    assert await result_only.next(timeout=0.01) is None
    registry.remove(result_only)
    registry.remove(any_kind)
    assert len(registry) == 0 and not registry.wants("e", Kind.RESULT)


@pytest.fixture
async def fake_redis() -> AsyncIterator[fakeredis.FakeAsyncRedis]:
    client = fakeredis.FakeAsyncRedis()
    yield client
    await client.aclose()


async def test_redis_store_writes_with_a_ttl_then_publishes(
    fake_redis: fakeredis.FakeAsyncRedis,
) -> None:
    pipeline = AutoPipeline(fake_redis)
    link = RedisLink(pipeline, where="fake")
    store = RedisResultStore(pipeline, link)
    pubsub = fake_redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation

    await store.put(Kind.RESULT, "e-1", b'{"a": 1}', 30_000, 1.0)

    assert await fake_redis.get("execution:result:e-1") == b'{"a": 1}'
    assert 29_000 < await fake_redis.pttl("execution:result:e-1") <= 30_000
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
    assert message is not None
    assert decode_notification(message["data"]) == Notification(
        Kind.RESULT, "e-1", b'{"a": 1}', 1.0
    )
    stored = await store.get_with_ttl(Kind.RESULT, "e-1")
    assert stored is not None and stored.data == b'{"a": 1}'
    assert await store.get_many("e-1", [Kind.RESPONSE, Kind.RESULT]) == [None, b'{"a": 1}']
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await pipeline.close()


async def test_redis_store_fails_fast_while_the_link_is_down(
    fake_redis: fakeredis.FakeAsyncRedis,
) -> None:
    pipeline = AutoPipeline(fake_redis)
    link = RedisLink(pipeline, where="fake")
    store = RedisResultStore(pipeline, link)
    await link.report_failure(ConnectionError("gone"))
    try:
        with pytest.raises(StoreUnavailable):
            await store.put(Kind.RESULT, "e-1", b"{}", 1000, 1.0)
        assert await fake_redis.exists("execution:result:e-1") == 0
    finally:
        await link.close()
        await pipeline.close()


async def test_auto_pipeline_sends_concurrent_requests_in_one_round_trip(
    fake_redis: fakeredis.FakeAsyncRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    round_trip = AutoPipeline._round_trip

    async def counting_round_trip(connection: Any, commands: list[Any]) -> list[Any]:
        batches.append(len(commands))
        return await round_trip(connection, commands)

    monkeypatch.setattr(AutoPipeline, "_round_trip", staticmethod(counting_round_trip))
    pipeline = AutoPipeline(fake_redis)
    await fake_redis.set("k", b"v")

    replies = await asyncio.gather(
        *(pipeline.execute([("GET", "k"), ("EXISTS", "k")]) for _ in range(50))
    )

    assert replies == [[b"v", 1]] * 50
    assert batches == [100]
    await pipeline.close()


async def test_auto_pipeline_returns_a_command_error_in_its_place(
    fake_redis: fakeredis.FakeAsyncRedis,
) -> None:
    pipeline = AutoPipeline(fake_redis)
    await fake_redis.set("text", b"v")

    replies = await pipeline.execute([("INCR", "text"), ("GET", "text")])

    assert isinstance(replies[0], redis.exceptions.ResponseError) and replies[1] == b"v"
    await pipeline.close()


class RecordingSink:
    def __init__(self) -> None:
        self.stored: asyncio.Queue[tuple[Kind, str, bytes | None]] = asyncio.Queue()
        self.resyncs = 0

    def on_stored(
        self, kind: Kind, execution_id: str, inline: bytes | None, stored_at: float | None
    ) -> None:
        self.stored.put_nowait((kind, execution_id, inline))

    def on_resync(self) -> None:
        self.resyncs += 1


async def test_subscription_pings_while_idle_and_keeps_delivering(redis_url: str) -> None:
    commands = create_redis(redis_url)
    name = f"idle-test-{uuid.uuid4().hex[:8]}"
    subscriber = create_subscriber_redis(redis_url, client_name=name)
    pipeline = AutoPipeline(commands)
    link = RedisLink(pipeline, where="test")
    sink = RecordingSink()
    channel = f"hookline:test:{name}"  # a quiet channel of its own, so that it idles
    listener = RedisNotificationListener(
        subscriber, sink, link, idle_ping_seconds=0.05, channel=channel
    )
    try:
        listener.start()
        assert await listener.wait_subscribed(5)
        await asyncio.sleep(0.3)  # idle long enough for several PINGs to go and return
        mine = [c for c in await commands.client_list() if c["name"] == name]
        assert [c["cmd"] for c in mine] == ["ping"]  # the subscription's last command
        execution_id = f"idle-{uuid.uuid4()}"

        await commands.publish(channel, encode_notification(Kind.RESULT, execution_id, b"{}", 1.0))

        got = await asyncio.wait_for(sink.stored.get(), timeout=5)
        assert got == (Kind.RESULT, execution_id, b"{}")
        assert listener.subscribed and sink.resyncs == 1
    finally:
        await listener.close()
        await link.close()
        await pipeline.close()
        await subscriber.aclose()
        await commands.aclose()


async def test_waiter_woken_with_look_again_then_a_value_gets_the_value() -> None:
    registry = WaiterRegistry()
    waiter = registry.add("e", accept_response=False)
    pending = asyncio.ensure_future(waiter.next())
    await asyncio.sleep(0)  # the waiter is now waiting on its future

    registry.wake_all()  # resolves that future ...
    registry.wake("e", Kind.RESULT, b"value")  # ... and a value arrives before it runs

    woken = await pending
    assert woken is not None and woken.payload == b"value"
