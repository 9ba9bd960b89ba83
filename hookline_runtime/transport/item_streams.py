"""Serving a stream that carries many items of one purpose (``HandleWebhooks``,
``StoreResults``, ``WatchResults``).

``serve_items`` reads request items and runs, for each, the same domain call the
unary method runs, concurrently, yielding each answer as soon as it is ready; an
item's failure becomes its own answer, with the code of ``hookline_runtime.errors`` (the
table the unary methods use) as a ``hookline.rpc.v1.ItemError``. ``serve_watches``
does the same for items that each produce several answers (a watch's events) and
may be cancelled by a later item.

Both end when the client ends its side and every item is answered, or when the
server shuts down (``StreamDrain.close``): reading stops, the items already read are
answered, and the stream ends with OK — the client sends the ones it has no answer
for again, on another stream (they were never read here).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

import grpc
from hookline.rpc.v1 import item_pb2

from hookline_runtime.errors import HooklineError
from hookline_runtime.logs import get_logger
from hookline_runtime.transport.status import grpc_code_for

__all__ = ["StreamDrain", "item_error", "serve_items", "serve_watches"]

log = get_logger(__name__)

ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")


def item_error(exc: BaseException) -> item_pb2.ItemError:
    """The error answer for an item whose domain call raised ``exc``."""
    if isinstance(exc, HooklineError):
        return item_pb2.ItemError(code=grpc_code_for(exc).value[0], message=exc.message)
    return item_pb2.ItemError(code=grpc.StatusCode.INTERNAL.value[0], message="internal error")


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


_READ_DONE = object()


class _Items(Generic[ReqT, RespT]):
    """The tasks of one stream's items and the answers they produce."""

    def __init__(self) -> None:
        self.answers: asyncio.Queue[RespT | object] = asyncio.Queue()
        self.tasks: dict[object, asyncio.Task[None]] = {}

    def spawn(self, key: object, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            finally:
                if self.tasks.get(key) is task:
                    del self.tasks[key]
                self.answers.put_nowait(_TASK_DONE)

        task = asyncio.ensure_future(run())
        self.tasks[key] = task

    def cancel(self, key: object) -> None:
        task = self.tasks.get(key)
        if task is not None:
            task.cancel()

    async def drain(
        self, requests: AsyncIterable[ReqT], take: Callable[[ReqT], None], drain: StreamDrain | None
    ) -> AsyncIterator[RespT]:
        async def read() -> None:
            try:
                async for request in requests:
                    take(request)
            finally:
                self.answers.put_nowait(_READ_DONE)

        reader = asyncio.ensure_future(read())
        if drain is not None:
            drain._add(reader)
        reading = True
        try:
            while reading or self.tasks:
                answer = await self.answers.get()
                if answer is _READ_DONE:
                    reading = False
                elif answer is not _TASK_DONE:
                    yield answer  # type: ignore[misc]
            while not self.answers.empty():  # answers put by the last tasks
                answer = self.answers.get_nowait()
                if answer is not _READ_DONE and answer is not _TASK_DONE:
                    yield answer  # type: ignore[misc]
        finally:
            if drain is not None:
                drain._discard(reader)
            reader.cancel()
            for task in list(self.tasks.values()):
                task.cancel()


_TASK_DONE = object()


async def serve_items(
    requests: AsyncIterable[ReqT],
    handle: Callable[[ReqT], Awaitable[RespT]],
    fail: Callable[[ReqT, item_pb2.ItemError], RespT],
    *,
    drain: StreamDrain | None = None,
) -> AsyncIterator[RespT]:
    """Answer each request item with ``handle(item)``, or ``fail(item, error)`` when
    it raises; answers come in the order they are ready."""
    items: _Items[ReqT, RespT] = _Items()
    counter = 0

    async def answer(request: ReqT) -> None:
        try:
            reply = await handle(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, HooklineError):
                log.exception("Stream item failed")
            reply = fail(request, item_error(exc))
        items.answers.put_nowait(reply)

    def take(request: ReqT) -> None:
        nonlocal counter
        counter += 1
        items.spawn(counter, answer(request))

    async for reply in items.drain(requests, take, drain):
        yield reply


async def serve_watches(
    requests: AsyncIterable[ReqT],
    key_of: Callable[[ReqT], int],
    watch: Callable[[ReqT], AsyncIterator[RespT] | None],
    fail: Callable[[ReqT, item_pb2.ItemError], RespT],
    *,
    drain: StreamDrain | None = None,
) -> AsyncIterator[RespT]:
    """For each request item, stream the answers of ``watch(item)`` (tagged by the
    caller); ``watch`` returns None for an item that cancels the watch ``key_of(item)``
    names. A watch that raises ends with ``fail(item, error)``."""
    items: _Items[ReqT, RespT] = _Items()

    async def run(request: ReqT, events: AsyncIterator[RespT]) -> None:
        try:
            async for event in events:
                items.answers.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, HooklineError):
                log.exception("Stream watch failed")
            items.answers.put_nowait(fail(request, item_error(exc)))

    def take(request: ReqT) -> None:
        key = key_of(request)
        events = watch(request)
        if events is None:
            items.cancel(key)
        else:
            items.cancel(key)  # a reused id replaces the watch it named
            items.spawn(key, run(request, events))

    async for reply in items.drain(requests, take, drain):
        yield reply
