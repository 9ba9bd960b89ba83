"""The edge's ports (``hookline_edge.ports``) over gRPC streams.

``StreamWebhookGateway`` sends webhook calls on the trigger service's
``HandleWebhooks`` stream (``hookline_runtime.transport.item_stream_client``: one
long-lived call per channel, calls ready together sent as one message, replies
matched by execution id, a deadline per call). ``StreamResultWaiter`` carries every
waiter of this process on the cache service's ``WatchResults`` stream: one
long-lived call per channel, each watch subscribed under its own watch id, its
events routed back to it, and a cancel sent when its waiter leaves early; subscribes
and cancels go through the call's ``BatchWriter``, so those ready together share a
message, as do the events that come back together. A stream that breaks cuts its
watches short: they watch again on the next stream in turn, passing over for a while
the one that broke (its next use opens a new call). Each item carries its trace
context.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
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
    BatchWriter,
    ItemStreamClient,
    KeyInFlight,
    pick_lane,
)
from hookline_runtime.transport.status import error_for_code, error_for_status, status_code
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


def _answered_id(reply: tpb.HandleWebhooksReply) -> str:
    return reply.execution_id


def _webhook_batch(items: list[tpb.HandleWebhooksItem]) -> tpb.HandleWebhooksRequest:
    return tpb.HandleWebhooksRequest(items=items)


def _webhook_replies(message: tpb.HandleWebhooksResponse) -> Iterable[tpb.HandleWebhooksReply]:
    return message.replies


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
        self._stream: ItemStreamClient[tpb.HandleWebhooksItem, tpb.HandleWebhooksReply] = (
            ItemStreamClient(
                "trigger HandleWebhooks",
                [stub.HandleWebhooks for stub in trigger.lane_stubs],
                _answered_id,
                pack=_webhook_batch,
                unpack=_webhook_replies,
            )
        )

    async def handle(self, call: WebhookCall) -> WebhookReply:
        request = _request(call)
        item = tpb.HandleWebhooksItem(call=request, trace=outgoing())
        try:
            answer = await self._stream.call(call.execution_id, item, timeout=self._timeout)
        except KeyInFlight:
            try:
                reply = await self._trigger.stub.HandleWebhook(request, timeout=self._timeout)
            except grpc.aio.AioRpcError as exc:
                raise error_for_code(exc.code(), exc.details() or "") from None
            return _reply(reply)
        if answer.WhichOneof("outcome") == "error":
            raise error_for_status(answer.error)
        return _reply(answer.reply)

    async def close(self) -> None:
        await self._stream.close()


_TERMINAL = {
    cpb.WATCH_EVENT_RESPONSE: OutcomeKind.RESPONSE,
    cpb.WATCH_EVENT_RESULT: OutcomeKind.RESULT,
    cpb.WATCH_EVENT_TIMED_OUT: OutcomeKind.TIMED_OUT,
    cpb.WATCH_EVENT_NOT_KEPT: OutcomeKind.NOT_KEPT,
}


def _watch_batch(items: list[cpb.WatchResultsItem]) -> cpb.WatchResultsRequest:
    return cpb.WatchResultsRequest(items=items)


_CUT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})


@dataclass(eq=False)
class _WatchLane:
    """One long-lived ``WatchResults`` call and the watches it carries."""

    stub: CacheServiceAsyncStub
    call: grpc.aio.StreamStreamCall[Any, Any] | None = None
    writer: BatchWriter[cpb.WatchResultsItem] | None = None
    watches: dict[int, asyncio.Queue[cpb.WatchResultsEvent | None]] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    down_until: float = 0.0

    def open(self) -> BatchWriter[cpb.WatchResultsItem]:
        if self.call is None or self.writer is None:
            self.call = self.stub.WatchResults()
            self.writer = BatchWriter("cache WatchResults", self.call, _watch_batch)
            self.reader = asyncio.ensure_future(self._read(self.call, self.writer))
        return self.writer

    async def _read(
        self, call: grpc.aio.StreamStreamCall[Any, Any], writer: BatchWriter[cpb.WatchResultsItem]
    ) -> None:
        try:
            async for message in call:
                for event in message.events:
                    queue = self.watches.get(event.watch_id)
                    if queue is not None:
                        queue.put_nowait(event)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.CANCELLED:
                log.warning("Result watch stream broke", code=exc.code().name)
        except asyncio.CancelledError:
            pass
        finally:
            writer.stop()
            if self.call is call:
                self.call = self.writer = None
            self.down_until = asyncio.get_running_loop().time() + DOWN_SECONDS
            for queue in self.watches.values():
                queue.put_nowait(None)  # the stream ended: every watch on it is cut

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


class StreamResultWaiter:
    """``ResultWaiter`` over ``CacheService/WatchResults`` (see module docstring)."""

    def __init__(self, cache: ServiceClient[CacheServiceAsyncStub]) -> None:
        self._lanes = [_WatchLane(stub) for stub in cache.lane_stubs]
        self._turn = itertools.cycle(range(len(self._lanes)))
        self._ids = itertools.count(1)

    async def wait(self, request: WaitRequest) -> WatchOutcome:
        lane = pick_lane(self._lanes, self._turn)
        watch_id = next(self._ids)
        queue: asyncio.Queue[cpb.WatchResultsEvent | None] = asyncio.Queue()
        lane.watches[watch_id] = queue
        writer = lane.open()
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
                # A subscribe that cannot be written means the stream broke: its
                # reader then cuts every watch on it, this one included.
                writer.put(
                    cpb.WatchResultsItem(watch_id=watch_id, subscribe=subscribe, trace=outgoing())
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
            if not ended and lane.writer is writer:
                # The waiter left early: tell the service (queued, so it goes out in
                # the background even when the waiter is being cancelled itself).
                writer.put(cpb.WatchResultsItem(watch_id=watch_id, cancel=cpb.CancelWatch()))

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()
