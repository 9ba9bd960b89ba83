"""Thousands of concurrent waiters share the cache process's few Redis connections."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
import redis.asyncio as aioredis
from hookline.cache.v1 import cache_service_pb2 as pb

from hookline_cache.storage.base import Kind

from .conftest import StartCache, next_event

WAITERS = 2000


async def connections_named(client: aioredis.Redis, name: str) -> list[dict[str, str]]:
    return [c for c in await client.client_list() if c["name"] == name]


async def test_two_thousand_waiters_use_at_most_two_redis_connections(
    start_cache: StartCache,
    redis_url: str,
    redis_client: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING")  # 4,000 info lines would only slow the test down
    waiting_side = await start_cache(redis_url=redis_url)
    storing_side = await start_cache(redis_url=redis_url)
    prefix = f"many-{uuid.uuid4()}"
    ids = [f"{prefix}-{i}" for i in range(WAITERS)]
    calls = [
        waiting_side.stub.WatchResult(
            pb.WatchResultRequest(execution_id=execution_id, timeout_ms=30_000), timeout=40
        )
        for execution_id in ids
    ]
    firsts = await asyncio.gather(*(next_event(call) for call in calls))
    assert all(first.event == pb.WATCH_EVENT_SUBSCRIBED for first in firsts)
    assert len(waiting_side.server.delivery.waiters) == WAITERS  # type: ignore[union-attr]

    async def store(execution_id: str) -> None:
        # Straight into the other process's domain: the 2,000 StoreResult RPCs are
        # not what this test is about, the waiting side's connections are.
        await storing_side.server.delivery.store(  # type: ignore[union-attr]
            Kind.RESULT, execution_id, b'{"id": "%s"}' % execution_id.encode(), 30
        )

    async def result(
        call: grpc.aio.UnaryStreamCall[pb.WatchResultRequest, pb.WatchResultResponse],
    ) -> bytes:
        event = await next_event(call)
        assert event.event == pb.WATCH_EVENT_RESULT
        assert await call.read() is grpc.aio.EOF
        return bytes(event.record_json)

    await asyncio.gather(*(store(execution_id) for execution_id in ids))
    records = await asyncio.gather(*(result(call) for call in calls))

    assert records == [b'{"id": "%s"}' % execution_id.encode() for execution_id in ids]
    # Every connection this process ever opened stays in its pool, so this counts the
    # most it used: one for commands (auto-pipelined) and one for the subscription.
    used = await connections_named(redis_client, waiting_side.server.redis_client_name)
    assert 1 <= len(used) <= 2, used
    assert sum(c["sub"] == "1" for c in used) == 1
