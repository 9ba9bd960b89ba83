"""``ExecutionStarter`` that puts runs on the durable run queue, and hands them to an
execution replica directly while the queue (Redis) cannot be reached.

The queue is the normal path (DESIGN.md section 8): any replica takes the run, and a
run whose worker dies is finished by another. When Redis refuses a connection or
times out, the run goes over gRPC to one execution replica instead — not durable, but
the webhook still answers. The switch is logged once per outage; while it lasts the
queue is tried again at most once per ``retry_seconds``, and the first run it takes
ends the outage (logged too). ``QueueFull`` is an answer, not an outage: it goes back
to the caller as a 503 and nothing runs.

With tracing on, putting a run on the queue is a ``PRODUCER`` span; the run's own span,
in whichever execution process takes it, is its child (``hookline_runtime.tracing``).
"""

from __future__ import annotations

import time

from opentelemetry.trace import SpanKind
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hookline_runtime.logs import get_logger
from hookline_runtime.redis.run_queue import RunProducer
from hookline_runtime.tracing import EXECUTION_ID, span
from hookline_trigger.clients.execution import start_message
from hookline_trigger.domain.ports import ExecutionStarter
from hookline_trigger.domain.records import StartRequest

__all__ = ["QueueFirstStarter"]

log = get_logger(__name__)

_OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class QueueFirstStarter:
    """The queue when it answers, the direct hand-off when it does not."""

    def __init__(
        self,
        queue: RunProducer,
        direct: ExecutionStarter,
        *,
        retry_seconds: float = 1.0,
    ) -> None:
        self._queue = queue
        self._direct = direct
        self._retry_seconds = retry_seconds
        self._down_since: float | None = None
        self._next_try = 0.0

    @property
    def queue_up(self) -> bool:
        return self._down_since is None

    async def start(self, request: StartRequest) -> None:
        now = time.monotonic()
        if self._down_since is None or now >= self._next_try:
            try:
                with span(
                    f"send {self._queue.stream}",
                    {
                        EXECUTION_ID: request.execution_id,
                        "messaging.system": "redis",
                        "messaging.destination.name": self._queue.stream,
                    },
                    SpanKind.PRODUCER,
                ):
                    await self._queue.enqueue(start_message(request).SerializeToString())
            except _OUTAGE_ERRORS as exc:
                self._queue_down(now, exc)
            else:
                self._queue_back(now)
                return
        await self._direct.start(request)

    def _queue_down(self, now: float, exc: BaseException) -> None:
        self._next_try = now + self._retry_seconds
        if self._down_since is None:
            self._down_since = now
            log.error(
                "Run queue unavailable: handing runs to execution replicas directly "
                "(not durable) until Redis answers",
                stream=self._queue.stream,
                error=f"{type(exc).__name__}: {exc}",
            )

    def _queue_back(self, now: float) -> None:
        if self._down_since is not None:
            log.warning(
                "Run queue available again: runs are durable again",
                stream=self._queue.stream,
                outage_seconds=round(now - self._down_since, 1),
            )
            self._down_since = None
