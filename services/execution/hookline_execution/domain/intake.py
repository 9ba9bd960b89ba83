"""Where ``StartExecution`` sends a run: onto the run queue, so that any replica runs
it durably, or — without a queue, when the caller says ``direct`` (it could not reach
the queue itself) or when the queue cannot be reached — into this process at once."""

from __future__ import annotations

from typing import Protocol

from hookline_execution.domain.service import ExecutionService, StartRequest
from hookline_runtime.errors import QueueFull, Unavailable
from hookline_runtime.logs import get_logger

__all__ = ["RunEnqueuer", "RunIntake"]

log = get_logger(__name__)


class RunEnqueuer(Protocol):
    async def enqueue(self, request: StartRequest) -> None:
        """Put a run on the queue; ``QueueFull`` past the admission limit,
        ``Unavailable`` when the queue cannot be reached."""


class RunIntake:
    def __init__(self, service: ExecutionService, queue: RunEnqueuer | None) -> None:
        self._service = service
        self._queue = queue
        self._queue_down = False

    async def submit(self, request: StartRequest, *, direct: bool = False) -> None:
        if self._queue is not None and not direct:
            try:
                await self._queue.enqueue(request)
            except QueueFull:
                raise
            except Unavailable as exc:
                if not self._queue_down:
                    self._queue_down = True
                    log.error(
                        "Run queue unavailable: running runs here (not durable)", error=exc.message
                    )
            else:
                if self._queue_down:
                    self._queue_down = False
                    log.warning("Run queue available again")
                return
        self._service.start(request)
