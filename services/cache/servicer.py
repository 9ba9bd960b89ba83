"""``hookline.cache.v1.CacheService``: proto messages in and out, the domain in between.

Errors are ``runtime.errors`` exceptions raised by the domain; the server's
interceptor turns them into status codes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from hookline.cache.v1 import cache_service_pb2, cache_service_pb2_grpc

from services.cache.domain.delivery import ResultDelivery
from services.cache.domain.model import Delivered, Subscribed, WatchRequest
from services.cache.storage.base import Kind

__all__ = ["SERVICE_NAME", "CacheServicer"]

SERVICE_NAME: str = cache_service_pb2.DESCRIPTOR.services_by_name["CacheService"].full_name

pb = cache_service_pb2


class CacheServicer(cache_service_pb2_grpc.CacheServiceServicer):
    """Maps the CacheService RPCs onto ``ResultDelivery``."""

    def __init__(self, delivery: ResultDelivery) -> None:
        self._delivery = delivery

    async def StoreResult(
        self, request: pb.StoreResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResultResponse:
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
        await self._delivery.store(
            Kind.RESPONSE, request.execution_id, request.response_json, request.ttl_seconds
        )
        return pb.StoreResponseResponse()

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
        watch = WatchRequest(
            execution_id=request.execution_id,
            timeout_seconds=request.timeout_ms / 1000,
            accept_response=request.accept_early_response,
            saved_to_database=request.saved_to_database,
            replayed=request.replayed,
        )
        async for event in self._delivery.watch(watch):
            if isinstance(event, Subscribed):
                yield pb.WatchResultResponse(event=pb.WATCH_EVENT_SUBSCRIBED)
            elif isinstance(event, Delivered):
                if event.kind is Kind.RESPONSE:
                    yield pb.WatchResultResponse(
                        event=pb.WATCH_EVENT_RESPONSE, response_json=event.payload
                    )
                elif event.kind is Kind.KEPT:
                    yield pb.WatchResultResponse(event=pb.WATCH_EVENT_NOT_KEPT)
                else:
                    yield pb.WatchResultResponse(
                        event=pb.WATCH_EVENT_RESULT, record_json=event.payload
                    )
            else:
                yield pb.WatchResultResponse(event=pb.WATCH_EVENT_TIMED_OUT)
