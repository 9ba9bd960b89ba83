"""The execution service's use cases: start a run, read and list saved records.

A run, in the background: take a slot, run the engine, then hand the final record to
the cache service — the waiting caller's answer does not wait for the database — and
save it (only when the workflow saves executions; otherwise log ``Skipping database
save for execution`` and touch no database at all). A saved run writes one row: its
final record, batched with other runs' (``SaveBatcher``); a run that lasts longer
than ``running_row_after`` also shows as "running" in the history meanwhile. The
record is encoded once; the same bytes go to the cache and the database. A database
write that fails is retried with backoff until it lands: a saved run always gets its
final row.

A run from the queue comes with a ``Delivery``: its journal (``Checkpoint``) and
``settle``, called once the record is handed over and saved, which acknowledges the
queue entry. At shutdown such a run is not failed: it is cancelled quietly and its
entry handed back, so another replica resumes it from its journal.

Each run is one trace span (``hookline_runtime.tracing.run_span``) that continues the trace the
run was started in — the webhook's, through the queue entry — and holds the spans of
its nodes and of handing its record over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from hookline_execution.domain.engine import Engine
from hookline_execution.domain.journal import Checkpoint
from hookline_execution.domain.ports import (
    ExecutionPage,
    ExecutionStore,
    ResultSink,
    ResultTooLarge,
    SavedRow,
)
from hookline_execution.domain.record import RUNNING, ExecutionRecord, encode_json
from hookline_execution.domain.runs import RunScheduler
from hookline_execution.domain.saves import SaveBatcher
from hookline_execution.domain.subworkflows import Subworkflows
from hookline_execution.domain.workflows import WorkflowCache
from hookline_execution.metrics import ExecutionMetrics
from hookline_runtime.clock import utcnow
from hookline_runtime.errors import InvalidArgument, NotFound, Unavailable
from hookline_runtime.logs import bind_execution, get_logger
from hookline_runtime.tracing import EXECUTION_ID, mark_failed, run_span
from hookline_runtime.workflow import Workflow
from hookline_runtime.workflow.calls import ERROR_MODE, SUBWORKFLOW_MODE

__all__ = [
    "MODES",
    "SHUTDOWN_MESSAGE",
    "STATUSES",
    "Delivery",
    "ExecutionService",
    "StartRequest",
]

log = get_logger(__name__)

MODES = frozenset({"webhook", "manual", "schedule", SUBWORKFLOW_MODE, ERROR_MODE})
STATUSES = frozenset({"running", "success", "error"})
SHUTDOWN_MESSAGE = "execution service shut down"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_SAVE_RETRY_MAX_SECONDS = 5.0
RUNNING_ROW_AFTER_SECONDS = 0.25
"""A saved run that lasts longer than this shows as running in the history; a shorter
one writes only its final row."""


@dataclass(frozen=True, slots=True)
class StartRequest:
    """One run to start. ``mode`` None means "from the trigger node's type"."""

    execution_id: str
    workflow: Mapping[str, Any]
    trigger_output: Any
    mode: str | None = None
    publish_early_response: bool = False
    keep_result_seconds: int = 0
    depth: int = 1
    """How deep the run is nested (1: a top run; see ``subworkflows``)."""
    traceparent: str = ""
    tracestate: str = ""
    """The W3C trace context the run continues (empty: the current one, if any)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A run taken from the queue: its journal, and ``settle(handed_over)``, called
    once when the run has ended — True when its record reached the cache service (and
    the database, when saving), False when it did not and the entry must stay."""

    checkpoint: Checkpoint
    settle: Callable[[bool], None]
    redelivered: bool = False


@dataclass(slots=True)
class _Job:
    execution_id: str
    workflow_id: str
    workflow: Workflow
    mode: str
    trigger_output: Any
    publish_early_response: bool
    keep_seconds: int = 0
    depth: int = 1
    delivery: Delivery | None = None
    traceparent: str = ""
    tracestate: str = ""
    early: list[asyncio.Task[None]] = field(default_factory=list)
    saving: asyncio.Task[None] | None = None

    @property
    def save(self) -> bool:
        return self.workflow.settings.saveExecutionToDatabase

    @property
    def ttl(self) -> int:
        return self.workflow.settings.resultTtlSeconds


class ExecutionService:
    """Starts runs and reads saved records; one per process."""

    def __init__(
        self,
        *,
        engine: Engine,
        store: ExecutionStore,
        sink: ResultSink,
        scheduler: RunScheduler,
        max_result_bytes: int,
        workflows: WorkflowCache | None = None,
        metrics: ExecutionMetrics | None = None,
        running_row_after: float = RUNNING_ROW_AFTER_SECONDS,
        subworkflows: Subworkflows | None = None,
    ) -> None:
        self._engine = engine
        self._subworkflows = subworkflows
        self._store = store
        self._sink = sink
        self._scheduler = scheduler
        self._max_result_bytes = max_result_bytes
        self._workflows = workflows or WorkflowCache()
        self._saves = SaveBatcher(store)
        self._running_row_after = running_row_after
        self._metrics = metrics or ExecutionMetrics()

    def use_subworkflows(self, subworkflows: Subworkflows) -> None:
        """Let executeWorkflow nodes and errorWorkflow settings start runs (set once,
        when the process is assembled: starting runs needs this service itself)."""
        self._subworkflows = subworkflows

    # ------------------------------------------------------------------ start
    @property
    def capacity(self) -> int:
        """How many more runs this process takes on before it is full."""
        return self._scheduler.capacity - self._scheduler.in_flight

    async def wait_for_room(self) -> None:
        """Return once this process can take on another run."""
        await self._scheduler.wait_for_room()

    def is_running(self, execution_id: str) -> bool:
        return self._scheduler.running(execution_id)

    def start(self, request: StartRequest, delivery: Delivery | None = None) -> bool:
        """Schedule a run and return at once; False when this execution id is
        already running or finished here (nothing new starts)."""
        job = self._job(request, delivery)
        if self._scheduler.known(request.execution_id):
            return False
        return self._scheduler.submit(job.execution_id, self._traced(job, self._run))

    def abandon(self, request: StartRequest, delivery: Delivery, deliveries: int) -> bool:
        """End a run that was delivered ``deliveries`` times without finishing (a
        poison run): no node runs again; its record is an error naming the node it
        was stuck at, handed over and saved like any other."""
        job = self._job(request, delivery)
        if self._scheduler.known(request.execution_id):
            return False
        return self._scheduler.submit(
            job.execution_id, self._traced(job, lambda job: self._abandon(job, deliveries))
        )

    def _job(self, request: StartRequest, delivery: Delivery | None) -> _Job:
        if not self._scheduler.accepting:
            raise Unavailable("the execution service is shutting down")
        if not request.execution_id:
            raise InvalidArgument("execution_id is required", field="execution_id")
        if request.mode is not None and request.mode not in MODES:
            raise InvalidArgument(f"unknown mode {request.mode!r}", field="mode")
        workflow = self._workflows.parse(request.workflow)
        raw_id = request.workflow.get("id")
        return _Job(
            execution_id=request.execution_id,
            workflow_id=raw_id if isinstance(raw_id, str) else "",
            workflow=workflow,
            mode=request.mode or workflow.trigger_type,
            trigger_output=request.trigger_output,
            publish_early_response=request.publish_early_response,
            keep_seconds=request.keep_result_seconds,
            depth=request.depth,
            delivery=delivery,
            traceparent=request.traceparent,
            tracestate=request.tracestate,
        )

    async def shutdown(self, grace: float) -> int:
        """Take no new runs; let runs in flight finish within ``grace`` seconds, then
        cancel the rest. Runs from the queue stop quietly (their entries go back to the
        queue); the others end as errors. Returns how many were cancelled."""
        cancelled = await self._scheduler.drain(grace)
        if cancelled:
            log.warning("cancelled runs at shutdown", count=cancelled, grace_seconds=grace)
        return cancelled

    # ------------------------------------------------------------------ reads
    async def get(self, execution_id: str) -> bytes:
        if not execution_id:
            raise InvalidArgument("execution_id is required", field="execution_id")
        record = await self._store.get(execution_id)
        if record is None:
            raise NotFound(f"no saved execution {execution_id}")
        return record

    async def list(
        self, *, workflow_id: str | None, status: str | None, limit: int, cursor: str | None
    ) -> ExecutionPage:
        if limit == 0:
            limit = DEFAULT_PAGE_SIZE
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidArgument(f"limit must be 1..{MAX_PAGE_SIZE}", field="limit")
        if status is not None and status not in STATUSES:
            raise InvalidArgument(f"unknown status {status!r}", field="status")
        return await self._store.list(
            workflow_id=workflow_id or None, status=status, limit=limit, cursor=cursor or None
        )

    # -------------------------------------------------------------------- run
    async def _traced(self, job: _Job, run: Callable[[_Job], Awaitable[None]]) -> None:
        """``run(job)`` inside the run's trace span, which continues the trace the run
        was started in (a no-op while tracing is off)."""
        attributes = {
            EXECUTION_ID: job.execution_id,
            "hookline.workflow_id": job.workflow_id,
            "hookline.mode": job.mode,
        }
        with run_span("workflow run", job.traceparent, job.tracestate, attributes):
            await run(job)

    async def _run(self, job: _Job) -> None:
        bind_execution(job.execution_id)
        record: ExecutionRecord | None = None
        checkpoint = job.delivery.checkpoint if job.delivery else None
        try:
            async with self._scheduler.run_slot() as slot:
                self._metrics.running.inc()
                try:
                    record = self._new_record(job)
                    if checkpoint is not None:
                        await checkpoint.load()
                        # A run taken over keeps the start of its first delivery.
                        record.started_at = checkpoint.started_at or record.started_at
                    self._save_start(job, record)
                    hook = (
                        (lambda response: self._publish_early(job, response))
                        if job.publish_early_response
                        else None
                    )
                    calls = (
                        self._subworkflows.for_run(job.execution_id, job.depth, slot.released)
                        if self._subworkflows is not None
                        else None
                    )
                    await self._engine.run(
                        job.workflow, record, job.trigger_output, hook, checkpoint, calls
                    )
                finally:
                    self._metrics.running.dec()
        except asyncio.CancelledError:
            if job.delivery is not None:  # its queue entry is handed back
                log.info("Run stopped at shutdown; it resumes on another replica")
                raise
            record = record or self._new_record(job)
            record.fail(record.last_node, SHUTDOWN_MESSAGE, utcnow())
            await self._finish(job, record)
            raise
        except Exception as exc:  # the boundary of a background run
            log.exception("execution crashed")
            record = record or self._new_record(job)
            record.fail(record.last_node, f"internal error ({type(exc).__name__})", utcnow())
        await self._end(job, record)

    async def _abandon(self, job: _Job, deliveries: int) -> None:
        bind_execution(job.execution_id)
        record = self._new_record(job)
        assert job.delivery is not None
        await job.delivery.checkpoint.load()
        record.started_at = job.delivery.checkpoint.started_at or record.started_at
        done = job.delivery.checkpoint.done
        stuck_at: str | None = None
        for name in job.workflow.order:
            node = job.workflow.nodes[name]
            if name in done:
                record.nodes[name] = done[name].node_run()
            elif not node.is_trigger:
                stuck_at = name
                break
        message = f"run abandoned after {deliveries} deliveries"
        record.fail(stuck_at, message, utcnow())
        log.error("Run abandoned", deliveries=deliveries, node=stuck_at)
        self._metrics.abandoned.inc()
        await self._end(job, record)

    async def _end(self, job: _Job, record: ExecutionRecord) -> None:
        if record.error is not None:
            mark_failed(str(record.error.get("message", "")))
        handed_over = await self._finish(job, record)
        if self._subworkflows is not None:  # before the entry is acknowledged
            await self._subworkflows.after_failure(record, job.workflow, job.depth)
        if job.delivery is not None:
            if not handed_over:
                self._scheduler.forget(job.execution_id)
            job.delivery.settle(handed_over)

    def _new_record(self, job: _Job) -> ExecutionRecord:
        return ExecutionRecord(
            id=job.execution_id,
            workflow_id=job.workflow_id,
            workflow_name=job.workflow.name,
            mode=job.mode,
            started_at=utcnow(),
        )

    def _save_start(self, job: _Job, record: ExecutionRecord) -> None:
        """Schedule the "running" row for a run that lasts longer than
        ``running_row_after`` seconds (a shorter run writes only its final row), or log
        that nothing will be saved."""
        if not job.save:
            log.info("Skipping database save for execution", execution_id=job.execution_id)
            self._metrics.db_writes.labels("skipped").inc()
            return
        if job.delivery is not None and job.delivery.redelivered:
            return  # an earlier delivery wrote the running row (or the final write will)
        job.saving = asyncio.create_task(self._insert_running(record))

    async def _insert_running(self, record: ExecutionRecord) -> None:
        await asyncio.sleep(self._running_row_after)  # only runs that last get this row
        try:
            await self._store.insert(
                execution_id=record.id,
                workflow_id=record.workflow_id,
                mode=record.mode,
                status=RUNNING,
                started_at=record.started_at,
                finished_at=None,
                record_json=record.encode(),
            )
        except Unavailable as exc:
            log.error("could not save the running execution", error=exc.message)

    def _publish_early(self, job: _Job, response: dict[str, Any]) -> None:
        """Hand the first httpResponse's response over while the run goes on."""
        job.early.append(asyncio.create_task(self._store_response(job, encode_json(response))))

    async def _store_response(self, job: _Job, response_json: bytes) -> None:
        try:
            await self._sink.store_response(job.execution_id, response_json, job.ttl)
        except Unavailable as exc:
            log.error("could not hand the early response to the cache service", error=exc.message)

    async def _finish(self, job: _Job, record: ExecutionRecord) -> bool:
        """Hand the final record to the cache service, then save it (when saving).
        True when the record reached the cache service (a save always lands in the
        end: it is retried until the database takes it)."""
        self._metrics.executions.labels(record.status, record.mode).inc()
        if record.finished_at is not None:
            elapsed = (record.finished_at - record.started_at).total_seconds()
            self._metrics.duration_seconds.observe(elapsed)
        # A running row not written yet never will be (the final row replaces it
        # anyway); the early response goes out before the result.
        if job.saving is not None and not job.saving.done():
            job.saving.cancel()
        pending = [*job.early, *([job.saving] if job.saving else [])]
        if pending:
            await asyncio.wait(pending)
        try:
            data = record.encode()
        except (ValueError, TypeError, RecursionError) as exc:  # e.g. absurdly deep output
            log.error("execution record cannot be encoded", error=str(exc))
            record = record.stripped(
                f"the execution result cannot be encoded as JSON ({type(exc).__name__})"
            )
            data = record.encode()
        if len(data) > self._max_result_bytes:
            record = record.too_large(len(data), self._max_result_bytes)
            data = record.encode()
        handed_over = True
        try:
            await self._sink.store_result(job.execution_id, data, job.ttl, job.keep_seconds)
        except Unavailable as exc:
            log.error("could not hand the result to the cache service", error=exc.message)
            handed_over = False
        except ResultTooLarge:
            record = record.too_large(len(data), self._max_result_bytes)
            data = record.encode()
            try:
                await self._sink.store_result(job.execution_id, data, job.ttl, job.keep_seconds)
            except (Unavailable, ResultTooLarge) as exc:
                log.error("could not hand the result to the cache service", error=str(exc))
                handed_over = False
        if job.save:
            await self._save_end(record, data)
        return handed_over

    async def _save_end(self, record: ExecutionRecord, data: bytes) -> None:
        """Write the final row, retrying with backoff while the database is away."""
        failures = 0
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(Unavailable),
            wait=wait_exponential_jitter(multiplier=0.05, max=_SAVE_RETRY_MAX_SECONDS, jitter=0.05),
            reraise=True,
        ):
            with attempt:
                try:
                    await self._write_final(record, data)
                except Unavailable as exc:
                    failures += 1
                    if failures == 1:
                        log.error("could not save the execution; retrying", error=exc.message)
                    raise
        if failures:
            log.info("Saved the execution after retrying", attempts=failures + 1)
        self._metrics.db_writes.labels("written").inc()

    async def _write_final(self, record: ExecutionRecord, data: bytes) -> None:
        await self._saves.save(
            SavedRow(
                execution_id=record.id,
                workflow_id=record.workflow_id,
                mode=record.mode,
                status=record.status,
                started_at=record.started_at,
                finished_at=record.finished_at,
                record_json=data,
            )
        )
