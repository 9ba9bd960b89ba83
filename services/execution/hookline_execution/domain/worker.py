"""The queue worker: takes runs from the run queue and keeps them until they end
(DESIGN.md section 8).

- Reads new runs in batches, never more than this process has room for.
- Renews its runs in flight well inside the claim time, so a slow run is never taken
  from a live worker; a run taken anyway (this worker stalled) is logged.
- Takes over runs idle past the claim time (their worker died), resuming each from
  its journal; a run delivered more than ``max_deliveries`` times is abandoned as an
  error record instead of running again.
- Acknowledges a run's entry (which also deletes the entry, and its journal if it
  may have one) once its record is handed over and saved; acknowledgements that
  fail are retried.
- ``stop_reading`` ends reading and claiming; ``hand_back`` then returns every run
  still unfinished to the queue at once, so another replica takes it without waiting
  out the claim time — the runs the last read or claim delivered included.

Redis outages are logged once; the worker keeps trying with backoff, and the
execution service meanwhile runs what reaches it directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextvars import Context
from dataclasses import dataclass, field
from typing import Protocol, Self

from hookline_execution.domain.journal import Checkpoint, RunJournal
from hookline_execution.domain.service import Delivery, ExecutionService, StartRequest
from hookline_execution.metrics import ExecutionMetrics
from hookline_runtime.errors import InvalidArgument, Unavailable
from hookline_runtime.logs import get_logger

__all__ = ["QueueStats", "QueueWorker", "QueuedRun", "RunQueue"]

log = get_logger(__name__)

_LAST_READ_SECONDS = 5.0
"""How long ``hand_back`` waits for a read in progress to return (a read blocks for
about a second; its client times out after five)."""


@dataclass(frozen=True, slots=True)
class QueuedRun:
    """One entry of the run queue, as delivered to this worker. ``request`` is None
    when the entry cannot be read (it is dropped with an error log)."""

    entry_id: str
    execution_id: str
    request: StartRequest | None
    deliveries: int
    claimed: bool

    @property
    def queued_at(self) -> float:
        """When the run was queued (epoch seconds): stream ids start with it."""
        return int(self.entry_id.split("-", 1)[0]) / 1000


@dataclass(frozen=True, slots=True)
class QueueStats:
    length: int
    pending: int


class RunQueue(Protocol):
    """The consumer side of the run queue; adapters raise ``Unavailable`` when the
    queue cannot be reached."""

    async def prepare(self) -> None:
        """Create the stream and consumer group if they do not exist."""

    async def read(self, count: int) -> list[QueuedRun]:
        """Up to ``count`` new runs, waiting briefly (about a second) for one."""

    async def claim(self, count: int, min_idle_seconds: float) -> list[QueuedRun]:
        """Up to ``count`` runs idle for ``min_idle_seconds``, now this worker's."""

    async def renew(self, entry_ids: list[str]) -> list[str]:
        """Reset the idle time of these entries; returns those no longer this
        worker's."""

    async def ack(self, runs: list[tuple[str, str]]) -> None:
        """Acknowledge and delete entries, given as (entry id, execution id) pairs, and
        the journals of those executions (none for an empty execution id)."""

    async def hand_back(self, runs: list[tuple[str, int]]) -> None:
        """Make these (entry id, deliveries to count) entries claimable at once."""

    async def stats(self) -> QueueStats: ...


@dataclass(slots=True)
class _InFlight:
    run: QueuedRun
    checkpoint: Checkpoint
    extra_entries: list[str] = field(default_factory=list)


