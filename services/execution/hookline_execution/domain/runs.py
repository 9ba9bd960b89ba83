"""Background runs: at most N at once, each execution id at most once per process,
and a drain that lets runs finish within a grace period before cancelling them.

A run that waits for another run (an executeWorkflow child) gives its slot up while
it waits (``RunSlot.released``) and does not count as in flight meanwhile, so that
waiting parents can never fill a process and leave their children no room to run."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Self

from hookline_runtime.logs import get_logger

__all__ = ["RunScheduler", "RunSlot"]

log = get_logger(__name__)


class RunScheduler:
    """Starts runs as tasks at once; runs take a slot (``slot()``) to execute, so at
    most ``max_concurrent`` execute together and the rest wait in-process."""

    def __init__(self, max_concurrent: int, *, remember: int = 100_000) -> None:
        self._slots = asyncio.Semaphore(max_concurrent)
        self._capacity = max_concurrent
        self._forget: set[str] = set()
        self._freed = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._accepting = True
        self._parked = 0

    @property
    def accepting(self) -> bool:
        return self._accepting

    @property
    def in_flight(self) -> int:
        """Runs started here and not ended, less those waiting for another run."""
        return len(self._tasks) - self._parked

    @property
    def capacity(self) -> int:
        """How many runs execute at once."""
        return self._capacity

    def slot(self) -> asyncio.Semaphore:
        """``async with scheduler.slot():`` around the part of a run that executes."""
        return self._slots

    def run_slot(self) -> RunSlot:
        """``slot()`` that the run can give up while it waits for another run."""
        return RunSlot(self)

    def known(self, key: str) -> bool:
        """Whether a run with this key is running or finished in this process."""
        return key in self._tasks or key in self._finished

    def running(self, key: str) -> bool:
        return key in self._tasks

    def forget(self, key: str) -> None:
        """Let a run with this key start again here once it is done (its end did not
        get through)."""
        self._finished.pop(key, None)
        self._forget.add(key)

    def submit(self, key: str, run: Coroutine[Any, Any, None]) -> bool:
        """Start ``run`` in the background; False (and ``run`` is closed) when a run
        with this key is already known."""
        if self.known(key):
            run.close()
            return False
        task = asyncio.create_task(run, name=f"execution {key}")
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._done(key, done))
        return True

    def close(self) -> None:
        """Take no new runs."""
        self._accepting = False

    async def drain(self, grace: float, cleanup_seconds: float = 10.0) -> int:
        """Wait up to ``grace`` seconds for the runs in flight, then cancel the rest
        and give them ``cleanup_seconds`` to record their end. Returns how many
        were cancelled."""
        self.close()
        pending = set(self._tasks.values())
        if not pending:
            return 0
        _, still = await asyncio.wait(pending, timeout=grace)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=cleanup_seconds)
        return len(still)

    async def wait_for_room(self) -> None:
        """Return once fewer than ``capacity`` runs are in flight."""
        while self.in_flight >= self._capacity:
            self._freed.clear()
            await self._freed.wait()

    def _done(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(key, None)
        self._freed.set()
        if key in self._forget:
            self._forget.discard(key)
            return
        self._finished[key] = None
        if len(self._finished) > self._remember:
            self._finished.popitem(last=False)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("execution task crashed", execution_id=key, exc_info=exc)


class RunSlot:
    """One run's execution slot: ``async with scheduler.run_slot() as slot:``."""

    def __init__(self, scheduler: RunScheduler) -> None:
        self._scheduler = scheduler
        self._held = False

    async def __aenter__(self) -> Self:
        await self._scheduler._slots.acquire()
        self._held = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._held:
            self._held = False
            self._scheduler._slots.release()

    @asynccontextmanager
    async def released(self) -> AsyncIterator[None]:
        """Give the slot up (and stop counting as in flight) for the block; take it
        back after. Cancelled while taking it back, the run ends without it."""
        scheduler = self._scheduler
        if not self._held:
            yield
            return
        self._held = False
        scheduler._slots.release()
        scheduler._parked += 1
        scheduler._freed.set()
        try:
            yield
        finally:
            scheduler._parked -= 1
            await scheduler._slots.acquire()
            self._held = True
