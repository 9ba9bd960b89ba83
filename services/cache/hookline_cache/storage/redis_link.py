"""Whether Redis answers, and getting it back when it does not.

``RedisLink`` is the one place that knows the state of the connection to Redis. Any
command or the subscription that fails with a connection error reports it; the first
report of an outage logs ``Redis connection error in ExecutionResultCache`` (once per
outage, not per request), tells the listeners (health, the domain) and starts a probe
that PINGs with exponential backoff (tenacity) until Redis answers. The probe, or the
subscription coming back, ends the outage: ``ExecutionResultCache connected to Redis``
is logged again and the listeners are told. While the link is down, commands fail
fast instead of each waiting for a connect timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from hookline_runtime.logs import get_logger
from hookline_runtime.redis.pipeline import AutoPipeline

__all__ = ["OUTAGE_ERRORS", "RedisLink", "StateListener", "describe_redis"]

log = get_logger(__name__)

#: Errors that mean "Redis cannot be reached" (as opposed to a command's own error).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)

StateListener = Callable[[bool], Awaitable[None]]


def describe_redis(client: aioredis.Redis) -> str:
    """``host:port/db`` of a client, for logs (never the password)."""
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


class RedisLink:
    """The connection state to one Redis server (see module docstring)."""

    def __init__(
        self, pipeline: AutoPipeline, *, where: str, backoff_max_seconds: float = 1.0
    ) -> None:
        self._pipeline = pipeline
        self._where = where
        self._backoff_max = backoff_max_seconds
        self._state: str = "unknown"  # unknown | up | down
        self._listeners: list[StateListener] = []
        self._probe: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        """False only during a known outage."""
        return self._state != "down"

    def add_listener(self, listener: StateListener) -> None:
        """``listener(up)`` is awaited on every change of state."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """PING once; an unreachable Redis starts an outage (and the probe)."""
        try:
            await self._ping()
        except OUTAGE_ERRORS as exc:
            await self.report_failure(exc)
        else:
            await self.report_success()

    async def report_failure(self, error: BaseException) -> None:
        """A command or the subscription could not reach Redis."""
        if self._state == "down":
            return
        self._state = "down"
        log.error(
            "Redis connection error in ExecutionResultCache", redis=self._where, error=str(error)
        )
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probe_until_up(), name="redis-probe")
        await self._tell(False)

    async def report_success(self) -> None:
        """Redis answered (the probe's PING, or the subscription was confirmed)."""
        if self._state == "up":
            return
        self._state = "up"
        probe, self._probe = self._probe, None
        if probe is not None and probe is not asyncio.current_task():
            probe.cancel()
        log.info("ExecutionResultCache connected to Redis", redis=self._where)
        await self._tell(True)

    async def close(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe

    async def _probe_until_up(self) -> None:
        async for attempt in AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=0.05, max=self._backoff_max, jitter=0.05),
            retry=retry_if_exception_type(OUTAGE_ERRORS),
        ):
            with attempt:
                await self._ping()
        await self.report_success()

    async def _ping(self) -> None:
        # Through the process's one command connection: probing opens no other.
        await self._pipeline.execute([("PING",)])

    async def _tell(self, up: bool) -> None:
        for listener in self._listeners:
            await listener(up)
