"""The notification that follows every write, on one pub/sub channel.

One channel, ``hookline:results``, carries every notification of every cache
process: each process keeps a single subscription (one connection) however many
requests wait, and a waiter never has to send SUBSCRIBE itself, so "subscribed"
is true the moment it is registered in memory. The price is that every process
hears every notification; each costs a dict lookup when nobody here waits for it.

A message is ``<kind> <execution id> <stored at>`` (the Unix time in microseconds
when the store call began, for the delivery-time metric across processes), followed
by ``\\n`` and the stored (encoded) value when that is small: the waiter then needs
no GET at all. Execution ids never hold whitespace (the domain checks), so the
format needs no escaping.
"""

from __future__ import annotations

from dataclasses import dataclass

from hookline_cache.storage.base import Kind

__all__ = [
    "CHANNEL",
    "INLINE_MAX_BYTES",
    "Notification",
    "decode_notification",
    "encode_notification",
]

CHANNEL = "hookline:results"

#: Values up to this size travel inside the notification.
INLINE_MAX_BYTES = 16 * 1024

_KIND_BY_NAME = {kind.value.encode(): kind for kind in Kind}


@dataclass(frozen=True, slots=True)
class Notification:
    """A decoded notification; ``inline`` is None when the value did not travel along."""

    kind: Kind
    execution_id: str
    inline: bytes | None
    stored_at: float | None


def encode_notification(kind: Kind, execution_id: str, data: bytes, stored_at: float) -> bytes:
    """The message announcing that ``data`` was stored (``stored_at``: Unix seconds)."""
    head = f"{kind.value} {execution_id} {int(stored_at * 1_000_000)}".encode()
    if len(data) <= INLINE_MAX_BYTES:
        return head + b"\n" + data
    return head


def decode_notification(message: bytes) -> Notification | None:
    """The notification in ``message``; None for a message that is not one of ours."""
    head, sep, inline = message.partition(b"\n")
    name, _, rest = head.partition(b" ")
    execution_id, _, stamp = rest.partition(b" ")
    kind = _KIND_BY_NAME.get(name)
    if kind is None or not execution_id:
        return None
    stored_at = int(stamp) / 1_000_000 if stamp.isdigit() else None
    return Notification(
        kind, execution_id.decode(errors="replace"), inline if sep else None, stored_at
    )
