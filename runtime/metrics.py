"""Prometheus metrics: one registry per process (or per app in tests), built by the
server that owns it and passed down; no metric lives in a module global.

The edge serves its registry at ``/metrics``; each gRPC service serves its own on
``HOOKLINE_<SERVICE>_METRICS_LISTEN`` (``host:port``) through ``MetricsEndpoint``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from runtime.logs import get_logger

__all__ = ["LATENCY_BUCKETS", "CacheMetrics", "ExecutionMetrics", "MetricsEndpoint"]

log = get_logger(__name__)

# From 100 µs to 60 s: delivery is sub-millisecond, waits can last a minute.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)


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


class ExecutionMetrics:
    """What the execution service measures."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.executions = Counter(
            "hookline_executions", "Finished executions by status and mode.",
            ["status", "mode"], registry=self.registry,
        )
        self.running = Gauge(
            "hookline_executions_running", "Executions running right now.",
            registry=self.registry,
        )
        self.duration_seconds = Histogram(
            "hookline_execution_duration_seconds", "Execution wall time.",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.db_writes = Counter(
            "hookline_execution_db_writes",
            "Execution records written to the database (written) or not (skipped).",
            ["outcome"], registry=self.registry,
        )
        self.queue_length = Gauge(
            "hookline_run_queue_length",
            "Entries in the run stream: runs waiting to start plus runs in progress.",
            registry=self.registry,
        )
        self.queue_pending = Gauge(
            "hookline_run_queue_pending",
            "Runs delivered to a worker and not yet acknowledged (in progress).",
            registry=self.registry,
        )
        self.pruned = Counter(
            "hookline_executions_pruned",
            "Saved executions deleted by history pruning, by reason (age or count).",
            ["reason"], registry=self.registry,
        )
        self.claims = Counter(
            "hookline_run_claims",
            "Runs this replica took over from a worker that stopped renewing them.",
            registry=self.registry,
        )
        self.redeliveries = Counter(
            "hookline_run_redeliveries",
            "Runs that started again on this replica after an earlier delivery.",
            registry=self.registry,
        )
        self.abandoned = Counter(
            "hookline_run_poison",
            "Runs abandoned after too many deliveries (poison runs).",
            registry=self.registry,
        )
        self.start_age_seconds = Histogram(
            "hookline_run_start_age_seconds",
            "Age of a run (since it was queued) when a worker starts it.",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.journal_write_seconds = Histogram(
            "hookline_run_journal_write_seconds",
            "Time to write one node's journal entry.",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )


class MetricsEndpoint:
    """Serves a registry over HTTP at ``listen`` (``host:port``) while entered."""

    def __init__(self, registry: CollectorRegistry, listen: str | None) -> None:
        self._registry = registry
        self._listen = listen
        self._server: WSGIServer | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        if self._listen:
            host, _, port = self._listen.rpartition(":")
            self._server, _thread = start_http_server(
                int(port), host or "0.0.0.0", registry=self._registry
            )
            self.port = self._server.server_port
            log.info("metrics listening", address=f"{host}:{self.port}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
