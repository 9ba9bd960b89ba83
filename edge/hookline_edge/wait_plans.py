"""Watching for a result before the run has started.

A waiting webhook call (lastNode, responseNode) needs two upstream calls: the trigger
service starts the run, then the cache service's WatchResult stream waits for it. The
edge chooses the execution id itself, so it can open the watch *while* the trigger
call is in flight — if it knows the call will wait. ``WaitPlans`` remembers, for each
webhook method and path, how its last call was waited for; when the next call's
answer says otherwise (the workflow changed), the early watch is dropped and the
right one opened. A first call, and every onReceived call, opens nothing early.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

__all__ = ["WaitPlan", "WaitPlans", "discard"]


@dataclass(frozen=True, slots=True)
class WaitPlan:
    """How a webhook call waits for its run."""

    timeout_seconds: float
    accept_early_response: bool
    saved_to_database: bool


class WaitPlans:
    """Last wait plan per (method, path); a bounded LRU map."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._plans: OrderedDict[tuple[str, str], WaitPlan] = OrderedDict()
        self._max = max_entries

    def get(self, key: tuple[str, str]) -> WaitPlan | None:
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
        return plan

    def remember(self, key: tuple[str, str], plan: WaitPlan | None) -> None:
        """Keep ``plan`` for ``key``; None (the call does not wait) forgets it."""
        if plan is None:
            self._plans.pop(key, None)
            return
        self._plans[key] = plan
        self._plans.move_to_end(key)
        while len(self._plans) > self._max:
            self._plans.popitem(last=False)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # mark any failure as seen: the watch is no longer wanted


def discard(task: asyncio.Future[Any] | None) -> None:
    """Cancel an early watch that is no longer wanted, quietly."""
    if task is None:
        return
    with contextlib.suppress(RuntimeError):
        task.cancel()
    task.add_done_callback(_retrieve)
