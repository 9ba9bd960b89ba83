"""Many gRPC calls on one long-lived stream between two hookline processes.

A unary call costs Python's grpc.aio about 0.9 ms of CPU (client and server side
together), a message on an open stream about half that, and a batch of messages
written at once little more than one message. So a ``ServiceClient`` carries its calls
as frames on ``hookline.multiplex.v1.MultiplexService/Exchange`` sessions, one per
server it talks to, and the frames that become ready in the same event-loop turn go
out as one gRPC message. On the server, each frame is dispatched to the very handler
that serves the plain gRPC method, with the same error mapping (``GrpcServer`` serves
both; the plain methods stay for grpcurl, health checks and older clients).

What gRPC would give a call is kept: status codes and messages (raised as
``grpc.aio.AioRpcError``), deadlines (enforced by both sides), cancellation (a caller
that stops waiting cancels the server's handler), server streaming and the message
size limit. A call moves to the next server only when it cannot have run there: the
session could not be opened, or the server answered REFUSED while shutting down. A
server that is shutting down sends GOAWAY: its calls in flight finish and new calls
open a new session, normally on another server. A server without the service
(UNIMPLEMENTED) is called the plain way.

    client = Multiplexer...   # see ``runtime.grpc_client.ServiceClient``
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from hookline.multiplex.v1 import multiplex_service_pb2 as pb
from hookline.multiplex.v1 import multiplex_service_pb2_grpc as pb_grpc

from runtime.logs import get_logger

__all__ = [
    "EXCHANGE_METHOD",
    "MultiplexServicer",
    "MultiplexStub",
    "SessionPool",
    "recording_server",
]

log = get_logger(__name__)

EXCHANGE_METHOD = "/hookline.multiplex.v1.MultiplexService/Exchange"

_BATCH_BYTES = 1024 * 1024
"""Frames are gathered into one message up to this size (a larger frame goes alone)."""

_FRAME_OVERHEAD = 64
_MAX_SESSION_AGE_SECONDS = 300.0
"""A session older than this takes no new calls (as gRPC's max connection age), so
that servers added behind a ``dns:///`` name get their share."""
_OPEN_TIMEOUT_SECONDS = 5.0
_BACKOFF_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0)

_CALL = pb.FRAME_KIND_CALL
_CANCEL = pb.FRAME_KIND_CANCEL
_MESSAGE = pb.FRAME_KIND_MESSAGE
_STATUS = pb.FRAME_KIND_STATUS
_REFUSED = pb.FRAME_KIND_REFUSED
_GOAWAY = pb.FRAME_KIND_GOAWAY

_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class _Outbox:
    """Frames waiting to be written, and the task that writes them in batches.

    Frames put during one event-loop turn are written together: the writer runs in a
    later turn than the one that woke it. One writer per stream, as gRPC requires."""

    def __init__(
        self,
        write: Callable[[list[pb.Frame]], Awaitable[None]],
        name: str,
        on_broken: Callable[[], object] | None = None,
    ) -> None:
        self._write = write
        self._on_broken = on_broken
        self._frames: list[pb.Frame] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.create_task(self._run(), name=name)
        self.writes = 0
        """Messages written: with ``frames`` it shows how well frames are batched."""
        self.frames = 0

    def put(self, frame: pb.Frame) -> None:
        self._frames.append(frame)
        self._idle.clear()
        self._wake.set()

    def _take_batch(self) -> list[pb.Frame]:
        frames, size, count = self._frames, 0, 0
        for frame in frames:
            size += len(frame.payload) + _FRAME_OVERHEAD
            if count and size > _BATCH_BYTES:
                break
            count += 1
        batch, self._frames = frames[:count], frames[count:]
        return batch

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                await asyncio.sleep(0)  # one more loop turn of frames in this message
                self._wake.clear()
                while self._frames:
                    batch = self._take_batch()
                    self.writes += 1
                    self.frames += len(batch)
                    try:
                        await self._write(batch)
                    except (grpc.RpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
                        # The stream has ended under us: its reader fails what waits.
                        log.debug("Multiplexed stream write failed", exc_info=True)
                        if self._on_broken is not None:
                            self._on_broken()
                        return
                self._idle.set()
        finally:
            self._idle.set()

    async def flushed(self) -> None:
        """Wait until every frame put so far has been written (or the writer ended)."""
        await self._idle.wait()

    def close(self) -> None:
        self._task.cancel()


# --------------------------------------------------------------------------- server


def recording_server(server: grpc.aio.Server, handlers: list[grpc.GenericRpcHandler]) -> Any:
    """``server`` as seen by a generated ``add_*Servicer_to_server`` function, keeping a
    copy of the handlers it registers in ``handlers`` (to serve them multiplexed)."""

    class _Recording:
        def add_generic_rpc_handlers(self, generic: Sequence[grpc.GenericRpcHandler]) -> None:
            handlers.extend(generic)
            server.add_generic_rpc_handlers(generic)

        def __getattr__(self, name: str) -> Any:
            return getattr(server, name)

    return _Recording()


@dataclass(frozen=True, slots=True)
class _Details:
    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


class _Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class _FrameContext:
    """The servicer context of a multiplexed call: what hookline's handlers use."""

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Any = ()
    ) -> NoReturn:
        raise _Aborted(code, details)

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def cancelled(self) -> bool:
        return False


