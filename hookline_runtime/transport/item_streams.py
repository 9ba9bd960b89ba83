"""Serving a stream that carries many items of one purpose (``HandleWebhooks``,
``StoreResults``, ``WatchResults``), in batches.

Each stream message carries a batch of items (``items_of`` lists them). ``serve_items``
runs, for each item, the same domain call the unary method runs, concurrently; an
item's failure becomes its own answer, with the code of ``hookline_runtime.errors``
(the table the unary methods use) as a ``google.rpc.Status``. ``serve_watches``
does the same for items that each produce several answers (a watch's events) and may
be cancelled by a later item.

Answers go back in batches too (``batch`` builds one response message): the first
answer ready schedules a flush with ``loop.call_soon``, so every answer ready in the
same event-loop turn shares its message. While the stream is busy (its last message
carried more than one answer) the writer lets the loop turn once more before it takes
what is ready, so that answers a turn or two apart (one waits on a Redis reply its
neighbour did not need) share the message too; a quiet stream answers at once (see
``hookline_runtime.transport.item_stream_client`` for what each costs).
At most one write is in flight per stream; answers ready meanwhile go in the next
message. A message holds at most ``BATCH_MAX_BYTES`` of answers, or one larger answer.

Both end when the client ends its side and every item is answered, or when the
server shuts down (``StreamDrain.close``): reading stops, the items already read are
answered, and the stream ends with OK — the client sends the ones it has no answer
for again, on another stream (they were never read here).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Generic, Protocol, TypeVar

import grpc
from google.rpc.status_pb2 import Status

from hookline_runtime.errors import HooklineError
from hookline_runtime.logs import get_logger
from hookline_runtime.transport.status import grpc_code_for

__all__ = [
    "BATCH_MAX_BYTES",
    "SizedMessage",
    "StreamDrain",
    "item_error",
    "serve_items",
    "serve_watches",
    "split_batches",
]

log = get_logger(__name__)

BATCH_MAX_BYTES = 1024 * 1024
"""A batch closes before the item that would take it past this size (an item larger
than this goes alone): messages stay far under gRPC's message cap, and a large item
does not hold many small ones behind it."""


class SizedMessage(Protocol):
    """A protobuf message, as far as batching needs one: its serialized size."""

    def ByteSize(self) -> int: ...


SizedT = TypeVar("SizedT", bound=SizedMessage)
ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")
ItemT = TypeVar("ItemT")
ReplyT = TypeVar("ReplyT", bound=SizedMessage)


def split_batches(items: list[SizedT], max_bytes: int = BATCH_MAX_BYTES) -> list[list[SizedT]]:
    """``items`` cut, in order, into batches of at most ``max_bytes`` (an item larger
    than that is a batch of its own)."""
    if len(items) == 1:
        return [items]
    batches: list[list[SizedT]] = []
    batch: list[SizedT] = []
    size = 0
    for item in items:
        item_size = item.ByteSize()
        if batch and size + item_size > max_bytes:
            batches.append(batch)
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        batches.append(batch)
    return batches


def item_error(exc: BaseException) -> Status:
    """The error answer for an item whose domain call raised ``exc``."""
    if isinstance(exc, HooklineError):
        return Status(code=grpc_code_for(exc).value[0], message=exc.message)
    return Status(code=grpc.StatusCode.INTERNAL.value[0], message="internal error")


class StreamDrain:
    """Tells the streams of one server that it shuts down (``GrpcServer`` closes it)."""

    def __init__(self) -> None:
        self.closed = False
        self._streams: set[asyncio.Task[None]] = set()

    def _add(self, reader: asyncio.Task[None]) -> None:
        if self.closed:
            reader.cancel()
        self._streams.add(reader)

    def _discard(self, reader: asyncio.Task[None]) -> None:
        self._streams.discard(reader)

    def close(self) -> None:
        """Stop reading every stream; each ends once its items are answered."""
        self.closed = True
        for reader in list(self._streams):
            reader.cancel()


class _Items(Generic[ItemT, ReplyT]):
    """The tasks of one stream's items and the answers they produce, flushed in
    batches (module docstring)."""

    def __init__(self) -> None:
        self.tasks: dict[object, asyncio.Task[None]] = {}
        self._ready: list[ReplyT] = []
        self._wake = asyncio.Event()
        self._flush_scheduled = False
        self._last_batch = 0
        self._reading = True
        self._loop = asyncio.get_running_loop()

    def answer(self, reply: ReplyT) -> None:
        self._ready.append(reply)
        self._schedule()

    def _schedule(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._wake.set()

    def spawn(self, key: object, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            finally:
                if self.tasks.get(key) is task:
                    del self.tasks[key]
                self._schedule()  # the stream may be done

        task = asyncio.ensure_future(run())
        self.tasks[key] = task

    def cancel(self, key: object) -> None:
        task = self.tasks.get(key)
        if task is not None:
            task.cancel()

    async def drain(
        self,
        requests: AsyncIterable[ReqT],
        items_of: Callable[[ReqT], Iterable[ItemT]],
        take: Callable[[ItemT], None],
        batch: Callable[[list[ReplyT]], RespT],
        drain: StreamDrain | None,
    ) -> AsyncIterator[RespT]:
        async def read() -> None:
            try:
                async for request in requests:
                    for item in items_of(request):
                        take(item)
            finally:
                self._reading = False
                self._schedule()

        reader = asyncio.ensure_future(read())
        if drain is not None:
            drain._add(reader)
        try:
            while True:
                await self._wake.wait()
                if self._last_batch > 1:
                    await asyncio.sleep(0)  # busy: one more turn of answers (module docstring)
                self._wake.clear()
                if self._ready:
                    ready, self._ready = self._ready, []
                    self._last_batch = len(ready)
                    for replies in split_batches(ready):
                        yield batch(replies)  # one write in flight; answers gather meanwhile
                if not self._reading and not self.tasks and not self._ready:
                    return
        finally:
            if drain is not None:
                drain._discard(reader)
            reader.cancel()
            for task in list(self.tasks.values()):
                task.cancel()


async def serve_items(
    requests: AsyncIterable[ReqT],
    items_of: Callable[[ReqT], Iterable[ItemT]],
    handle: Callable[[ItemT], Awaitable[ReplyT]],
    fail: Callable[[ItemT, Status], ReplyT],
    batch: Callable[[list[ReplyT]], RespT],
    *,
    drain: StreamDrain | None = None,
) -> AsyncIterator[RespT]:
    """Answer each item of each request message with ``handle(item)``, or
    ``fail(item, error)`` when it raises; answers come in the order they are ready,
    those ready together in one ``batch(replies)`` message."""
    items: _Items[ItemT, ReplyT] = _Items()
    counter = 0

    async def answer(item: ItemT) -> None:
        try:
            reply = await handle(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, HooklineError):
                log.exception("Stream item failed")
            reply = fail(item, item_error(exc))
        items.answer(reply)

    def take(item: ItemT) -> None:
        nonlocal counter
        counter += 1
        items.spawn(counter, answer(item))

    async for message in items.drain(requests, items_of, take, batch, drain):
        yield message


async def serve_watches(
    requests: AsyncIterable[ReqT],
    items_of: Callable[[ReqT], Iterable[ItemT]],
    key_of: Callable[[ItemT], int],
    watch: Callable[[ItemT], AsyncIterator[ReplyT] | None],
    fail: Callable[[ItemT, Status], ReplyT],
    batch: Callable[[list[ReplyT]], RespT],
    *,
    drain: StreamDrain | None = None,
) -> AsyncIterator[RespT]:
    """For each item of each request message, stream the answers of ``watch(item)``
    (tagged by the caller), those ready together in one ``batch(events)`` message;
    ``watch`` returns None for an item that cancels the watch ``key_of(item)`` names.
    A watch that raises ends with ``fail(item, error)``."""
    items: _Items[ItemT, ReplyT] = _Items()

    async def run(item: ItemT, events: AsyncIterator[ReplyT]) -> None:
        try:
            async for event in events:
                items.answer(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, HooklineError):
                log.exception("Stream watch failed")
            items.answer(fail(item, item_error(exc)))

    def take(item: ItemT) -> None:
        key = key_of(item)
        events = watch(item)
        if events is None:
            items.cancel(key)
        else:
            items.cancel(key)  # a reused id replaces the watch it named
            items.spawn(key, run(item, events))

    async for message in items.drain(requests, items_of, take, batch, drain):
        yield message
