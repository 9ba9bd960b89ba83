"""``hookline.cache.v1.CacheService``: proto messages in and out, the domain in between.

Errors are ``hookline_runtime.errors`` exceptions raised by the domain; the server's
interceptor turns them into status codes. ``StoreResults`` and ``WatchResults`` carry
many stores and watches on one stream each (``hookline_runtime.transport.item_streams``),
in batches both ways: every item runs the same domain call as ``StoreResult`` (or
``StoreResponse``, for an early response) / ``WatchResult`` and fails alone, with the
same code.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
from google.rpc.status_pb2 import Status
from hookline.cache.v1 import cache_service_pb2, cache_service_pb2_grpc

from hookline_cache.domain.delivery import ResultDelivery
from hookline_cache.domain.model import Delivered, Subscribed, WatchEvent, WatchRequest
from hookline_cache.storage.base import Kind
from hookline_runtime.transport.item_streams import StreamDrain, serve_items, serve_watches
from hookline_runtime.transport.trace_context import incoming

__all__ = ["SERVICE_NAME", "CacheServicer"]

SERVICE_NAME: str = cache_service_pb2.DESCRIPTOR.services_by_name["CacheService"].full_name

pb = cache_service_pb2


class CacheServicer(cache_service_pb2_grpc.CacheServiceServicer):
    """Maps the CacheService RPCs onto ``ResultDelivery``."""

    def __init__(self, delivery: ResultDelivery, *, streams: StreamDrain | None = None) -> None:
        self._delivery = delivery
        self._streams = streams

    async def StoreResult(
        self, request: pb.StoreResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResultResponse:
        return await self._store_result(request)

    async def StoreResults(
        self,
        request_iterator: AsyncIterator[pb.StoreResultsRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[pb.StoreResultsResponse]:
        async for message in serve_items(
            request_iterator,
            _store_items,
            self._store_item,
            _failed_store,
            _store_replies,
            drain=self._streams,
        ):
            yield message

    async def _store_item(self, item: pb.StoreResultsItem) -> pb.StoreResultsReply:
        with incoming(item.trace):
            if item.WhichOneof("payload") == "response":
                await self._store_response(item.response)
                stored = pb.StoreResultResponse()
            else:
                stored = await self._store_result(item.record)
        return pb.StoreResultsReply(execution_id=_stored_id(item), stored=stored)

    async def _store_result(self, request: pb.StoreResultRequest) -> pb.StoreResultResponse:
        outcome = await self._delivery.store(
            Kind.RESULT,
            request.execution_id,
            request.record_json,
            request.ttl_seconds,
            request.keep_seconds,
        )
        return pb.StoreResultResponse(
            compressed=outcome.compressed, stored_bytes=outcome.stored_bytes
        )

    async def StoreResponse(
        self, request: pb.StoreResponseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResponseResponse:
        await self._store_response(request)
        return pb.StoreResponseResponse()

    async def _store_response(self, request: pb.StoreResponseRequest) -> None:
        await self._delivery.store(
            Kind.RESPONSE, request.execution_id, request.response_json, request.ttl_seconds
        )

    async def GetResult(
        self, request: pb.GetResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetResultResponse:
        cached = await self._delivery.get_result(request.execution_id)
        response = pb.GetResultResponse(record_json=cached.payload)
        if cached.ttl_ms is not None:
            response.expire_time.FromMilliseconds(time.time_ns() // 1_000_000 + cached.ttl_ms)
        return response

    async def WatchResult(
        self, request: pb.WatchResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchResultResponse]:
        async for event in self._delivery.watch(watch_request(request)):
            yield event_message(event)

    async def WatchResults(
        self,
        request_iterator: AsyncIterator[pb.WatchResultsRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[pb.WatchResultsResponse]:
        async for message in serve_watches(
            request_iterator,
            _watch_items,
            _watch_id,
            self._watch_item,
            _failed_watch,
            _watch_events,
            drain=self._streams,
        ):
            yield message

    def _watch_item(self, item: pb.WatchResultsItem) -> AsyncIterator[pb.WatchResultsEvent] | None:
        if item.WhichOneof("action") != "subscribe":
            return None
        return self._watch_events(item)

    async def _watch_events(self, item: pb.WatchResultsItem) -> AsyncIterator[pb.WatchResultsEvent]:
        request = item.subscribe
        with incoming(item.trace):
            async for event in self._delivery.watch(watch_request(request)):
                if isinstance(event, Subscribed):
                    continue  # see WatchResults in the proto: this stream does not send it
                yield pb.WatchResultsEvent(
                    watch_id=item.watch_id,
                    execution_id=request.execution_id,
                    event=event_message(event),
                )


def watch_request(request: pb.WatchResultRequest) -> WatchRequest:
    """The domain's watch for a request message."""
    return WatchRequest(
        execution_id=request.execution_id,
        timeout_seconds=request.timeout_ms / 1000,
        accept_response=request.accept_early_response,
        saved_to_database=request.saved_to_database,
        replayed=request.replayed,
    )


def event_message(event: WatchEvent) -> pb.WatchResultResponse:
    """A watch event as its message."""
    if isinstance(event, Subscribed):
        return pb.WatchResultResponse(event=pb.WATCH_EVENT_SUBSCRIBED)
    if isinstance(event, Delivered):
        if event.kind is Kind.RESPONSE:
            return pb.WatchResultResponse(
                event=pb.WATCH_EVENT_RESPONSE, response_json=event.payload
            )
        if event.kind is Kind.KEPT:
            return pb.WatchResultResponse(event=pb.WATCH_EVENT_NOT_KEPT)
        return pb.WatchResultResponse(event=pb.WATCH_EVENT_RESULT, record_json=event.payload)
    return pb.WatchResultResponse(event=pb.WATCH_EVENT_TIMED_OUT)


def _store_items(message: pb.StoreResultsRequest) -> Iterable[pb.StoreResultsItem]:
    return message.items


def _store_replies(replies: list[pb.StoreResultsReply]) -> pb.StoreResultsResponse:
    return pb.StoreResultsResponse(replies=replies)


def _stored_id(item: pb.StoreResultsItem) -> str:
    """The execution id of a record or response item."""
    if item.WhichOneof("payload") == "response":
        return item.response.execution_id
    return item.record.execution_id


def _failed_store(item: pb.StoreResultsItem, error: Status) -> pb.StoreResultsReply:
    return pb.StoreResultsReply(execution_id=_stored_id(item), error=error)


def _watch_items(message: pb.WatchResultsRequest) -> Iterable[pb.WatchResultsItem]:
    return message.items


def _watch_events(events: list[pb.WatchResultsEvent]) -> pb.WatchResultsResponse:
    return pb.WatchResultsResponse(events=events)


def _watch_id(item: pb.WatchResultsItem) -> int:
    return item.watch_id


def _failed_watch(item: pb.WatchResultsItem, error: Status) -> pb.WatchResultsEvent:
    return pb.WatchResultsEvent(
        watch_id=item.watch_id, execution_id=item.subscribe.execution_id, error=error
    )
