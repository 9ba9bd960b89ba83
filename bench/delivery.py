"""Delivery micro-benchmark: a gRPC client watches a fresh execution on one cache
process (``WatchResult``), waits for SUBSCRIBED, then stores its result on the same
process (``StoreResult``) and times the moment the RESULT event arrives. The client is
the services' own (``hookline_runtime.transport.client.ServiceClient``), making plain gRPC calls.

Run against a cache process in push mode and one in poll mode, it isolates what the
waiting mechanism costs from everything else on the request path.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from hookline.cache.v1 import cache_service_pb2, cache_service_pb2_grpc

from hookline_runtime.clock import to_iso, utcnow
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.security import GrpcSecurity
from hookline_runtime.ids import new_id
from hookline_runtime.logs import get_logger
from hookline_runtime.settings import Settings

if TYPE_CHECKING:
    from hookline.cache.v1.cache_service_pb2_grpc import CacheServiceAsyncStub

__all__ = ["DeliveryResult", "measure_delivery"]

log = get_logger(__name__)

_CALL_TIMEOUT_S = 10.0


@dataclass
class DeliveryResult:
    """Milliseconds from the StoreResult call to the RESULT event, per sample."""

    mode: str
    samples: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    store_rtt_p50_ms: float
    latencies_ms: list[float]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _record(execution_id: str) -> bytes:
    now = to_iso(utcnow())
    return json.dumps({
        "id": execution_id, "workflowId": "bench-delivery", "mode": "webhook",
        "status": "success", "startedAt": now, "finishedAt": now,
        "nodes": {"Reply": {"status": "success", "output": {"ok": True},
                            "startedAt": now, "durationMs": 0.1}},
        "response": {"statusCode": 200, "headers": {}, "body": {"ok": True}},
        "error": None,
    }).encode()


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _next(events: AsyncIterator[Any]) -> cache_service_pb2.WatchResultResponse:
    try:
        event = await anext(events)
    except StopAsyncIteration:
        raise RuntimeError("the watch ended before its last event") from None
    if not isinstance(event, cache_service_pb2.WatchResultResponse):
        raise TypeError(f"unexpected message on the watch: {event!r}")
    return event


async def _one(stub: CacheServiceAsyncStub) -> tuple[float, float]:
    execution_id = new_id()
    stream = stub.WatchResult(
        cache_service_pb2.WatchResultRequest(execution_id=execution_id, timeout_ms=10_000),
        timeout=_CALL_TIMEOUT_S,
    )
    events = aiter(stream)
    try:
        first = await _next(events)
        if first.event != cache_service_pb2.WATCH_EVENT_SUBSCRIBED:
            raise RuntimeError(f"expected SUBSCRIBED first, got {first.event}")
        started = time.perf_counter()
        store = asyncio.ensure_future(stub.StoreResult(
            cache_service_pb2.StoreResultRequest(
                execution_id=execution_id, record_json=_record(execution_id), ttl_seconds=30),
            timeout=_CALL_TIMEOUT_S,
        ))
        event = await _next(events)
        delivered = time.perf_counter()
        await store
        stored = time.perf_counter()
        if event.event != cache_service_pb2.WATCH_EVENT_RESULT:
            raise RuntimeError(f"expected RESULT, got {event.event}")
    finally:
        stream.cancel()
    return (delivered - started) * 1000.0, (stored - started) * 1000.0


async def _measure(address: str, mode: str, samples: int, warmup: int) -> DeliveryResult:
    client: ServiceClient[CacheServiceAsyncStub] = ServiceClient(
        address,
        cache_service_pb2_grpc.CacheServiceStub,
        security=GrpcSecurity.from_settings(Settings()),
    )
    try:
        for _ in range(warmup):
            await _one(client.stub)
        pairs = [await _one(client.stub) for _ in range(samples)]
    finally:
        await client.close()
    latencies = [p[0] for p in pairs]
    stores = [p[1] for p in pairs]
    result = DeliveryResult(
        mode=mode, samples=samples,
        p50_ms=statistics.median(latencies), p90_ms=_quantile(latencies, 0.90),
        p99_ms=_quantile(latencies, 0.99), mean_ms=statistics.fmean(latencies),
        min_ms=min(latencies), max_ms=max(latencies),
        store_rtt_p50_ms=statistics.median(stores), latencies_ms=latencies,
    )
    log.info("delivery measured", mode=mode, samples=samples, p50_ms=round(result.p50_ms, 3),
             p99_ms=round(result.p99_ms, 3))
    return result


def measure_delivery(address: str, mode: str, *, samples: int, warmup: int = 20
                     ) -> DeliveryResult:
    """Time ``samples`` sequential store-to-delivery round trips on the cache at ``address``."""
    return asyncio.run(_measure(address, mode, samples, warmup))
