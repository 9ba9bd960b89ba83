"""The edge's ports (``hookline_edge.ports``) over gRPC streams.

``StreamWebhookGateway`` sends webhook calls on the trigger service's
``HandleWebhooks`` stream (``hookline_runtime.transport.item_stream_client``: one long-lived call per
channel, replies matched by execution id, a deadline per call). ``StreamResultWaiter``
carries every waiter of this process on the cache service's ``WatchResults`` stream:
one long-lived call per channel, each watch subscribed under its own watch id,
its events routed back to it, and a cancel sent when its waiter leaves early. A
stream that breaks cuts its watches short: they watch again on the next stream in
turn, passing over for a while the one that broke (its next use opens a new call). Each item carries its trace context.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
from hookline.cache.v1 import cache_service_pb2
from hookline.trigger.v1 import trigger_service_pb2 as tpb

from hookline_edge.clients.upstreams import CALL_TIMEOUT_SECONDS, WATCH_MARGIN_SECONDS
from hookline_edge.ports import (
    OutcomeKind,
    WaitRequest,
    WatchCut,
    WatchOutcome,
    WebhookCall,
    WebhookReply,
)
from hookline_runtime.logs import get_logger
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.item_stream_client import (
    DOWN_SECONDS,
    ItemStreamClient,
    KeyInFlight,
    pick_lane,
)
from hookline_runtime.transport.status import error_for_code, status_code
from hookline_runtime.transport.trace_context import outgoing

if TYPE_CHECKING:
    from hookline.cache.v1.cache_service_pb2_grpc import CacheServiceAsyncStub
    from hookline.trigger.v1.trigger_service_pb2_grpc import TriggerServiceAsyncStub

__all__ = ["StreamResultWaiter", "StreamWebhookGateway"]

log = get_logger(__name__)

cpb = cache_service_pb2

_MODES = {
    tpb.RESPONSE_MODE_LAST_NODE: "lastNode",
    tpb.RESPONSE_MODE_RESPONSE_NODE: "responseNode",
}
_REJECTIONS = {
    tpb.WEBHOOK_REJECTION_NOT_FOUND: "not_found",
    tpb.WEBHOOK_REJECTION_METHOD_NOT_ALLOWED: "method_not_allowed",
    tpb.WEBHOOK_REJECTION_UNAUTHORIZED: "unauthorized",
    tpb.WEBHOOK_REJECTION_INVALID_BODY: "invalid_body",
    tpb.WEBHOOK_REJECTION_IDEMPOTENCY_KEY_REUSED: "idempotency_key_reused",
    tpb.WEBHOOK_REJECTION_PAYLOAD_TOO_LARGE: "payload_too_large",
}


def _request(call: WebhookCall) -> tpb.HandleWebhookRequest:
    return tpb.HandleWebhookRequest(
        method=call.method,
        path=call.path,
        headers=[tpb.HttpHeader(name=n, value=v) for n, v in call.headers],
        query=[tpb.QueryParameter(name=n, value=v) for n, v in call.query],
        body=call.body,
        execution_id=call.execution_id,
        idempotency_key=call.idempotency_key,
        request_fingerprint=call.fingerprint,
    )


def _reply(reply: tpb.HandleWebhookResponse) -> WebhookReply:
    rejection = None
    if reply.rejection != tpb.WEBHOOK_REJECTION_UNSPECIFIED:
        rejection = _REJECTIONS.get(reply.rejection, "rejected")
    return WebhookReply(
        rejection=rejection,
        message=reply.rejection_message,
        allowed_methods=tuple(reply.allowed_methods),
        execution_id=reply.execution_id,
        workflow_id=reply.workflow_id,
        response_mode=_MODES.get(reply.response_mode, "onReceived"),
        response_timeout_seconds=reply.response_timeout_seconds,
        save_execution=reply.save_execution,
        replayed=reply.replayed,
    )


def _answered_id(reply: tpb.HandleWebhooksResponse) -> str:
    return reply.execution_id


class StreamWebhookGateway:
    """``WebhookGateway`` over ``TriggerService/HandleWebhooks``."""

    def __init__(
        self,
        trigger: ServiceClient[TriggerServiceAsyncStub],
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._trigger = trigger
        self._timeout = timeout
        self._stream: ItemStreamClient[tpb.HandleWebhooksRequest, tpb.HandleWebhooksResponse] = (
            ItemStreamClient(
                "trigger HandleWebhooks",
                [stub.HandleWebhooks for stub in trigger.lane_stubs],
                _answered_id,
            )
        )

    async def handle(self, call: WebhookCall) -> WebhookReply:
        request = _request(call)
        item = tpb.HandleWebhooksRequest(call=request, trace=outgoing())
        try:
            answer = await self._stream.call(call.execution_id, item, timeout=self._timeout)
        except KeyInFlight:
            try:
                reply = await self._trigger.stub.HandleWebhook(request, timeout=self._timeout)
            except grpc.aio.AioRpcError as exc:
                raise error_for_code(exc.code(), exc.details() or "") from None
            return _reply(reply)
        if answer.WhichOneof("outcome") == "error":
            raise error_for_code(status_code(answer.error.code), answer.error.message)
        return _reply(answer.reply)

    async def close(self) -> None:
        await self._stream.close()


_TERMINAL = {
    cpb.WATCH_EVENT_RESPONSE: OutcomeKind.RESPONSE,
    cpb.WATCH_EVENT_RESULT: OutcomeKind.RESULT,
    cpb.WATCH_EVENT_TIMED_OUT: OutcomeKind.TIMED_OUT,
    cpb.WATCH_EVENT_NOT_KEPT: OutcomeKind.NOT_KEPT,
}
_CUT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})


@dataclass(eq=False)
class _WatchLane:
    """One long-lived ``WatchResults`` call and the watches it carries."""

    stub: CacheServiceAsyncStub
    call: grpc.aio.StreamStreamCall[Any, Any] | None = None
    watches: dict[int, asyncio.Queue[cpb.WatchResultsResponse | None]] = field(default_factory=dict)
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reader: asyncio.Task[None] | None = None
    down_until: float = 0.0

    def open(self) -> grpc.aio.StreamStreamCall[Any, Any]:
        if self.call is None:
            self.call = self.stub.WatchResults()
            self.reader = asyncio.ensure_future(self._read(self.call))
        return self.call

    async def _read(self, call: grpc.aio.StreamStreamCall[Any, Any]) -> None:
        try:
            async for reply in call:
                queue = self.watches.get(reply.watch_id)
                if queue is not None:
                    queue.put_nowait(reply)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.CANCELLED:
                log.warning("Result watch stream broke", code=exc.code().name)
        except asyncio.CancelledError:
            pass
        finally:
            if self.call is call:
                self.call = None
            self.down_until = asyncio.get_running_loop().time() + DOWN_SECONDS
            for queue in self.watches.values():
                queue.put_nowait(None)  # the stream ended: every watch on it is cut

    async def write(self, call: grpc.aio.StreamStreamCall[Any, Any], item: Any) -> None:
        try:
            async with self.write_lock:
                await call.write(item)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as exc:
            raise WatchCut(f"the watch stream broke: {exc}") from None

    async def close(self) -> None:
        call, reader = self.call, self.reader
        self.call = self.reader = None
        if call is not None:
            call.cancel()
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


class StreamResultWaiter:
    """``ResultWaiter`` over ``CacheService/WatchResults`` (see module docstring)."""

    def __init__(self, cache: ServiceClient[CacheServiceAsyncStub]) -> None:
        self._lanes = [_WatchLane(stub) for stub in cache.lane_stubs]
        self._turn = itertools.cycle(range(len(self._lanes)))
        self._ids = itertools.count(1)
        self._cancels: set[asyncio.Task[None]] = set()

    async def wait(self, request: WaitRequest) -> WatchOutcome:
        lane = pick_lane(self._lanes, self._turn)
        watch_id = next(self._ids)
        queue: asyncio.Queue[cpb.WatchResultsResponse | None] = asyncio.Queue()
        lane.watches[watch_id] = queue
        call = lane.open()
        ended = False
        subscribe = cpb.WatchResultRequest(
            execution_id=request.execution_id,
            timeout_ms=round(request.timeout_seconds * 1000),
            accept_early_response=request.accept_early_response,
            saved_to_database=request.saved_to_database,
            replayed=request.replayed,
        )
        try:
            async with asyncio.timeout(request.timeout_seconds + WATCH_MARGIN_SECONDS):
                await lane.write(
                    call,
                    cpb.WatchResultsRequest(
                        watch_id=watch_id, subscribe=subscribe, trace=outgoing()
                    ),
                )
                while True:
                    reply = await queue.get()
                    if reply is None:
                        ended = True
                        raise WatchCut("the watch stream ended")
                    if reply.WhichOneof("outcome") == "error":
                        ended = True
                        code = status_code(reply.error.code)
                        if code in _CUT_CODES:
                            raise WatchCut(reply.error.message or code.name)
                        raise error_for_code(code, reply.error.message)
                    kind = _TERMINAL.get(reply.event.event)
                    if kind is None:
                        continue
                    if kind is OutcomeKind.RESPONSE and not request.accept_early_response:
                        continue
                    ended = True
                    if kind is OutcomeKind.RESPONSE:
                        return WatchOutcome(kind, reply.event.response_json)
                    if kind is OutcomeKind.RESULT:
                        return WatchOutcome(kind, reply.event.record_json)
                    return WatchOutcome(kind)
        except TimeoutError:
            return WatchOutcome(OutcomeKind.TIMED_OUT)
        finally:
            del lane.watches[watch_id]
            if not ended and lane.call is call:
                self._cancel(lane, call, watch_id)

    def _cancel(
        self, lane: _WatchLane, call: grpc.aio.StreamStreamCall[Any, Any], watch_id: int
    ) -> None:
        """Tell the service that a waiter left (in the background: the waiter may
        be being cancelled itself)."""
        item = cpb.WatchResultsRequest(watch_id=watch_id, cancel=cpb.CancelWatch())
        task = asyncio.ensure_future(lane.write(call, item))
        self._cancels.add(task)
        task.add_done_callback(_forget(self._cancels))

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()


def _forget(tasks: set[asyncio.Task[None]]) -> Any:
    def done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # a cancel that could not be sent: the stream is gone anyway

    return done
