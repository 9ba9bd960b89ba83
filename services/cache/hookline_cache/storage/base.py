"""The storage interfaces of the cache service: what the domain needs from a backend.

A backend keeps two kinds of value per execution (``Kind``): the finished record and
the early HTTP response of an httpResponse node. Values are opaque bytes (already
encoded by the domain's codec). A backend that cannot be reached raises
``StoreUnavailable``; the domain then falls back to the in-memory store.

``SavedRecords`` is the other source of a finished record: the one the execution
service saved in the database (read only while Redis is unreachable).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "NOT_KEPT",
    "Kind",
    "NotificationSink",
    "ResultStore",
    "SavedRecords",
    "StoreUnavailable",
    "StoredValue",
]


class Kind(enum.Enum):
    """What a stored value is."""

    RESULT = "result"
    RESPONSE = "response"
    KEPT = "kept"
    """A finished record kept past its result TTL for idempotent repeats (or
    ``NOT_KEPT`` when it was too large to keep)."""


NOT_KEPT = b"\x00not-kept"
"""Stored as ``Kind.KEPT`` in place of a record too large to keep."""


@dataclass(frozen=True, slots=True)
class StoredValue:
    """A stored value and how long it has left (``None``: no expiry)."""

    data: bytes
    ttl_ms: int | None


class StoreUnavailable(Exception):
    """The backend cannot be reached right now; the caller should fall back."""


class ResultStore(Protocol):
    """A place to keep encoded values for a while."""

    @property
    def available(self) -> bool:
        """False while the backend is known to be unreachable."""
        ...

    async def put(
        self, kind: Kind, execution_id: str, data: bytes, ttl_ms: int, stored_at: float
    ) -> None:
        """Store ``data`` for ``ttl_ms``; a shared backend then notifies its
        subscribers (the write always comes before the notification). ``stored_at``
        is the Unix time the store call began (it travels with the notification)."""
        ...

    async def keep(self, execution_id: str, data: bytes, ttl_ms: int) -> None:
        """Store ``data`` as ``Kind.KEPT`` for ``ttl_ms``, notifying no one."""

    async def get_many(self, execution_id: str, kinds: Sequence[Kind]) -> list[bytes | None]:
        """The stored values of ``kinds`` for one execution (None where missing)."""
        ...

    async def get_with_ttl(self, kind: Kind, execution_id: str) -> StoredValue | None:
        """The stored value with its remaining time to live, or None."""
        ...


class NotificationSink(Protocol):
    """Receives what the shared backend's subscription hears."""

    def on_stored(
        self, kind: Kind, execution_id: str, inline: bytes | None, stored_at: float | None
    ) -> None:
        """A value was stored (at Unix time ``stored_at``); ``inline`` is the encoded
        value when it was small enough to travel with the notification, else None
        (read it from the store)."""
        ...

    def on_resync(self) -> None:
        """Notifications may have been lost (the subscription was re-established):
        every waiter should look at the store again."""
        ...


class SavedRecords(Protocol):
    """Execution records saved to the database, read through the execution service."""

    async def fetch(self, execution_id: str, timeout: float) -> bytes | None:
        """The saved record's JSON, or None when it is not (yet) saved or cannot be
        read within ``timeout`` seconds. The record may still be ``running``: the
        caller decides whether it is final."""
        ...
