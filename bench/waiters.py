"""Many concurrent waiting requests: ``count`` webhook calls sent at once (over
connections opened beforehand, see ``bench.http_burst``) on a workflow whose wait
node holds each for a few seconds, while the cache process's resident memory and its
Redis connections are sampled every 100 ms."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from bench.http_burst import burst
from bench.sampling import GaugeSampler, ProcessSampler, redis_connections
from hookline_runtime.logs import get_logger

__all__ = ["WaitersResult", "raise_fd_limit", "run_waiters"]

log = get_logger(__name__)


def raise_fd_limit(target: int = 65536) -> tuple[int, int]:
    """Raise this process's open-file limit (inherited by the services it starts).

    Returns the (soft, hard) limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, target)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):  # not root: go as high as the hard limit allows
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass
class WaitersResult:
    """What happened to ``requested`` concurrent waiting requests."""

    requested: int
    wait_seconds: float
    succeeded: int
    failed: int
    statuses: dict[str, int]
    failures: dict[str, int]
    connected: int
    connect_seconds: float
    peak_in_flight: int
    wall_seconds: float
    latency_ms: dict[str, float]
    latencies_ms: list[float]
    cache_redis_connections_before: int
    cache_redis_connections_peak: int
    cache_redis_connections_after: int
    cache_redis_subscribed_peak: int
    cache_waiting_peak: float | None
    cache_rss_before_bytes: int
    cache_rss_peak_bytes: int
    edge_rss_peak_bytes: int
    fd_limit: int
    samples: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {"min": ordered[0], "p50": q(0.5), "p90": q(0.9), "p99": q(0.99),
            "max": ordered[-1], "mean": statistics.fmean(ordered)}


def run_waiters(url: str, body: str, *, count: int, wait_seconds: float, cache_pid: int,
                edge_pid: int, redis_url: str, redis_port: int,
                cache_metrics_url: str | None = None) -> WaitersResult:
    """Open ``count`` requests at once and wait for all of them."""
    cache = psutil.Process(cache_pid)
    before_conns = redis_connections(cache, redis_port)
    before_rss = cache.memory_info().rss
    timeout_s = wait_seconds + 300.0
    gauge = GaugeSampler(cache_metrics_url or "", "hookline_waiting_requests")
    with ProcessSampler(cache_pid, redis_port, redis_url=redis_url) as cache_sampler, \
            ProcessSampler(edge_pid, redis_port) as edge_sampler, \
            (gauge if cache_metrics_url else contextlib.nullcontext()):
        tally = asyncio.run(burst(url, body.encode(), count, timeout_s=timeout_s))
    after_conns = redis_connections(cache, redis_port)
    succeeded = len(tally.latencies_ms)
    result = WaitersResult(
        requested=count, wait_seconds=wait_seconds, succeeded=succeeded,
        failed=count - succeeded, statuses=tally.statuses, failures=tally.failures,
        connected=tally.connected, connect_seconds=tally.connect_seconds,
        peak_in_flight=tally.peak_in_flight, wall_seconds=tally.wall_seconds,
        latency_ms=_quantiles(tally.latencies_ms), latencies_ms=tally.latencies_ms,
        cache_redis_connections_before=before_conns,
        cache_redis_connections_peak=cache_sampler.peak_redis_connections,
        cache_redis_connections_after=after_conns,
        cache_redis_subscribed_peak=cache_sampler.peak_redis_subscribed,
        cache_waiting_peak=gauge.peak,
        cache_rss_before_bytes=before_rss, cache_rss_peak_bytes=cache_sampler.peak_rss_bytes,
        edge_rss_peak_bytes=edge_sampler.peak_rss_bytes,
        fd_limit=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        samples=[{"at": s.at, "rss_bytes": s.rss_bytes, "redis_connections": s.redis_connections,
                  "redis_subscribed": s.redis_subscribed} for s in cache_sampler.samples],
    )
    log.info("waiters done", requested=count, succeeded=succeeded,
             peak_in_flight=tally.peak_in_flight,
             p50_ms=result.latency_ms.get("p50"), redis_peak=result.cache_redis_connections_peak,
             cache_rss_peak_mb=round(result.cache_rss_peak_bytes / 2**20, 1))
    return result
