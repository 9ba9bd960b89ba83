"""Execution history pruning: HOOKLINE_EXECUTIONS_MAX_AGE_HOURS and
HOOKLINE_EXECUTIONS_MAX_COUNT, as n8n's EXECUTIONS_DATA_MAX_AGE and _PRUNE_MAX_COUNT.

Every ``interval_seconds`` a replica that takes the ``Lease`` deletes saved
executions older than the age limit, then those beyond the newest ``max_count``, in
batches of ``batch_size`` rows (one short transaction each, renewing the lease in
between, yielding to other work), and gives the lease back. Replicas that find the
lease taken skip that round, so one replica prunes at a time. Running executions
are never deleted. ``on_pruned(reason, rows)`` counts what went (``age`` or ``count``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from hookline_runtime.clock import utcnow
from hookline_runtime.errors import Unavailable
from hookline_runtime.logs import get_logger

__all__ = ["HistoryPruner", "Lease", "PrunableExecutions"]

log = get_logger(__name__)


class Lease(Protocol):
    """One replica at a time (``hookline_runtime.leases`` has the Redis and SQL ones)."""

    async def acquire(self) -> bool:
        """Take or renew the lease; False when another holder has it."""

    async def release(self) -> None: ...


class PrunableExecutions(Protocol):
    """Deletes saved executions, at most ``limit`` finished rows per call."""

    async def delete_started_before(self, cutoff: datetime, limit: int) -> int: ...

    async def delete_beyond_newest(self, keep: int, limit: int) -> int: ...


class HistoryPruner:
    def __init__(
        self,
        store: PrunableExecutions,
        lease: Lease,
        *,
        max_age_hours: float | None,
        max_count: int | None,
        batch_size: int = 500,
        interval_seconds: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
        on_pruned: Callable[[str, int], None] | None = None,
    ) -> None:
        self._store = store
        self._lease = lease
        self._max_age = None if max_age_hours is None else timedelta(hours=max_age_hours)
        self._max_count = max_count
        self._batch = batch_size
        self._interval = interval_seconds
        self._clock = clock
        self._on_pruned = on_pruned

    @property
    def enabled(self) -> bool:
        return self._max_age is not None or self._max_count is not None

    async def prune_once(self) -> dict[str, int] | None:
        """One round; rows deleted per reason, or None when another replica holds
        the lease."""
        if not await self._lease.acquire():
            return None
        pruned = {"age": 0, "count": 0}
        try:
            if self._max_age is not None:
                cutoff = self._clock() - self._max_age
                pruned["age"] = await self._batches(
                    "age", lambda: self._store.delete_started_before(cutoff, self._batch)
                )
            if self._max_count is not None:
                keep = self._max_count
                pruned["count"] = await self._batches(
                    "count", lambda: self._store.delete_beyond_newest(keep, self._batch)
                )
        finally:
            await self._lease.release()
        if pruned["age"] or pruned["count"]:
            log.info("Pruned saved executions", by_age=pruned["age"], by_count=pruned["count"])
        return pruned

    async def _batches(self, reason: str, delete: Callable[[], Awaitable[int]]) -> int:
        total = 0
        while True:
            deleted = await delete()
            total += deleted
            if deleted and self._on_pruned is not None:
                self._on_pruned(reason, deleted)
            if deleted < self._batch or not await self._lease.acquire():
                return total  # done, or the lease went elsewhere: stop here
            await asyncio.sleep(0)  # let runs and calls go between batches

    async def run(self) -> None:
        """Prune now and every ``interval_seconds``, until cancelled."""
        while True:
            try:
                await self.prune_once()
            except Unavailable as exc:
                log.warning("Could not prune saved executions", error=exc.message)
            await asyncio.sleep(self._interval)
