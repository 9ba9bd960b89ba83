"""What the machine gives right now: round trips that involve no hookline code — a
Redis PING and a gRPC health Check on the cache process — measured before the
scenarios, so that a run on a busy shared machine can be told from a slow hookline."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hookline_runtime.transport.security import GrpcSecurity
from hookline_runtime.settings import Settings

__all__ = ["measure_baseline"]


def _timed(call: Callable[[], object], samples: int) -> dict[str, float]:
    for _ in range(min(20, samples)):
        call()
    values = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        values.append((time.perf_counter() - started) * 1000.0)
    ordered = sorted(values)
    return {"p50_ms": statistics.median(ordered),
            "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
            "samples": float(samples)}


def measure_baseline(redis_url: str, grpc_address: str, samples: int = 300
                     ) -> dict[str, dict[str, float]]:
    """p50/p99 of a Redis PING and of a gRPC health Check, in milliseconds."""
    client = redis.Redis.from_url(redis_url)
    try:
        redis_ping = _timed(client.ping, samples)
    finally:
        client.close()
    with GrpcSecurity.from_settings(Settings()).open_sync_channel(grpc_address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="")
        grpc_check = _timed(lambda: stub.Check(request, timeout=5.0), samples)
    return {"redis_ping": redis_ping, "grpc_health_check": grpc_check}
