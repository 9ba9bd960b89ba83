"""The edge's Prometheus metrics, in a registry of the app's own (not the global one),
so that several apps can live in one process (tests, ``hookline dev``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["METRICS_MEDIA_TYPE", "EdgeMetrics"]

METRICS_MEDIA_TYPE = "text/plain; version=0.0.4"
"""The Prometheus text format that ``generate_latest`` writes (served with
``; charset=utf-8``); version 1.0.0 differs only for names outside [a-zA-Z0-9_:]."""

_LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)


class EdgeMetrics:
    """Webhook counters and latency; ``render()`` gives the Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.webhook_requests = Counter(
            "hookline_edge_webhook_requests",
            "Webhook requests answered, by response mode and HTTP status.",
            ["mode", "status"],
            registry=self.registry,
        )
        self.webhook_latency = Histogram(
            "hookline_edge_webhook_duration_seconds",
            "Webhook requests from arrival to answer (end to end), by response mode.",
            ["mode"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_webhook(self, mode: str, status: int, seconds: float) -> None:
        self.webhook_requests.labels(mode, str(status)).inc()
        self.webhook_latency.labels(mode).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
