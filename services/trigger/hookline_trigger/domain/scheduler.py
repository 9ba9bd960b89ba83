"""The cron scheduler: one timer per active schedule workflow.

Every replica runs the same timers; at each tick each of them asks the ``TickLedger``
to claim (workflow, tick) and only the one that wins starts the execution, so a tick
fires exactly once however many replicas run.

A timer starts from the later of the workflow's last claimed tick and its last
change. Ticks older than ``misfire_grace_seconds`` (missed while every replica was
down, or while the process stalled) are skipped and logged as
"Skipped missed schedule ticks" with their count, never replayed in a burst.

``apply(snapshot)`` is the trigger index's listener: new schedules get a timer,
removed ones lose it, and a changed cron or time zone restarts it; a change to the
rest of the definition is picked up at the next tick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from hookline_runtime.clock import to_iso, utcnow
from hookline_runtime.errors import HooklineError, QueueFull
from hookline_runtime.ids import new_id
from hookline_runtime.logs import bind_execution, get_logger
from hookline_trigger.domain.cron import CronTicks
from hookline_trigger.domain.ports import ExecutionStarter, TickLedger
from hookline_trigger.domain.records import ExecutionMode, ScheduleEntry, StartRequest
from hookline_trigger.domain.snapshot import Snapshot

__all__ = ["Scheduler"]

log = get_logger(__name__)

_MISSED_COUNT_CAP = 100_000


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Scheduler task crashed", task=task.get_name(), exc_info=task.exception())


class Scheduler:
    def __init__(
        self,
        *,
        ledger: TickLedger,
        starter: ExecutionStarter,
        clock: Callable[[], datetime] = utcnow,
        misfire_grace_seconds: float = 2.0,
        max_sleep_seconds: float = 30.0,
        on_tick: Callable[[str, int], None] | None = None,
    ) -> None:
        """``on_tick(outcome, count)`` hears of every tick: fired, claimed_elsewhere,
        skipped or failed."""
        self._ledger = ledger
        self._starter = starter
        self._clock = clock
        self._grace = timedelta(seconds=misfire_grace_seconds)
        self._max_sleep = max_sleep_seconds
        self._entries: dict[str, ScheduleEntry] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._firing: set[asyncio.Task[None]] = set()
        self._closed = False
        self._claims_failing = False
        self._on_tick = on_tick or (lambda outcome, count: None)

    @property
    def scheduled(self) -> frozenset[str]:
        """Ids of the workflows with a running timer."""
        return frozenset(self._timers)

    def apply(self, snapshot: Snapshot) -> None:
        """Bring the timers in line with the snapshot's schedules."""
        if self._closed:
            return
        schedules = snapshot.schedules
        for workflow_id in list(self._timers):
            entry = schedules.get(workflow_id)
            if entry is None or entry.timing != self._entries[workflow_id].timing:
                self._timers.pop(workflow_id).cancel()
                log.info("Stopped schedule", workflow_id=workflow_id)
        self._entries = dict(schedules)
        for workflow_id, entry in schedules.items():
            if workflow_id not in self._timers:
                task = asyncio.create_task(self._run(entry), name=f"schedule {workflow_id}")
                task.add_done_callback(_log_crash)
                self._timers[workflow_id] = task
                log.info(
                    "Scheduled workflow",
                    workflow_id=workflow_id,
                    cron=entry.params.cron,
                    timezone=entry.params.timezone,
                )

    async def stop(self) -> None:
        """Cancel every timer and wait for ticks being fired."""
        self._closed = True
        timers = list(self._timers.values())
        self._timers.clear()
        for task in timers:
            task.cancel()
        await asyncio.gather(*timers, *self._firing, return_exceptions=True)

    async def _start_cursor(self, entry: ScheduleEntry) -> datetime:
        try:
            last = await self._ledger.last_fired(entry.workflow_id)
        except HooklineError as exc:
            log.warning(
                "Could not read the last schedule tick",
                workflow_id=entry.workflow_id,
                error=exc.message,
            )
            last = None
        return max(last, entry.updated_at) if last is not None else entry.updated_at

    async def _run(self, entry: ScheduleEntry) -> None:
        workflow_id = entry.workflow_id
        ticks = CronTicks(entry.params.cron, entry.params.timezone)
        cursor = await self._start_cursor(entry)
        while True:
            now = self._clock()
            tick = ticks.next_after(cursor)
            horizon = now - self._grace
            if tick < horizon:
                missed = await asyncio.to_thread(
                    ticks.count_between, cursor, horizon, cap=_MISSED_COUNT_CAP
                )
                log.warning(
                    "Skipped missed schedule ticks",
                    workflow_id=workflow_id,
                    count=missed,
                    first=to_iso(tick),
                    until=to_iso(horizon),
                )
                self._on_tick("skipped", missed)
                cursor = horizon
                continue
            delay = (tick - now).total_seconds()
            if delay > 0:
                await asyncio.sleep(min(delay, self._max_sleep))
                continue
            cursor = tick
            task = asyncio.create_task(self._fire(workflow_id, tick), name=f"tick {workflow_id}")
            task.add_done_callback(_log_crash)
            self._firing.add(task)
            task.add_done_callback(self._firing.discard)

    async def _fire(self, workflow_id: str, tick: datetime) -> None:
        try:
            won = await self._ledger.claim(workflow_id, tick)
        except HooklineError as exc:
            if not self._claims_failing:  # once per outage; the metric counts every tick
                self._claims_failing = True
                log.error(
                    "Could not claim schedule ticks; skipping them until the ledger is back",
                    workflow_id=workflow_id,
                    tick=to_iso(tick),
                    error=exc.message,
                )
            self._on_tick("failed", 1)
            return
        if self._claims_failing:
            self._claims_failing = False
            log.info("Schedule tick claims work again")
        entry = self._entries.get(workflow_id)
        if not won or entry is None:
            self._on_tick("claimed_elsewhere" if not won else "skipped", 1)
            return
        execution_id = new_id()
        bind_execution(execution_id)
        try:
            await self._starter.start(
                StartRequest(
                    execution_id=execution_id,
                    workflow_json=entry.definition,
                    mode=ExecutionMode.SCHEDULE,
                    trigger_output={"firedAt": to_iso(tick)},
                )
            )
        except QueueFull as exc:
            log.warning(
                "Skipped schedule tick: the run queue is full",
                workflow_id=workflow_id,
                tick=to_iso(tick),
                error=exc.message,
            )
            self._on_tick("skipped", 1)
            return
        except HooklineError as exc:
            log.error(
                "Could not start scheduled execution",
                workflow_id=workflow_id,
                tick=to_iso(tick),
                error=exc.message,
            )
            self._on_tick("failed", 1)
            return
        self._on_tick("fired", 1)
        log.info("Fired schedule tick", workflow_id=workflow_id, tick=to_iso(tick))
