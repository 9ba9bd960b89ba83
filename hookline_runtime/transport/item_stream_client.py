"""Calling through a stream that carries many items of one purpose.

``ItemStreamClient`` keeps one long-lived bidirectional call per lane (a channel, or
one of several calls on a balanced channel), opened on first use. ``call(key,
request)`` writes the item — gRPC's own flow control paces the writes — and waits for
the answer that names the same key, at most ``timeout`` seconds (the deadline is kept
here, per item: the stream itself has none). Lanes are used in turn.

When a stream breaks, the items waiting on it fail with ``Unavailable`` (they may or
may not have been handled) and the lane opens a new call on its next use; meanwhile,
for ``DOWN_SECONDS``, new items go to the other lanes when there are others. When the
server ends a stream cleanly (it is shutting down, see ``hookline_runtime.transport.item_streams``), the
items it left unanswered were never read there: they are sent once more, on a new
call. A key already waiting on the client is refused with ``KeyInFlight``: the
caller uses its unary method instead.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import grpc

from hookline_runtime.errors import DeadlineExceeded, Unavailable
from hookline_runtime.logs import get_logger

__all__ = ["DOWN_SECONDS", "ItemStreamClient", "KeyInFlight", "StreamOpener", "pick_lane"]

DOWN_SECONDS = 1.0
"""How long a lane whose stream ended is passed over while other lanes are up."""

log = get_logger(__name__)

ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")

StreamOpener = Callable[[], "grpc.aio.StreamStreamCall[Any, Any]"]
"""Opens one bidirectional call (``stub.Method()``, written with ``write()``)."""


class KeyInFlight(Exception):
    """An item with this key is already waiting for its answer on this client."""


class _Resend(Exception):
    """The server ended the stream without reading the item: send it again."""


@dataclass(eq=False)
class _Lane(Generic[ReqT, RespT]):
    name: str
    opener: StreamOpener
    key_of: Callable[[RespT], str]
    call: grpc.aio.StreamStreamCall[Any, Any] | None = None
    reader: asyncio.Task[None] | None = None
    waiting: dict[str, asyncio.Future[RespT]] = field(default_factory=dict)
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    down_until: float = 0.0

    def open(self) -> grpc.aio.StreamStreamCall[Any, Any]:
        if self.call is None:
            self.call = self.opener()
            self.reader = asyncio.ensure_future(self._read(self.call))
        return self.call

    async def _read(self, call: grpc.aio.StreamStreamCall[Any, Any]) -> None:
        error: BaseException
        try:
            async for reply in call:
                future = self.waiting.pop(self.key_of(reply), None)
                if future is not None and not future.done():
                    future.set_result(reply)
            error = _Resend()
        except asyncio.CancelledError:
            error = Unavailable(f"{self.name}: the stream was closed")
        except grpc.aio.AioRpcError as exc:
            error = Unavailable(f"{self.name}: the stream broke: {exc.code().name}")
            log.warning(
                "Item stream broke", stream=self.name, code=exc.code().name, details=exc.details()
            )
        finally:
            if self.call is call:
                self.call = None
            self.down_until = asyncio.get_running_loop().time() + DOWN_SECONDS
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(error)

    async def send(self, key: str, request: ReqT, timeout: float) -> RespT:
        if key in self.waiting:
            raise KeyInFlight(key)
        call = self.open()
        future: asyncio.Future[RespT] = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        try:
            async with asyncio.timeout(timeout):
                try:
                    async with self.write_lock:
                        await call.write(request)
                except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as exc:
                    if not future.done():  # the reader fails it, or this does
                        raise Unavailable(f"{self.name}: the stream broke: {exc}") from None
                return await future
        except TimeoutError:
            raise DeadlineExceeded(f"{self.name}: no answer within {timeout:g} s") from None
        finally:
            if self.waiting.get(key) is future:
                del self.waiting[key]

    async def close(self) -> None:
        call, reader = self.call, self.reader
        self.call = self.reader = None
        if call is not None:
            call.cancel()
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


class ItemStreamClient(Generic[ReqT, RespT]):
    """Items over long-lived streams, one per lane, matched by key (module docstring)."""

    def __init__(
        self, name: str, openers: Sequence[StreamOpener], key_of: Callable[[RespT], str]
    ) -> None:
        if not openers:
            raise ValueError("an item stream needs at least one lane")
        self._lanes = [_Lane[ReqT, RespT](name, opener, key_of) for opener in openers]
        self._turn = itertools.cycle(range(len(self._lanes)))

    async def call(self, key: str, request: ReqT, *, timeout: float) -> RespT:
        """The answer to ``request``; ``Unavailable`` when the stream broke,
        ``DeadlineExceeded`` past ``timeout``, ``KeyInFlight`` for a key in flight."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for attempt in range(2):
            lane = pick_lane(self._lanes, self._turn)
            try:
                return await lane.send(key, request, max(0.0, deadline - loop.time()))
            except _Resend:
                if attempt:
                    raise Unavailable(f"{lane.name}: the server ended the stream") from None
        raise AssertionError("unreachable")

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()


class _HasDownUntil(Protocol):
    down_until: float


LaneT = TypeVar("LaneT", bound=_HasDownUntil)


def pick_lane(lanes: Sequence[LaneT], turn: Iterator[int]) -> LaneT:
    """The next lane in turn that is not down, or the next one when all are."""
    now = asyncio.get_running_loop().time()
    first = lanes[next(turn)]
    if first.down_until <= now:
        return first
    for _ in range(len(lanes) - 1):
        lane = lanes[next(turn)]
        if lane.down_until <= now:
            return lane
    return first
