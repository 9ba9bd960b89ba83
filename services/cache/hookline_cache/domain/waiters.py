"""Requests waiting for a result in this process, woken without a task each.

A ``Waiter`` is one future (re-armed after each wake); the ``WaiterRegistry`` maps
execution ids to their waiters. Whatever learns that a value was stored — the
store call in this process, the shared subscription, a resync after a reconnect —
wakes the waiters through the registry. A wake carries the value when it is at
hand, else it only says "look again". Wakes that arrive while a waiter is not
waiting are merged into the pending one: every wake is sent after the value was
written, so the waiter's next look at the store sees it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hookline_cache.storage.base import Kind

__all__ = ["LOOK_AGAIN", "Waiter", "WaiterRegistry", "Wake"]


@dataclass(frozen=True, slots=True)
class Wake:
    """Why a waiter woke: a stored value (with its JSON when at hand), or
    ``kind=None``: look at the store again."""

    kind: Kind | None
    payload: bytes | None
    #: Unix time when the store call began (for the delivery-time metric).
    stored_at: float | None = None


LOOK_AGAIN = Wake(None, None)


class Waiter:
    """One waiting request."""

    __slots__ = ("_future", "accept_response", "execution_id")

    def __init__(self, execution_id: str, accept_response: bool) -> None:
        self.execution_id = execution_id
        self.accept_response = accept_response
        self._future: asyncio.Future[Wake] = asyncio.get_running_loop().create_future()

    def wake(self, wake: Wake) -> None:
        future = self._future
        if not future.done():
            future.set_result(wake)
        elif (
            wake.payload is not None and not future.cancelled() and future.result().payload is None
        ):
            self._future = future.get_loop().create_future()  # a value beats "look again"
            self._future.set_result(wake)

    async def next(self, timeout: float | None = None) -> Wake | None:
        """The next wake, or None when ``timeout`` seconds pass first."""
        future = self._future
        if not future.done():
            if timeout is None:
                await future
            else:
                await asyncio.wait((future,), timeout=timeout)
                if not future.done():
                    return None
        # A later wake with a value may have replaced the future since this one was
        # resolved (see ``wake``): take whichever is current.
        current = self._future if self._future.done() else future
        self._future = future.get_loop().create_future()
        return current.result()


class WaiterRegistry:
    """Execution id -> the waiters of this process."""

    def __init__(self) -> None:
        self._by_id: dict[str, list[Waiter]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, execution_id: str, accept_response: bool) -> Waiter:
        waiter = Waiter(execution_id, accept_response)
        self._by_id.setdefault(execution_id, []).append(waiter)
        self._count += 1
        return waiter

    def remove(self, waiter: Waiter) -> None:
        waiters = self._by_id.get(waiter.execution_id)
        if waiters is None or waiter not in waiters:
            return
        waiters.remove(waiter)
        self._count -= 1
        if not waiters:
            del self._by_id[waiter.execution_id]

    def wants(self, execution_id: str, kind: Kind) -> bool:
        """Whether a waiter here would take a value of ``kind`` for this execution."""
        waiters = self._by_id.get(execution_id)
        if not waiters:
            return False
        return kind is Kind.RESULT or any(w.accept_response for w in waiters)

    def wake(
        self,
        execution_id: str,
        kind: Kind,
        payload: bytes | None,
        stored_at: float | None = None,
    ) -> None:
        """A value of ``kind`` was stored; ``payload`` is its JSON when at hand."""
        waiters = self._by_id.get(execution_id)
        if not waiters:
            return
        wake = Wake(kind, payload, stored_at)
        for waiter in waiters:
            if kind is Kind.RESULT or waiter.accept_response:
                waiter.wake(wake)

    def wake_all(self) -> None:
        """Every waiter looks at the store again (notifications may have been lost)."""
        for waiters in self._by_id.values():
            for waiter in waiters:
                waiter.wake(LOOK_AGAIN)
