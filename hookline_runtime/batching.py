"""Coalescing: calls made while one batch is on its way go together in the next one.

``Coalescer(send)`` gives every caller ``await coalescer.submit(item)``. The first
item of a quiet moment starts a sender task, which takes everything submitted by
then (callers of the same event-loop turn) and hands it to ``send`` as one list;
items submitted while ``send`` is awaited wait for it and make the next batch. Under
load, batches grow with the round trip they share; alone, an item goes at once.

It serves the Redis auto-pipeline (``hookline_runtime.redis.pipeline``: the commands
of concurrent callers in one write) and the run queue's producer (a batch of runs
appended by one script, so that one ``XADD`` burst reaches the workers' blocked
``XREADGROUP`` whole instead of one run at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Coalescer(Generic[ItemT, ResultT]):
    """``send(items)`` returns one result per item, in order; when it raises, every
    caller of that batch gets the exception.

    A batch holds at most ``max_items`` items (None: no limit) and, past its first
    item, at most ``max_weight`` in total ``weight`` (bytes, say), so that one burst
    cannot make one oversized call. A caller cancelled before its batch is taken is
    left out of it. When the coalescer is closed, the callers still waiting get
    ``aborted()``."""

    def __init__(
        self,
        send: Callable[[list[ItemT]], Awaitable[Sequence[ResultT]]],
        *,
        name: str,
        max_items: int | None = 128,
        weight: Callable[[ItemT], int] | None = None,
        max_weight: int = 0,
        aborted: Callable[[], Exception] | None = None,
    ) -> None:
        self._send = send
        self._name = name
        self._max_items = max_items
        self._weight = weight
        self._max_weight = max_weight
        self._aborted = aborted or (lambda: RuntimeError(f"{name}: closed"))
        self._pending: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def submit(self, item: ItemT) -> ResultT:
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all(), name=self._name)
        return await future

    async def close(self) -> None:
        """Stop sending; callers still waiting get ``aborted()``."""
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        self._fail([future for _, future in self._pending], self._aborted())
        self._pending.clear()

    @staticmethod
    def _fail(futures: list[asyncio.Future[ResultT]], error: BaseException) -> None:
        for future in futures:
            if not future.done():
                future.set_exception(error)

    def _take(self) -> list[tuple[ItemT, asyncio.Future[ResultT]]]:
        batch: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        total = taken = 0
        for item, future in self._pending:
            weight = self._weight(item) if self._weight is not None else 0
            full = (self._max_items is not None and len(batch) >= self._max_items) or (
                self._weight is not None and total + weight > self._max_weight
            )
            if batch and full:
                break
            taken += 1
            if future.done():  # its caller gave up before it went: leave it out
                continue
            batch.append((item, future))
            total += weight
        del self._pending[:taken]
        return batch

    async def _send_all(self) -> None:
        try:
            while self._pending:
                batch = self._take()
                if batch:
                    await self._send_one(batch)
        finally:
            self._sender = None

    async def _send_one(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        futures = [future for _, future in batch]
        try:
            results = await self._send([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self._name}: {len(results)} results for {len(batch)} items")
        except Exception as exc:  # noqa: BLE001 - each caller gets what its batch raised
            self._fail(futures, exc)
            return
        except BaseException:  # the sender itself is stopped: its callers get an answer
            self._fail(futures, self._aborted())
            raise
        for future, result in zip(futures, results, strict=True):
            if not future.done():
                future.set_result(result)
