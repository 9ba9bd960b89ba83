"""Workflow change announcements between trigger replicas, on the Redis pub/sub
channel ``hookline:workflows:changed:{deployment id}`` (the message is the workflow
id). The deployment id (``hookline_runtime.deployment``) comes from the database, so replicas
of one deployment hear each other, and a deployment sharing the Redis does not.

``listen`` keeps one subscription open for the life of the process and calls
``on_change`` for every announcement, and once after each (re)subscription, since
announcements sent while it was disconnected are lost. Reconnects back off through
tenacity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from hookline_runtime.logs import get_logger

__all__ = ["CHANGES_CHANNEL", "RedisChangeFeed", "changes_channel"]

log = get_logger(__name__)

CHANGES_CHANNEL = "hookline:workflows:changed"
"""The channel's prefix; ``changes_channel`` adds the deployment id."""


def changes_channel(deployment_id: str) -> str:
    return f"{CHANGES_CHANNEL}:{deployment_id}"


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "Lost the workflow change subscription; reconnecting",
        attempt=state.attempt_number,
        error=str(error),
    )


class RedisChangeFeed:
    def __init__(self, redis: aioredis.Redis, deployment_id: str) -> None:
        self._redis = redis
        self.channel = changes_channel(deployment_id)
        self.subscribed = asyncio.Event()
        """Set while the subscription is open."""

    async def publish(self, workflow_id: str) -> None:
        """Announce a change; a Redis failure is logged (the periodic refresh covers it)."""
        try:
            await self._redis.publish(self.channel, workflow_id)
        except RedisError as exc:
            log.warning(
                "Could not announce a workflow change", workflow_id=workflow_id, error=str(exc)
            )

    async def listen(self, on_change: Callable[[], None]) -> None:
        """Subscribe and call ``on_change`` per announcement, until cancelled."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(RedisError),
            wait=wait_exponential_jitter(multiplier=0.1, max=5.0, jitter=0.1),
            before_sleep=_log_retry,
        ):
            with attempt:
                await self._listen_once(on_change)

    async def _listen_once(self, on_change: Callable[[], None]) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            self.subscribed.set()
            on_change()
            async for message in pubsub.listen():
                if message is not None and message.get("type") == "message":
                    on_change()
        finally:
            self.subscribed.clear()
            await pubsub.aclose()  # type: ignore[no-untyped-call]
