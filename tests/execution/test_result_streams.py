"""The execution service's result hand-off (``CacheResultSink``) over the cache
service's ``StoreResults`` stream: many records and early responses on one long-lived
call, each matched by execution id, and a large record never holding up the small
ones."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hookline.cache.v1 import cache_service_pb2_grpc as pb_grpc

from hookline_execution.clients.cache_sink import STREAM_MAX_BYTES, CacheResultSink
from hookline_execution.domain.ports import ResultTooLarge
from hookline_runtime.transport.client import ServiceClient

from .fake_cache import FakeCache

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]

SMALL = b'{"status":"success","data":{"greeting":"Hello Ada"}}'


@pytest.fixture
async def sink(fake_cache: FakeCache) -> AsyncIterator[CacheResultSink]:
    client = ServiceClient(
        fake_cache.address, pb_grpc.CacheServiceStub, max_message_bytes=64 * 1024 * 1024
    )
    sink = CacheResultSink(client)
    yield sink
    await sink.close()
    await client.close()


async def test_small_records_share_the_stream_and_each_is_acknowledged(
    sink: CacheResultSink, fake_cache: FakeCache
) -> None:
    ids = [f"small-{i}" for i in range(200)]
    await asyncio.gather(*(sink.store_result(i, SMALL, 60) for i in ids))
    assert sorted(fake_cache.results) == sorted(ids)
    assert fake_cache.unary == []


async def test_early_responses_share_the_stream_and_go_before_their_results(
    sink: CacheResultSink, fake_cache: FakeCache
) -> None:
    async def answer_then_finish(execution_id: str) -> None:
        await sink.store_response(execution_id, b'{"statusCode": 201}', 60)
        await sink.store_result(execution_id, SMALL, 60)

    ids = [f"early-{i}" for i in range(50)]
    await asyncio.gather(*(answer_then_finish(i) for i in ids))
    assert sorted(fake_cache.responses) == sorted(ids)
    assert sorted(fake_cache.results) == sorted(ids)
    assert fake_cache.unary == []  # all on the stream, none on a unary call
    for execution_id in ids:
        kinds = [kind for kind, one in fake_cache.events if one == execution_id]
        assert kinds == ["response", "result"]


async def test_a_refused_record_fails_alone_with_its_own_error(
    fake_cache: FakeCache, sink: CacheResultSink
) -> None:
    fake_cache.max_record_bytes = 100
    big, small = b"x" * 200, b"y" * 10
    results = await asyncio.gather(
        sink.store_result("too-big", big, 60),
        sink.store_result("fine", small, 60),
        return_exceptions=True,
    )
    assert isinstance(results[0], ResultTooLarge)
    assert results[1] is None
    assert list(fake_cache.results) == ["fine"]


LARGE = b'{"blob":"' + b"z" * (20 * 1024 * 1024) + b'"}'

_SERVE_FAKE_CACHE = """
import asyncio, sys
from tests.execution.fake_cache import FakeCache
async def main():
    async with FakeCache() as cache:
        print(cache.address, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


async def test_a_large_record_goes_on_its_own_call(
    sink: CacheResultSink, fake_cache: FakeCache
) -> None:
    await asyncio.gather(sink.store_result("large", LARGE, 60), sink.store_result("s", SMALL, 60))
    assert fake_cache.unary == ["large"]
    assert len(LARGE) > STREAM_MAX_BYTES


@pytest.fixture
async def remote_sink() -> AsyncIterator[CacheResultSink]:
    """A sink whose cache is another process, as between the services."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SERVE_FAKE_CACHE,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stdin is not None
    address = (await process.stdout.readline()).decode().strip()
    client = ServiceClient(address, pb_grpc.CacheServiceStub, max_message_bytes=64 * 1024 * 1024)
    sink = CacheResultSink(client)
    try:
        await sink.store_result("warm-up", SMALL, 60)
        yield sink
    finally:
        await sink.close()
        await client.close()
        process.stdin.close()
        await process.wait()


async def test_a_20_mb_record_does_not_hold_up_1000_small_ones(
    remote_sink: CacheResultSink,
) -> None:
    """1,000 small records (10 callers at a time) while a 20 MB one is stored on the
    same client: the large record takes ~100 ms here, and the small calls meanwhile
    keep a p99 well under it (what is left is the two processes' CPU for 20 MB)."""
    latencies: list[float] = []
    large_done: list[float] = []

    async def small_calls(worker: int) -> None:
        for i in range(100):
            started = time.perf_counter()
            await remote_sink.store_result(f"w{worker}-{i}", SMALL, 60)
            latencies.append(time.perf_counter() - started)

    async def large_call() -> None:
        await asyncio.sleep(0)  # let the small calls get going first
        started = time.perf_counter()
        await remote_sink.store_result("large", LARGE, 60)
        large_done.append(time.perf_counter() - started)

    await asyncio.gather(large_call(), *(small_calls(w) for w in range(10)))

    assert len(latencies) == 1000 and large_done
    latencies.sort()
    p50, p99 = latencies[499], latencies[989]
    assert p50 < 0.010, f"p50 of small stores {p50 * 1000:.1f} ms"
    assert p99 < 0.060, (
        f"p99 of small stores {p99 * 1000:.1f} ms with a 20 MB record in flight "
        f"(stored in {large_done[0] * 1000:.0f} ms)"
    )
