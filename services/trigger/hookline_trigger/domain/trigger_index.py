"""The live, in-memory index of active triggers that webhook calls and the scheduler
read, so that resolving a webhook needs no database query.

It is rebuilt from the store: at start; at once after a change made through this
replica; when another replica announces a change (``invalidate``, wired to the Redis
channel); when the store's ``version`` (a count and the latest update time, asked every
``check_seconds``) differs from the one read with the last reload — so replicas
without Redis see another's deactivation within seconds; every ``refresh_seconds`` as
a safety net; and, throttled to one reload per
``miss_reload_seconds``, when a webhook call finds no route, so a workflow created
through another replica is found even before its announcement arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from hookline_runtime.errors import HooklineError
from hookline_runtime.logs import get_logger
from hookline_trigger.domain.ports import ChangePublisher, WorkflowStore
from hookline_trigger.domain.snapshot import Snapshot

__all__ = ["TriggerIndex"]

log = get_logger(__name__)

Listener = Callable[[Snapshot], None]

_RETRY_AFTER_FAILURE_SECONDS = 1.0


class TriggerIndex:
    def __init__(
        self,
        store: WorkflowStore,
        *,
        publisher: ChangePublisher | None = None,
        refresh_seconds: float = 30.0,
        check_seconds: float = 2.0,
        miss_reload_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._refresh_seconds = refresh_seconds
        self._check_seconds = min(check_seconds, refresh_seconds)
        self._version: tuple[int, datetime | None] | None = None
        self._reloaded_at = float("-inf")
        self._miss_reload_seconds = miss_reload_seconds
        self._snapshot = Snapshot()
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._reloaded = asyncio.Condition()
        self._last_miss_reload = float("-inf")
        self._miss_reload: asyncio.Future[Snapshot] | None = None

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def on_change(self, listener: Listener) -> None:
        """Call ``listener`` with every new snapshot."""
        self._listeners.append(listener)

    async def reload(self) -> Snapshot:
        """Rebuild from the store now; ``Unavailable`` when the store is down."""
        async with self._lock:
            version = await self._store.version()  # first: a change after it shows next
            records = await self._store.active_triggers()
            self._version, self._reloaded_at = version, time.monotonic()
            snapshot = self._snapshot.build_next(records)
            self._snapshot = snapshot
            for listener in self._listeners:
                listener(snapshot)
        async with self._reloaded:
            self._reloaded.notify_all()
        return snapshot

    def invalidate(self) -> None:
        """Ask the background loop to reload soon (another replica changed something)."""
        self._dirty.set()

    async def reload_after_miss(self) -> Snapshot:
        """Reload for a call that found no route, at most once per ``miss_reload_seconds``;
        calls arriving during that reload share it. Answers the current snapshot when
        throttled or when the store is down."""
        pending = self._miss_reload
        if pending is None or pending.done():
            now = time.monotonic()
            if now - self._last_miss_reload < self._miss_reload_seconds:
                return self._snapshot
            self._last_miss_reload = now
            pending = self._miss_reload = asyncio.ensure_future(self.reload())
        try:
            return await asyncio.shield(pending)
        except HooklineError as exc:
            log.warning("Could not reload the trigger index", error=exc.message)
            return self._snapshot

    async def workflow_changed(self, workflow_id: str) -> None:
        """A workflow changed through this replica: reload here, then tell the others."""
        try:
            await self.reload()
        except HooklineError as exc:
            log.warning("Could not reload the trigger index", error=exc.message)
            self.invalidate()
        if self._publisher is not None:
            await self._publisher.publish(workflow_id)

    async def wait_until(self, predicate: Callable[[Snapshot], bool]) -> Snapshot:
        """Wait (unbounded: wrap in a timeout) until a snapshot satisfies ``predicate``."""
        async with self._reloaded:
            await self._reloaded.wait_for(lambda: predicate(self._snapshot))
        return self._snapshot

    async def run(self) -> None:
        """Background loop: reload when invalidated, when the store's version changed
        (asked every ``check_seconds``), and every ``refresh_seconds``."""
        timeout = self._check_seconds
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout)
            except TimeoutError:
                pass
            try:
                if self._dirty.is_set() or await self._changed():
                    self._dirty.clear()
                    await self.reload()
            except HooklineError as exc:
                log.warning("Could not refresh the trigger index", error=exc.message)
                timeout = min(self._check_seconds, _RETRY_AFTER_FAILURE_SECONDS)
            else:
                timeout = self._check_seconds

    async def _changed(self) -> bool:
        """Whether a full reload is due, or the store changed since the last one."""
        if time.monotonic() - self._reloaded_at >= self._refresh_seconds:
            return True
        return await self._store.version() != self._version
