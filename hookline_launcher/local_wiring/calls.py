"""What makes a direct call stand in for a gRPC call: a deadline, the error a failure
stands for, a watch run to its end, and a service part that starts later.

- ``deadline(seconds, what)``: the block in ``asyncio.timeout``; running out is
  ``DeadlineExceeded``, as a gRPC call's deadline is (504 at the edge).
- ``unavailable(what, error)``: ``Unavailable`` naming the service, the status code
  and the message, as the execution service's gRPC adapters report failures.
- ``last_event(delivery, request)``: a cache watch run to its end, as the gRPC
  servicer runs it (the delivery is logged after the outcome is handed over).
- ``Later``: the stack starts cache, execution and trigger in turn, but each also
  calls one started after it (the cache reads saved records through the execution
  service, the execution service reads workflows and credentials from the trigger).
  A ``Later`` is set once that part has started; calls made before wait for it,
  within their own deadline, as a gRPC call waits for its server to come up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from hookline_cache.domain.delivery import ResultDelivery
from hookline_cache.domain.model import Subscribed, WatchEvent, WatchRequest
from hookline_runtime.errors import DeadlineExceeded, HooklineError, Unavailable
from hookline_runtime.transport.status import grpc_code_for

__all__ = ["Later", "deadline", "last_event", "unavailable"]

T = TypeVar("T")


@asynccontextmanager
async def deadline(seconds: float, what: str) -> AsyncIterator[None]:
    """Run the block within ``seconds``; ``DeadlineExceeded`` (naming ``what``, the
    service called) when it takes longer."""
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            yield
    except TimeoutError:
        if not scope.expired():
            raise
        raise DeadlineExceeded(f"{what} did not answer in time") from None


def unavailable(what: str, error: HooklineError) -> Unavailable:
    """``error`` from the service ``what``, reported as a failure to reach it."""
    return Unavailable(f"{what}: {grpc_code_for(error).name}: {error.message}".rstrip(": "))


async def last_event(delivery: ResultDelivery, request: WatchRequest) -> WatchEvent | None:
    """The watch's outcome (its last event but ``Subscribed``), or None when it ended
    without one."""
    outcome: WatchEvent | None = None
    async for event in delivery.watch(request):
        if not isinstance(event, Subscribed):
            outcome = event
    return outcome


class Later(Generic[T]):
    """A service part that starts after its callers are wired (see module docstring)."""

    def __init__(self) -> None:
        self._value: T | None = None
        self._ready = asyncio.Event()

    def set(self, value: T) -> None:
        self._value = value
        self._ready.set()

    async def get(self) -> T:
        """The part, once it has started (callers bound the wait with their deadline)."""
        while self._value is None:
            await self._ready.wait()
        return self._value
