"""Calling through a stream that carries many items of one purpose, in batches.

``ItemStreamClient`` keeps one long-lived bidirectional call per lane (a channel, or
one of several calls on a balanced channel), opened on first use. ``call(key,
request)`` queues the item on the lane's ``BatchWriter`` and waits for the answer that
names the same key, at most ``timeout`` seconds (the deadline is kept here, per item:
the stream itself has none). Lanes are used in turn.

``BatchWriter`` is the lane's one writer: the first item queued starts a writer task,
whose first step runs once the callbacks already ready in this turn have run, so the
items they queue go in the same message (``pack`` builds it). While the lane is busy
(its last message carried more than one item) the writer lets the loop turn once more
before it writes, so the items of the tasks those callbacks start join too (an HTTP
request's task runs one turn after its bytes are read): a message fewer spares a
system call on both ends, 8 % of the CPU of a webhook at c=16 (``bench.compare``). A
quiet lane writes at the first step, so that a lone item waits for nothing: the extra
turn cost 8 % more CPU per webhook at c=1. At most one write is in flight per lane;
items queued meanwhile go together in the next message (gRPC's own flow control paces
the writes). An item whose caller stopped waiting (its deadline
passed) before its message was written is left out. Answer messages carry batches
too (``unpack`` lists them); each answer is routed by its key.

When a stream breaks, the items waiting on it fail with ``Unavailable`` (they may or
may not have been handled) and the lane opens a new call on its next use; meanwhile,
for ``DOWN_SECONDS``, new items go to the other lanes when there are others. When the
server ends a stream cleanly (it is shutting down, see
``hookline_runtime.transport.item_streams``), the items it left unanswered were never
read there: they are sent once more, on a new call. A key already waiting on the
client is refused with ``KeyInFlight``: the caller uses its unary method instead.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import grpc

from hookline_runtime.errors import DeadlineExceeded, Unavailable
from hookline_runtime.logs import get_logger
from hookline_runtime.transport.item_streams import SizedMessage, split_batches

__all__ = [
    "DOWN_SECONDS",
    "BatchWriter",
    "ItemStreamClient",
    "KeyInFlight",
    "StreamOpener",
    "pick_lane",
]

DOWN_SECONDS = 1.0
"""How long a lane whose stream ended is passed over while other lanes are up."""

log = get_logger(__name__)


ItemT = TypeVar("ItemT", bound=SizedMessage)
ReplyT = TypeVar("ReplyT")

StreamOpener = Callable[[], "grpc.aio.StreamStreamCall[Any, Any]"]
"""Opens one bidirectional call (``stub.Method()``, written with ``write()``)."""


class KeyInFlight(Exception):
    """An item with this key is already waiting for its answer on this client."""


class _Resend(Exception):
    """The server ended the stream without reading the item: send it again."""


class BatchWriter(Generic[ItemT]):
    """The one writer of one call: items queued in the same event-loop turn (two
    turns while the call is busy), or while a write is in flight, go out together as
    one ``pack(items)`` message."""

    def __init__(
        self,
        name: str,
        call: grpc.aio.StreamStreamCall[Any, Any],
        pack: Callable[[list[ItemT]], Any],
    ) -> None:
        self._name = name
        self._call = call
        self._pack = pack
        self._queue: list[tuple[ItemT, asyncio.Future[Any] | None]] = []
        self._task: asyncio.Task[None] | None = None
        self._last_batch = 0

    def put(self, item: ItemT, future: asyncio.Future[Any] | None = None) -> None:
        """Queue ``item``. ``future`` is the answer it waits for: a write that fails
        fails it with ``Unavailable``, and once done the item is no longer sent."""
        self._queue.append((item, future))
        if self._task is None:
            # A task's first step is scheduled with call_soon: it runs after every
            # callback already ready, so the items they queue join this message.
            self._task = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        try:
            if self._last_batch > 1:
                await asyncio.sleep(0)  # busy: one more turn of items (module docstring)
            while self._queue:
                queued, self._queue = self._queue, []
                items = [item for item, future in queued if future is None or not future.done()]
                for batch in split_batches(items) if items else ():
                    self._last_batch = len(batch)
                    try:
                        await self._call.write(self._pack(batch))
                    except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as exc:
                        error = Unavailable(f"{self._name}: the stream broke: {exc}")
                        for _, future in queued:
                            if future is not None and not future.done():
                                future.set_exception(error)
                        break
        finally:
            self._task = None

    def stop(self) -> None:
        """Drop what is queued and stop writing (the call has ended)."""
        self._queue = []
        if self._task is not None:
            self._task.cancel()


@dataclass(eq=False)
class _Lane(Generic[ItemT, ReplyT]):
    name: str
    opener: StreamOpener
    key_of: Callable[[ReplyT], str]
    pack: Callable[[list[ItemT]], Any]
    unpack: Callable[[Any], Iterable[ReplyT]]
    call: grpc.aio.StreamStreamCall[Any, Any] | None = None
    writer: BatchWriter[ItemT] | None = None
    reader: asyncio.Task[None] | None = None
    waiting: dict[str, asyncio.Future[ReplyT]] = field(default_factory=dict)
    down_until: float = 0.0

    def open(self) -> BatchWriter[ItemT]:
        if self.call is None or self.writer is None:
            self.call = self.opener()
            self.writer = BatchWriter(self.name, self.call, self.pack)
            self.reader = asyncio.ensure_future(self._read(self.call, self.writer))
        return self.writer

    async def _read(
        self, call: grpc.aio.StreamStreamCall[Any, Any], writer: BatchWriter[ItemT]
    ) -> None:
        error: BaseException
        try:
            async for message in call:
                for reply in self.unpack(message):
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
            writer.stop()
            if self.call is call:
                self.call = self.writer = None
            self.down_until = asyncio.get_running_loop().time() + DOWN_SECONDS
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(error)

    async def send(self, key: str, item: ItemT, timeout: float) -> ReplyT:
        if key in self.waiting:
            raise KeyInFlight(key)
        writer = self.open()
        future: asyncio.Future[ReplyT] = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        writer.put(item, future)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise DeadlineExceeded(f"{self.name}: no answer within {timeout:g} s") from None
        finally:
            if self.waiting.get(key) is future:
                del self.waiting[key]
            if not future.done():
                future.cancel()  # the writer leaves it out if not written yet

    async def close(self) -> None:
        call, reader, writer = self.call, self.reader, self.writer
        self.call = self.reader = self.writer = None
        if writer is not None:
            writer.stop()
        if call is not None:
            call.cancel()
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


class ItemStreamClient(Generic[ItemT, ReplyT]):
    """Items over long-lived streams, one per lane, matched by key, written and
    answered in batches (module docstring)."""

    def __init__(
        self,
        name: str,
        openers: Sequence[StreamOpener],
        key_of: Callable[[ReplyT], str],
        *,
        pack: Callable[[list[ItemT]], Any],
        unpack: Callable[[Any], Iterable[ReplyT]],
    ) -> None:
        """``pack(items)`` is the request message for a batch of items;
        ``unpack(message)`` the answers a response message carries."""
        if not openers:
            raise ValueError("an item stream needs at least one lane")
        self._lanes = [
            _Lane[ItemT, ReplyT](name, opener, key_of, pack, unpack) for opener in openers
        ]
        self._turn = itertools.cycle(range(len(self._lanes)))

    async def call(self, key: str, item: ItemT, *, timeout: float) -> ReplyT:
        """The answer to ``item``; ``Unavailable`` when the stream broke,
        ``DeadlineExceeded`` past ``timeout``, ``KeyInFlight`` for a key in flight."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for attempt in range(2):
            lane = pick_lane(self._lanes, self._turn)
            try:
                return await lane.send(key, item, max(0.0, deadline - loop.time()))
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
