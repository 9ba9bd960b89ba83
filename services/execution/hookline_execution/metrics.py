"""What the execution service measures, in its own registry, served on
``HOOKLINE_EXECUTION_METRICS_LISTEN`` through ``hookline_runtime.metrics.MetricsEndpoint``:
runs, database writes, the run queue and its journal."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hookline_runtime.metrics import LATENCY_BUCKETS

__all__ = ["ExecutionMetrics"]


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