class QueueWorker:
    """``async with QueueWorker(...)`` reads and claims until ``stop_reading``."""

    def __init__(
        self,
        queue: RunQueue,
        journal: RunJournal,
        service: ExecutionService,
        metrics: ExecutionMetrics,
        *,
        claim_seconds: float,
        max_deliveries: int,
        batch: int = 64,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self._queue = queue
        self._journal = journal
        self._service = service
        self._metrics = metrics
        self._claim_seconds = claim_seconds
        self._max_deliveries = max_deliveries
        self._batch = batch
        self._in_flight: dict[str, _InFlight] = {}  # by execution id
        self._to_ack: list[tuple[str, str]] = []
        self._reading = True
        self._down = False
        self._announced = False
        self._tick = min(1.0, claim_seconds / 4)
        self._renew_every = claim_seconds / 3
        self._loops: list[asyncio.Task[None]] = []
        self._claiming = asyncio.Lock()
        self._flushes: set[asyncio.Task[None]] = set()
        self._on_state = on_state

    @property
    def queue_up(self) -> bool:
        return not self._down

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def __aenter__(self) -> Self:
        try:
            await self._queue.prepare()
        except Unavailable as exc:
            self._outage(exc)
        else:
            self._recovered()
        self._loops = [
            asyncio.create_task(self._read_loop(), name="run-queue-reader"),
            asyncio.create_task(self._keep_loop(), name="run-queue-keeper"),
        ]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the loops, then let the last acknowledgements through.

        A loop that does not end within ``_LAST_READ_SECONDS`` of its cancellation is
        left behind rather than holding the shutdown: redis-py can swallow the
        cancellation of a blocked ``XREADGROUP`` and wait on forever (redis/redis-py
        issues 2028 and 2579)."""
        self._reading = False
        for task in self._loops:
            task.cancel()
        if self._loops:
            _, stuck = await asyncio.wait(self._loops, timeout=_LAST_READ_SECONDS)
            if stuck:
                log.warning(
                    "Run queue loop did not stop; shutting down without it",
                    loops=sorted(task.get_name() for task in stuck),
                )
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)
        await self._flush_acks()

    # ------------------------------------------------------------------ reading
    async def _read_loop(self) -> None:
        while self._reading:
            await self._service.wait_for_room()
            if not self._reading:
                return
            try:
                runs = await self._queue.read(min(self._batch, self._service.capacity))
            except Unavailable as exc:
                self._outage(exc)
                await asyncio.sleep(self._tick)  # backoff while Redis is away
                continue
            self._recovered()
            for run in runs:
                self._take(run)

    def _take(self, run: QueuedRun) -> None:
        # The execution id goes on these lines only: bound to the reader's or keeper's
        # context it would stay there and tag their later lines (an outage, another
        # run's acknowledgement) with a run they have nothing to do with.
        execution_id = run.execution_id
        if run.request is None:
            log.error(
                "Dropped an unreadable run queue entry",
                entry=run.entry_id,
                execution_id=execution_id,
            )
            self._acknowledge(run.entry_id, run.execution_id if run.claimed else "")
            return
        self._metrics.start_age_seconds.observe(max(0.0, time.time() - run.queued_at))
        if run.claimed:
            self._metrics.claims.inc()
            log.warning(
                "Run claimed",
                entry=run.entry_id,
                deliveries=run.deliveries,
                execution_id=execution_id,
            )
        known = self._in_flight.get(run.execution_id)
        if known is not None:  # a second entry of a run in flight here
            if known.run.entry_id != run.entry_id:
                known.extra_entries.append(run.entry_id)
            return
        checkpoint = Checkpoint(self._journal, run.execution_id, resume=run.claimed)
        self._in_flight[run.execution_id] = _InFlight(run, checkpoint)
        delivery = Delivery(
            checkpoint=checkpoint,
            settle=lambda handed_over: self._settle(run, handed_over),
            redelivered=run.claimed,
        )
        try:
            if run.deliveries > self._max_deliveries:
                started = self._service.abandon(
                    run.request, delivery, deliveries=run.deliveries - 1
                )
            else:
                if run.claimed:
                    self._metrics.redeliveries.inc()
                started = self._service.start(run.request, delivery)
        except InvalidArgument as exc:
            log.error(
                "Dropped a run the execution service refuses",
                error=exc.message,
                execution_id=execution_id,
            )
            self._settle(run, True)
            return
        except Unavailable:  # shutting down: ``hand_back`` returns the entry
            return
        if not started:  # this execution finished here already
            self._settle(run, True)

    def _settle(self, run: QueuedRun, handed_over: bool) -> None:
        flight = self._in_flight.pop(run.execution_id, None)
        if not handed_over:
            return  # the entry stays pending and is claimed again later
        # A run that wrote no journal, here or on an earlier delivery, has none to delete.
        journaled = flight is None or flight.checkpoint.may_exist
        self._acknowledge(run.entry_id, run.execution_id if journaled else "")
        for entry in flight.extra_entries if flight else ():
            self._acknowledge(entry, run.execution_id if journaled else "")

    # ---------------------------------------------------------- acknowledgements
    def _acknowledge(self, entry_id: str, execution_id: str) -> None:
        first = not self._to_ack
        self._to_ack.append((entry_id, execution_id))
        if first:  # one flush per loop turn carries every run that ended in it
            # In a context of its own: not that of the run that ended first (whose
            # execution id would tag the flush's lines, an outage included).
            asyncio.get_running_loop().call_soon(self._spawn_flush, context=Context())

    def _spawn_flush(self) -> None:
        task = asyncio.create_task(self._flush_acks(), name="run-queue-ack")
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush_acks(self) -> None:
        batch, self._to_ack = self._to_ack, []
        if not batch:
            return
        try:
            await self._queue.ack(batch)
        except Unavailable as exc:
            self._outage(exc)
            self._to_ack[:0] = batch  # retried by the keeper

    # ------------------------------------------------------- renewing, claiming
    async def _keep_loop(self) -> None:
        last_renewal = time.monotonic()
        while True:
            await asyncio.sleep(self._tick)  # the keeper's period, not a stand-in
            try:
                if self._to_ack:
                    await self._flush_acks()
                if time.monotonic() - last_renewal >= self._renew_every:
                    last_renewal = time.monotonic()
                    await self._renew()
                if self._reading:
                    async with self._claiming:
                        await self._claim()
                stats = await self._queue.stats()
            except Unavailable as exc:
                self._outage(exc)
                continue
            self._recovered()
            self._metrics.queue_length.set(stats.length)
            self._metrics.queue_pending.set(stats.pending)

    async def _renew(self) -> None:
        entries = [flight.run.entry_id for flight in self._in_flight.values()]
        entries += [e for flight in self._in_flight.values() for e in flight.extra_entries]
        if not entries:
            return
        for lost in await self._queue.renew(entries):
            log.warning("Run taken over by another replica while it ran here", entry=lost)

    async def _claim(self) -> None:
        room = self._service.capacity
        if room <= 0:
            return
        for run in await self._queue.claim(min(room, self._batch), self._claim_seconds):
            self._take(run)

    # ----------------------------------------------------------------- shutdown
    def stop_reading(self) -> None:
        """Read and claim nothing more; runs in flight go on."""
        self._reading = False

    async def hand_back(self) -> int:
        """Return every run still unfinished here to the queue; returns how many.

        A blocked ``XREADGROUP`` is served by Redis the moment a run arrives, so a read
        in progress at ``stop_reading`` may still deliver runs to this consumer (and a
        claim in progress may take some). Both are let through first — those runs
        cannot start any more and land in the hand-back — instead of being cancelled,
        which would leave their entries pending here until the claim time."""
        self._reading = False
        reader = self._loops[0] if self._loops else None
        if reader is not None and not reader.done():
            await asyncio.wait({reader}, timeout=_LAST_READ_SECONDS)
        async with self._claiming:
            return await self._hand_back_all()

    async def _hand_back_all(self) -> int:
        left = [
            (entry, flight.run.deliveries - 1)
            for flight in self._in_flight.values()
            for entry in (flight.run.entry_id, *flight.extra_entries)
        ]
        self._in_flight.clear()
        if not left:
            return 0
        try:
            await self._queue.hand_back(left)
        except Unavailable as exc:
            log.error(
                "Could not hand runs back to the queue; they are claimed after the claim time",
                count=len(left),
                error=exc.message,
            )
            return 0
        log.info("Handed unfinished runs back to the queue", count=len(left))
        return len(left)

    # ------------------------------------------------------------------ outages
    def _outage(self, exc: Unavailable) -> None:
        if not self._down:
            self._down = True
            log.error("Run queue unavailable: retrying", error=exc.message)
            if self._on_state is not None:
                self._on_state(False)

    def _recovered(self) -> None:
        if self._down or self._on_state is not None and not self._announced:
            self._announced = True
            if self._down:
                log.warning("Run queue available again")
            self._down = False
            if self._on_state is not None:
                self._on_state(True)
