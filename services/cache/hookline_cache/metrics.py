"""What the cache service measures, in its own registry, served on
``HOOKLINE_CACHE_METRICS_LISTEN`` through ``hookline_runtime.metrics.MetricsEndpoint``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hookline_runtime.metrics import LATENCY_BUCKETS

__all__ = ["CacheMetrics"]


class CacheMetrics:
    """What the cache service measures."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.lookups = Counter(
            "hookline_result_cache_lookups", "Result lookups by outcome (hit or miss).",
            ["outcome"], registry=self.registry,
        )
        self.stored = Counter(
            "hookline_result_cache_stored", "Results stored, by backend (redis or memory).",
            ["backend"], registry=self.registry,
        )
        self.waiting = Gauge(
            "hookline_waiting_requests", "WatchResult calls waiting for a result right now.",
            registry=self.registry,
        )
        self.redis_errors = Counter(
            "hookline_redis_errors", "Redis commands that failed.", registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "hookline_result_delivery_seconds",
            "From StoreResult received to the waiting stream sending the result.",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.watch_outcomes = Counter(
            "hookline_watch_outcomes", "How WatchResult calls ended.", ["outcome"],
            registry=self.registry,
        )
