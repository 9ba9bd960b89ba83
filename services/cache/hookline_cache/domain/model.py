"""The cache service's plain data: requests, outcomes and watch events."""

from __future__ import annotations

from dataclasses import dataclass

from hookline_cache.storage.base import Kind

__all__ = [
    "SUBSCRIBED",
    "TIMED_OUT",
    "CachedResult",
    "Delivered",
    "Kind",
    "StoreOutcome",
    "Subscribed",
    "TimedOut",
    "WatchEvent",
    "WatchRequest",
]


@dataclass(frozen=True, slots=True)
class WatchRequest:
    """A request to wait for an execution's result."""

    execution_id: str
    timeout_seconds: float
    accept_response: bool = False
    saved_to_database: bool = False
    replayed: bool = False
    """An idempotent repeat: a record kept past its result TTL counts too."""


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What a store did: whether it compressed, how many bytes, and where
    (``redis``, or ``memory`` when Redis is absent or unreachable)."""

    compressed: bool
    stored_bytes: int
    where: str


@dataclass(frozen=True, slots=True)
class CachedResult:
    """A stored record's JSON and its remaining time to live (None: no expiry)."""

    payload: bytes
    ttl_ms: int | None


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The watch is registered: anything stored from now on reaches it."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """The watch ends with a value: ``kind`` says which, ``payload`` is its JSON,
    ``source`` where it came from (memory, redis, notification, database)."""

    kind: Kind
    payload: bytes
    source: str
    #: Unix time when the store call began, when known (for the delivery-time metric).
    stored_at: float | None = None


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The watch ends with nothing before its deadline."""


WatchEvent = Subscribed | Delivered | TimedOut

SUBSCRIBED = Subscribed()
TIMED_OUT = TimedOut()