class MultiplexServicer(pb_grpc.MultiplexServiceServicer):
    """Serves the methods in ``handlers`` as frames on Exchange sessions; ``wrap`` is
    applied to each method handler (``GrpcServer`` maps domain errors with it)."""

    def __init__(
        self,
        handlers: Sequence[grpc.GenericRpcHandler],
        wrap: Callable[[grpc.RpcMethodHandler[Any, Any]], grpc.RpcMethodHandler[Any, Any]],
        *,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._generic = list(handlers)
        self._wrap = wrap
        self.max_message_bytes = max_message_bytes
        self._methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        self._sessions: set[_ServerSession] = set()
        self.draining = False

    def handler(self, method: str) -> grpc.RpcMethodHandler[Any, Any] | None:
        """The wrapped handler of ``method`` (looked up once), None for no such method."""
        found = self._methods.get(method)
        if found is None:
            for generic in self._generic:
                plain = generic.service(cast(grpc.HandlerCallDetails, _Details(method)))
                if plain is not None:
                    found = self._methods[method] = self._wrap(plain)
                    break
        return found

    def drain(self) -> None:
        """Refuse new calls and tell every client to move its next calls elsewhere."""
        self.draining = True
        for session in self._sessions:
            session.go_away()

    async def Exchange(  # type: ignore[override]  # streams with context.write()
        self,
        request_iterator: AsyncIterator[pb.ExchangeRequest],
        context: grpc.aio.ServicerContext[pb.ExchangeRequest, pb.ExchangeResponse],
    ) -> None:
        await context.send_initial_metadata(())
        session = _ServerSession(self, context)
        self._sessions.add(session)
        try:
            await session.run(request_iterator)
        finally:
            self._sessions.discard(session)


class _ServerSession:
    def __init__(
        self,
        servicer: MultiplexServicer,
        context: grpc.aio.ServicerContext[pb.ExchangeRequest, pb.ExchangeResponse],
    ) -> None:
        self._servicer = servicer
        self._context = context
        self._calls: dict[int, asyncio.Task[None]] = {}
        self._cancelled: dict[int, str] = {}
        """Calls cancelled on purpose, and why: "client" (CANCEL) or "deadline"."""
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._idle = asyncio.Event()
        self.outbox = _Outbox(self._write, "multiplex-server-writer")
        if servicer.draining:
            self.go_away()

    async def _write(self, frames: list[pb.Frame]) -> None:
        await self._context.write(pb.ExchangeResponse(frames=frames))

    def go_away(self) -> None:
        self.outbox.put(pb.Frame(kind=_GOAWAY))

    async def run(self, requests: AsyncIterator[pb.ExchangeRequest]) -> None:
        try:
            async for request in requests:
                for frame in request.frames:
                    self._on_frame(frame)
            # The client has finished sending: serve what it asked for, then end.
            while self._calls:
                self._idle.clear()
                await self._idle.wait()
            await self.outbox.flushed()
        finally:
            for task in self._calls.values():
                task.cancel()
            self.outbox.close()

    def _on_frame(self, frame: pb.Frame) -> None:
        call_id = frame.call_id
        if frame.kind == _CANCEL:
            task = self._calls.get(call_id)
            if task is not None:
                self._cancelled[call_id] = "client"
                task.cancel()
            return
        if frame.kind != _CALL:
            return
        if self._servicer.draining:
            self.outbox.put(pb.Frame(call_id=call_id, kind=_REFUSED))
            return
        handler = self._servicer.handler(frame.method)
        if handler is None:
            self._status(
                call_id, grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {frame.method}"
            )
            return
        task = asyncio.create_task(self._serve(call_id, frame, handler))
        self._calls[call_id] = task

    def _fitting(self, payload: bytes) -> bytes:
        """``payload`` if it fits in one message; RESOURCE_EXHAUSTED for this call only
        otherwise (a message over the limit would end the whole session)."""
        limit = self._servicer.max_message_bytes
        if len(payload) + _FRAME_OVERHEAD > limit:
            raise _Aborted(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Sent message larger than max ({len(payload)} vs. {limit})",
            )
        return payload

    def _expire(self, call_id: int) -> None:
        task = self._calls.get(call_id)
        if task is not None:
            self._cancelled.setdefault(call_id, "deadline")
            task.cancel()

    def _status(
        self, call_id: int, code: grpc.StatusCode, details: str = "", payload: bytes = b""
    ) -> None:
        self.outbox.put(
            pb.Frame(
                call_id=call_id,
                kind=_STATUS,
                status_code=code.value[0],
                status_message=details,
                payload=payload,
            )
        )

    async def _serve(
        self, call_id: int, frame: pb.Frame, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> None:
        timeout = frame.timeout_ms / 1000 if frame.timeout_ms else None
        context = _FrameContext(None if timeout is None else time.monotonic() + timeout)
        if timeout is not None:
            loop = asyncio.get_running_loop()
            self._timers[call_id] = loop.call_later(timeout, self._expire, call_id)
        serialize = cast(Callable[[Any], bytes], handler.response_serializer)
        try:
            deserialize = cast(Callable[[bytes], Any], handler.request_deserializer)
            request = deserialize(frame.payload)
            if handler.unary_unary is not None:
                behaviour = cast(Callable[[Any, Any], Any], handler.unary_unary)
                reply = await behaviour(request, context)
                self._status(call_id, grpc.StatusCode.OK, payload=self._fitting(serialize(reply)))
                return
            stream = cast(Callable[[Any, Any], AsyncIterator[Any]], handler.unary_stream)
            async for item in stream(request, context):
                payload = self._fitting(serialize(item))
                self.outbox.put(pb.Frame(call_id=call_id, kind=_MESSAGE, payload=payload))
            self._status(call_id, grpc.StatusCode.OK)
        except _Aborted as exc:
            self._status(call_id, exc.code, exc.details)
        except asyncio.CancelledError:
            if self._cancelled.get(call_id) == "deadline":
                self._status(call_id, grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
            elif call_id not in self._cancelled:
                raise
        except Exception as exc:
            log.exception("Multiplexed call failed", method=frame.method)
            self._status(call_id, grpc.StatusCode.UNKNOWN, f"Unexpected error: {exc!r}")
        finally:
            self._calls.pop(call_id, None)
            self._cancelled.pop(call_id, None)
            timer = self._timers.pop(call_id, None)
            if timer is not None:
                timer.cancel()
            if not self._calls:
                self._idle.set()


# --------------------------------------------------------------------------- client


class _Refused(Exception):
    """The server did not start the call (shutting down): try another."""


class _Pending:
    """A call in flight on a client session: the frames (or the error) that came for it,
    and the future its caller waits on for the next one."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: collections.deque[pb.Frame | grpc.aio.AioRpcError] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None

    def push(self, item: pb.Frame | grpc.aio.AioRpcError) -> None:
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> pb.Frame:
        """The call's next frame; DEADLINE_EXCEEDED at ``deadline`` (loop time)."""
        while not self.items:
            waiter = self.waiter = loop.create_future()
            timer = None if deadline is None else loop.call_at(deadline, _expire, waiter)
            try:
                await waiter
            finally:
                self.waiter = None
                if timer is not None:
                    timer.cancel()
        item = self.items.popleft()
        if isinstance(item, grpc.aio.AioRpcError):
            raise item
        if item.kind == _REFUSED:
            raise _Refused()
        return item


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(_rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"))


class _ClientSession:
    """One Exchange stream on a channel."""

    def __init__(self, channel: grpc.aio.Channel, target: str, max_message_bytes: int) -> None:
        self.target = target
        self.max_message_bytes = max_message_bytes
        self._channel = channel
        self._ids = itertools.count(1)
        self._calls: dict[int, _Pending] = {}
        self._call: grpc.aio.StreamStreamCall[pb.ExchangeRequest, pb.ExchangeResponse] | None
        self._call = None
        self._opened: asyncio.Future[None] | None = None
        self.outbox: _Outbox | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self.retiring = False
        self.closed = False
        self.opened_at = time.monotonic()

    @property
    def ready(self) -> bool:
        """Open and taking new calls."""
        return self.outbox is not None and not self.closed and not self.retiring

    def retire(self) -> None:
        """Take no new calls; end the stream once the calls in flight are done."""
        self.retiring = True
        self._close_if_idle()

    async def open(self) -> None:
        """Open the stream (once; concurrent callers share the attempt)."""
        if self._opened is None:
            self._opened = asyncio.get_running_loop().create_future()
            try:
                await self._open()
            except BaseException as exc:
                self.closed = True
                self._opened.set_exception(exc)
                self._opened.exception()  # retrieved: other waiters re-raise it
                raise
            self._opened.set_result(None)
            return
        await asyncio.shield(self._opened)

    async def _open(self) -> None:
        call = cast(
            "grpc.aio.StreamStreamCall[pb.ExchangeRequest, pb.ExchangeResponse]",
            self._channel.stream_stream(
                EXCHANGE_METHOD,
                request_serializer=pb.ExchangeRequest.SerializeToString,
                response_deserializer=pb.ExchangeResponse.FromString,
            )(),
        )
        self._call = call
        try:
            async with asyncio.timeout(_OPEN_TIMEOUT_SECONDS):
                await call.initial_metadata()
        except TimeoutError:
            call.cancel()
            raise _rpc_error(grpc.StatusCode.UNAVAILABLE, f"no answer from {self.target}") from None
        if call.done():
            raise _rpc_error(await call.code(), await call.details() or "")
        self.outbox = _Outbox(self._write, "multiplex-client-writer", on_broken=call.cancel)
        self._reader = asyncio.create_task(self._read(call), name="multiplex-client-reader")

    async def _write(self, frames: list[pb.Frame]) -> None:
        assert self._call is not None
        await self._call.write(pb.ExchangeRequest(frames=frames))

    async def _read(
        self, call: grpc.aio.StreamStreamCall[pb.ExchangeRequest, pb.ExchangeResponse]
    ) -> None:
        error = _rpc_error(grpc.StatusCode.UNAVAILABLE, f"connection to {self.target} lost")
        try:
            async for response in call:
                for frame in response.frames:
                    if frame.kind == _GOAWAY:
                        self.retire()
                        continue
                    pending = self._calls.get(frame.call_id)
                    if pending is not None:
                        pending.push(frame)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.CANCELLED:
                error = _rpc_error(
                    grpc.StatusCode.UNAVAILABLE, f"{self.target}: {exc.details() or exc.code()}"
                )
        finally:
            self.closed = True
            for pending in self._calls.values():
                pending.push(error)
            self._calls.clear()
            if self.outbox is not None:
                self.outbox.close()

    def start(self, method: str, payload: bytes, timeout: float | None) -> tuple[int, _Pending]:
        if len(payload) + _FRAME_OVERHEAD > self.max_message_bytes:
            raise _rpc_error(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Sent message larger than max ({len(payload)} vs. {self.max_message_bytes})",
            )
        if self.outbox is None or self.closed:
            raise _rpc_error(grpc.StatusCode.UNAVAILABLE, f"connection to {self.target} lost")
        call_id = next(self._ids)
        pending = _Pending()
        self._calls[call_id] = pending
        timeout_ms = 0 if timeout is None else max(1, int(timeout * 1000))
        self.outbox.put(
            pb.Frame(
                call_id=call_id, kind=_CALL, method=method, payload=payload, timeout_ms=timeout_ms
            )
        )
        return call_id, pending

    def finish(self, call_id: int, *, cancel: bool) -> None:
        if self._calls.pop(call_id, None) is not None and cancel and self.outbox is not None:
            self.outbox.put(pb.Frame(call_id=call_id, kind=_CANCEL))
        self._close_if_idle()

    def _close_if_idle(self) -> None:
        if (
            self.retiring
            and not self._calls
            and self._call is not None
            and not self.closed
            and self._closing is None
        ):
            self._closing = asyncio.get_running_loop().create_task(self._done_writing())

    async def _done_writing(self) -> None:
        """Half-close the stream once what was put is written; the server then ends it
        and the reader marks the session closed."""
        if self.outbox is not None:
            await self.outbox.flushed()
        if self._call is not None and not self.closed:
            try:
                await self._call.done_writing()
            except (grpc.RpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
                pass  # the stream ended first

    def close(self) -> None:
        self.closed = True
        if self._call is not None:
            self._call.cancel()
        if self.outbox is not None:
            self.outbox.close()


class _Slot:
    """One server address: its channel, current session and reconnect back-off."""

    def __init__(self, channel: grpc.aio.Channel, target: str, max_message_bytes: int) -> None:
        self.channel = channel
        self.target = target
        self._max = max_message_bytes
        self.session: _ClientSession | None = None
        self.plain = False
        self.failures = 0
        self.retry_at = 0.0

    def current(self) -> _ClientSession:
        session = self.session
        if session is not None and session.opened_at + _MAX_SESSION_AGE_SECONDS < time.monotonic():
            session.retire()
        if session is None or session.closed or session.retiring:
            session = self.session = _ClientSession(self.channel, self.target, self._max)
        return session

    def failed(self) -> None:
        delay = _BACKOFF_SECONDS[min(self.failures, len(_BACKOFF_SECONDS) - 1)]
        self.failures += 1
        self.retry_at = time.monotonic() + delay

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class SessionPool:
    """Sessions to every server of one service; calls go round-robin over them.

    ``channels`` pairs each server's channel with its address; ``plain_stub`` makes the
    generated stub for a channel, used for servers without MultiplexService."""

    def __init__(
        self,
        channels: Sequence[tuple[grpc.aio.Channel, str]],
        plain_stub: Callable[[grpc.aio.Channel], Any],
        *,
        max_message_bytes: int,
    ) -> None:
        self._slots = [_Slot(ch, target, max_message_bytes) for ch, target in channels]
        self._plain_stub = plain_stub
        self._plain: dict[int, Any] = {}
        self._turn = itertools.cycle(range(len(self._slots)))

    def _order(self, first: int) -> Iterator[_Slot]:
        slots = self._slots[first:] + self._slots[:first]
        now = time.monotonic()
        ready = [s for s in slots if s.retry_at <= now]
        waiting = [s for s in slots if s.retry_at > now]
        return iter(ready + waiting)

    async def session(self, tried: set[int]) -> _ClientSession | _Slot:
        """An open session on the next server not in ``tried`` (or the slot of a server
        to call the plain way); UNAVAILABLE when none can be reached. (Opening a session
        is itself retried by the channel's retry policy for UNAVAILABLE.)"""
        first = next(self._turn)
        if not tried:  # the common case: that server's session is open
            slot = self._slots[first]
            current = slot.session
            if (
                current is not None
                and current.ready
                and time.monotonic() - current.opened_at < _MAX_SESSION_AGE_SECONDS
            ):
                tried.add(id(slot))
                return current
        error: grpc.aio.AioRpcError | None = None
        for slot in self._order(first):
            if id(slot) in tried:
                continue
            tried.add(id(slot))
            if slot.plain:
                return slot
            session = slot.current()
            try:
                await session.open()
            except grpc.aio.AioRpcError as exc:
                if exc.code() is grpc.StatusCode.UNIMPLEMENTED:
                    slot.plain = True
                    return slot
                slot.failed()
                error = exc
                continue
            slot.failures = 0
            return session
        raise error or _rpc_error(grpc.StatusCode.UNAVAILABLE, "no server took the call")

    def batching(self) -> tuple[int, int]:
        """(messages, frames) the open sessions have written: how well calls batch."""
        messages = frames = 0
        for slot in self._slots:
            session = slot.session
            if session is not None and session.outbox is not None:
                messages += session.outbox.writes
                frames += session.outbox.frames
        return messages, frames

    def plain_stub(self, slot: _Slot) -> Any:
        stub = self._plain.get(id(slot))
        if stub is None:
            stub = self._plain[id(slot)] = self._plain_stub(slot.channel)
        return stub

    def close(self) -> None:
        for slot in self._slots:
            slot.close()


def _raise_status(frame: pb.Frame) -> None:
    code = _CODES.get(frame.status_code, grpc.StatusCode.UNKNOWN)
    if code is not grpc.StatusCode.OK:
        raise _rpc_error(code, frame.status_message)


def _remaining(
    loop: asyncio.AbstractEventLoop, deadline: float | None, floor: float
) -> float | None:
    """Seconds left before ``deadline`` (loop time), at least ``floor``; None for none."""
    return None if deadline is None else max(floor, deadline - loop.time())


class _Method:
    """One method of a ``MultiplexStub``: its path, and how to read its responses."""

    def __init__(self, pool: SessionPool, method: MethodDescriptor, path: str) -> None:
        self.pool = pool
        self.name = method.name
        self.path = path
        self.response = message_factory.GetMessageClass(method.output_type)


class _UnaryMethod(_Method):
    async def __call__(self, request: Message, *, timeout: float | None = None) -> Message:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        payload = request.SerializeToString()
        tried: set[int] = set()
        while True:
            target = await self.pool.session(tried)
            if isinstance(target, _Slot):
                plain = getattr(self.pool.plain_stub(target), self.name)
                return cast(Message, await plain(request, timeout=_remaining(loop, deadline, 0.0)))
            call_id, pending = target.start(self.path, payload, _remaining(loop, deadline, 0.001))
            done = False
            try:
                frame = await pending.next(loop, deadline)
                done = True
            except _Refused:
                done = True
                continue
            finally:
                target.finish(call_id, cancel=not done)
            _raise_status(frame)
            return self.response.FromString(frame.payload)


class _StreamCall:
    """A server-streaming call: iterate for the messages; ``cancel()`` to stop."""

    def __init__(self, method: _StreamMethod, request: Message, timeout: float | None) -> None:
        self._method = method
        self._request = request
        self._timeout = timeout
        self._session: _ClientSession | None = None
        self._call_id = 0
        self._plain: Any = None
        self._cancelled = False

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        loop = asyncio.get_running_loop()
        deadline = None if self._timeout is None else loop.time() + self._timeout
        payload = self._request.SerializeToString()
        pool, tried = self._method.pool, set[int]()
        while not self._cancelled:
            target = await pool.session(tried)
            if isinstance(target, _Slot):
                stub = pool.plain_stub(target)
                self._plain = getattr(stub, self._method.name)(
                    self._request, timeout=_remaining(loop, deadline, 0.0)
                )
                async for message in self._plain:
                    yield message
                return
            self._call_id, pending = target.start(
                self._method.path, payload, _remaining(loop, deadline, 0.001)
            )
            self._session = target
            done = False
            try:
                while True:
                    frame = await pending.next(loop, deadline)
                    if frame.kind == _MESSAGE:
                        yield self._method.response.FromString(frame.payload)
                        continue
                    done = True
                    _raise_status(frame)
                    return
            except _Refused:
                done = True
                continue
            finally:
                target.finish(self._call_id, cancel=not done)
                self._session = None

    def cancel(self) -> bool:
        self._cancelled = True
        if self._plain is not None:
            return bool(self._plain.cancel())
        if self._session is not None:
            self._session.finish(self._call_id, cancel=True)
            self._session = None
            return True
        return False


class _StreamMethod(_Method):
    def __call__(self, request: Message, *, timeout: float | None = None) -> _StreamCall:
        return _StreamCall(self, request, timeout)


class MultiplexStub:
    """A stand-in for a generated async stub whose calls travel on ``pool``'s sessions.

    Unary methods are awaitable; server-streaming methods return a call to iterate
    and ``cancel()``, as the generated stub's do. Calls take ``timeout`` only."""

    def __init__(self, pool: SessionPool, service: ServiceDescriptor) -> None:
        for method in service.methods:
            if method.client_streaming:
                continue
            path = f"/{service.full_name}/{method.name}"
            kind = _StreamMethod if method.server_streaming else _UnaryMethod
            setattr(self, method.name, kind(pool, method, path))
