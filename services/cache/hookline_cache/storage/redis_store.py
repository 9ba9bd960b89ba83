"""The Redis backend: ``execution:result:{id}`` and ``hookline:response:{id}``.

Each write is ``SET key value PX ttl`` followed by ``PUBLISH`` on the shared channel,
in one pipeline (Redis runs them in order, so the notification always follows the
write). Only single-key commands are used, so the keys may live on different Redis
Cluster slots. Every command goes through the process's ``AutoPipeline`` (one
connection). Connection errors are reported to the ``RedisLink`` and surface as
``StoreUnavailable``; while the link is down, calls fail at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import RedisError

from hookline_cache.storage.base import Kind, StoredValue, StoreUnavailable
from hookline_cache.storage.notifications import CHANNEL, encode_notification
from hookline_cache.storage.redis_link import OUTAGE_ERRORS, RedisLink
from hookline_runtime.redis.pipeline import AutoPipeline, Command

__all__ = ["RedisResultStore", "redis_key"]

_KEY_PREFIX = {
    Kind.RESULT: "execution:result:",
    Kind.RESPONSE: "hookline:response:",
    Kind.KEPT: "hookline:kept:",
}


def redis_key(kind: Kind, execution_id: str) -> str:
    """The Redis key of a stored value (the result key is the public contract)."""
    return _KEY_PREFIX[kind] + execution_id


class RedisResultStore:
    """``ResultStore`` on a shared Redis; see module docstring."""

    def __init__(
        self, pipeline: AutoPipeline, link: RedisLink, *, on_error: Callable[[], None] | None = None
    ) -> None:
        self._pipeline = pipeline
        self._link = link
        self._on_error = on_error or (lambda: None)

    @property
    def available(self) -> bool:
        return self._link.up

    async def put(
        self, kind: Kind, execution_id: str, data: bytes, ttl_ms: int, stored_at: float
    ) -> None:
        await self._run(
            [
                ("SET", redis_key(kind, execution_id), data, "PX", ttl_ms),
                ("PUBLISH", CHANNEL, encode_notification(kind, execution_id, data, stored_at)),
            ]
        )

    async def keep(self, execution_id: str, data: bytes, ttl_ms: int) -> None:
        await self._run([("SET", redis_key(Kind.KEPT, execution_id), data, "PX", ttl_ms)])

    async def get_many(self, execution_id: str, kinds: Sequence[Kind]) -> list[bytes | None]:
        replies = await self._run([("GET", redis_key(kind, execution_id)) for kind in kinds])
        return [reply if reply is None else bytes(reply) for reply in replies]

    async def get_with_ttl(self, kind: Kind, execution_id: str) -> StoredValue | None:
        key = redis_key(kind, execution_id)
        data, ttl_ms = await self._run([("GET", key), ("PTTL", key)])
        if data is None:
            return None
        return StoredValue(bytes(data), ttl_ms if ttl_ms >= 0 else None)

    async def _run(self, commands: list[Command]) -> list[Any]:
        if not self._link.up:
            raise StoreUnavailable("Redis is unreachable")
        try:
            replies = await self._pipeline.execute(commands)
        except OUTAGE_ERRORS as exc:
            self._on_error()
            await self._link.report_failure(exc)
            raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc
        except RedisError as exc:
            self._on_error()
            raise StoreUnavailable(f"Redis failed: {exc}") from exc
        for reply in replies:
            if isinstance(reply, Exception):
                self._on_error()
                raise StoreUnavailable(f"Redis refused a command: {reply}")
        return replies
