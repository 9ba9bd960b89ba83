"""The in-memory backend: a bounded LRU that honours TTLs.

It is the whole store when no Redis is configured, and the fallback while Redis is
unreachable (results then reach waiters of this process only). Bounded by entry count
and by total bytes; the least recently used entries go first, expired ones on sight.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hookline_cache.storage.base import Kind, StoredValue

__all__ = ["MemoryEntry", "MemoryResultStore"]

_SWEEP_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class MemoryEntry:
    """One stored value, as listed by ``entries()``."""

    kind: Kind
    execution_id: str
    data: bytes
    ttl_ms: int


@dataclass(slots=True)
class _Slot:
    data: bytes
    expires_at: float


class MemoryResultStore:
    """``ResultStore`` in this process's memory. Not shared: it notifies no one."""

    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._slots: OrderedDict[tuple[Kind, str], _Slot] = OrderedDict()
        self._bytes = 0
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._slots)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def available(self) -> bool:
        return True

    async def put(
        self, kind: Kind, execution_id: str, data: bytes, ttl_ms: int, stored_at: float = 0.0
    ) -> None:
        self.put_now(kind, execution_id, data, ttl_ms)

    def put_now(self, kind: Kind, execution_id: str, data: bytes, ttl_ms: int) -> bool:
        """Store synchronously; False when the value alone is over the byte bound."""
        key = (kind, execution_id)
        self._drop(key)
        if len(data) > self._max_bytes:
            return False
        self._slots[key] = _Slot(data, self._clock() + ttl_ms / 1000)
        self._bytes += len(data)
        self._evict()
        return True

    async def keep(self, execution_id: str, data: bytes, ttl_ms: int) -> None:
        self.put_now(Kind.KEPT, execution_id, data, ttl_ms)

    async def get_many(self, execution_id: str, kinds: Sequence[Kind]) -> list[bytes | None]:
        return [self.peek(kind, execution_id) for kind in kinds]

    async def get_with_ttl(self, kind: Kind, execution_id: str) -> StoredValue | None:
        slot = self._live((kind, execution_id))
        if slot is None:
            return None
        return StoredValue(slot.data, max(0, int((slot.expires_at - self._clock()) * 1000)))

    def peek(self, kind: Kind, execution_id: str) -> bytes | None:
        """Synchronous ``get`` (the domain looks here first, before any I/O)."""
        if not self._slots:
            return None
        slot = self._live((kind, execution_id))
        return None if slot is None else slot.data

    def entries(self) -> list[MemoryEntry]:
        """Every live entry, oldest first (to hand over to Redis once it is back)."""
        now = self._clock()
        return [
            MemoryEntry(kind, execution_id, slot.data, int((slot.expires_at - now) * 1000))
            for (kind, execution_id), slot in self._slots.items()
            if slot.expires_at > now
        ]

    def discard(self, kind: Kind, execution_id: str, data: bytes | None = None) -> None:
        """Forget an entry (only if it still holds ``data``, when given)."""
        slot = self._slots.get((kind, execution_id))
        if slot is not None and (data is None or slot.data is data):
            self._drop((kind, execution_id))

    def _live(self, key: tuple[Kind, str]) -> _Slot | None:
        slot = self._slots.get(key)
        if slot is None:
            return None
        if slot.expires_at <= self._clock():
            self._drop(key)
            return None
        self._slots.move_to_end(key)
        return slot

    def _drop(self, key: tuple[Kind, str]) -> None:
        slot = self._slots.pop(key, None)
        if slot is not None:
            self._bytes -= len(slot.data)

    def _evict(self) -> None:
        now = self._clock()
        if now >= self._next_sweep:  # a full sweep for expired entries, at most once a second
            self._next_sweep = now + _SWEEP_INTERVAL_SECONDS
            expired = [key for key, slot in self._slots.items() if slot.expires_at <= now]
            for key in expired:
                self._drop(key)
        while len(self._slots) > self._max_entries or self._bytes > self._max_bytes:
            _, slot = self._slots.popitem(last=False)
            self._bytes -= len(slot.data)
