"""Final records of many runs, written together (one transaction per batch).

Each run hands its final row to ``SaveBatcher.save`` and waits for the commit. The
rows handed over while a batch is being written form the next batch, written as soon
as the first commits: at one run at a time every row goes out alone at once, and
under load the rows of a whole round of runs share one transaction — no timer, no
added latency. A batch that fails fails every run in it (``Unavailable``); each run
retries on its own.
"""

from __future__ import annotations

import asyncio

from hookline_execution.domain.ports import ExecutionStore, SavedRow
from hookline_runtime.errors import Unavailable

__all__ = ["SaveBatcher"]


class SaveBatcher:
    def __init__(self, store: ExecutionStore, *, max_batch: int = 500) -> None:
        self._store = store
        self._max_batch = max_batch
        self._pending: list[tuple[SavedRow, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def save(self, row: SavedRow) -> None:
        """Write ``row`` (insert, or replace the running row); ``Unavailable`` when
        the database did not take its batch."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all(), name="execution-saves")
        await future

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    await self._store.save([row for row, _ in batch])
                except Unavailable as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(Unavailable(exc.message))
                    continue
                except BaseException:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(Unavailable("the save was interrupted"))
                    raise
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._writer = None
