"""The process's one pub/sub subscription, shared by every waiter.

``RedisNotificationListener`` keeps a single connection subscribed to the
notification channel and hands each message to the ``NotificationSink`` (the
domain), which wakes the matching waiters. Its connection has no socket timeout (an
idle subscription must not time out) and no retries of its own: when it breaks, the
failure goes to the ``RedisLink`` and tenacity reconnects with exponential backoff.
After ``idle_ping_seconds`` of silence it sends a PING on the subscription; no answer
within as long again counts as a broken connection (a peer that vanished without
closing the socket would otherwise go unnoticed).
Each confirmed (re)subscription tells the sink to resync, since notifications sent
while unsubscribed are lost, and tells the link that Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from hookline_cache.storage.base import NotificationSink
from hookline_cache.storage.notifications import CHANNEL, decode_notification
from hookline_cache.storage.redis_link import OUTAGE_ERRORS, RedisLink
from hookline_runtime.logs import get_logger

__all__ = ["RedisNotificationListener", "create_subscriber_redis"]

log = get_logger(__name__)


def _log_death(task: asyncio.Task[None]) -> None:
    """The subscription task only ends when cancelled; say so if it ever dies."""
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "Redis subscription stopped; waiters fall back to their deadlines",
            error=repr(task.exception()),
        )


def create_subscriber_redis(url: str, *, client_name: str | None = None) -> aioredis.Redis:
    """A client for the subscription: no read timeout, TCP keepalive, no retries."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=None,
        socket_connect_timeout=1.0,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
        max_connections=2,
        decode_responses=False,
        client_name=client_name,
    )


class RedisNotificationListener:
    """Runs the shared subscription in a background task (see module docstring)."""

    def __init__(
        self,
        client: aioredis.Redis,
        sink: NotificationSink,
        link: RedisLink,
        *,
        backoff_max_seconds: float = 1.0,
        idle_ping_seconds: float = 15.0,
        channel: str = CHANNEL,
    ) -> None:
        self._client = client
        self._sink = sink
        self._link = link
        self._backoff_max = backoff_max_seconds
        self._idle_ping = idle_ping_seconds
        self._channel = channel
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="redis-subscription")
        self._task.add_done_callback(_log_death)

    async def wait_subscribed(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until the subscription is confirmed."""
        try:
            async with asyncio.timeout(timeout):
                await self._subscribed.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        # One round per connection that got subscribed: a fresh backoff after each.
        while True:
            async for attempt in AsyncRetrying(
                wait=wait_exponential_jitter(multiplier=0.05, max=self._backoff_max, jitter=0.05),
                retry=retry_if_exception_type(OUTAGE_ERRORS),
            ):
                with attempt:
                    await self._listen()

    async def _listen(self) -> None:
        """Subscribe and dispatch until the connection breaks. Raises when it never
        got subscribed (tenacity retries); returns when a live subscription broke."""
        pubsub = self._client.pubsub()
        confirmed = False
        awaiting_pong = False
        try:
            await pubsub.subscribe(self._channel)
            while True:
                message = await pubsub.get_message(timeout=self._idle_ping)
                if message is None:  # silence: is the connection still alive?
                    if awaiting_pong:
                        raise RedisTimeoutError("no answer to PING on the subscription")
                    await pubsub.ping()
                    awaiting_pong = True
                    continue
                awaiting_pong = False
                kind = message["type"]
                if kind == "message":
                    note = decode_notification(message["data"])
                    if note is not None:
                        self._sink.on_stored(
                            note.kind, note.execution_id, note.inline, note.stored_at
                        )
                elif kind == "subscribe":
                    confirmed = True
                    self._subscribed.set()
                    await self._link.report_success()
                    self._sink.on_resync()
        except OUTAGE_ERRORS as exc:
            self._subscribed.clear()
            await self._link.report_failure(exc)
            if not confirmed:
                raise
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
