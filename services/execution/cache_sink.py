"""``ResultSink`` over the cache service's gRPC API (StoreResult, StoreResponse)."""

from __future__ import annotations

import grpc
from hookline.cache.v1 import cache_service_pb2, cache_service_pb2_grpc

from runtime.errors import Unavailable
from runtime.grpc_client import ServiceClient
from services.execution.domain.ports import ResultTooLarge

__all__ = ["CacheResultSink"]

CALL_TIMEOUT_SECONDS = 5.0


class CacheResultSink:
    """Hands finished records and early responses to the cache service."""

    def __init__(
        self,
        client: ServiceClient[cache_service_pb2_grpc.CacheServiceAsyncStub],
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self._timeout = timeout

    async def store_result(
        self, execution_id: str, record_json: bytes, ttl_seconds: int, keep_seconds: int = 0
    ) -> None:
        request = cache_service_pb2.StoreResultRequest(
            execution_id=execution_id,
            record_json=record_json,
            ttl_seconds=ttl_seconds,
            keep_seconds=keep_seconds,
        )
        try:
            await self._client.stub.StoreResult(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise ResultTooLarge(exc.details() or "result too large") from exc
            raise Unavailable(_describe(exc)) from exc

    async def store_response(
        self, execution_id: str, response_json: bytes, ttl_seconds: int
    ) -> None:
        request = cache_service_pb2.StoreResponseRequest(
            execution_id=execution_id, response_json=response_json, ttl_seconds=ttl_seconds
        )
        try:
            await self._client.stub.StoreResponse(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(_describe(exc)) from exc


def _describe(exc: grpc.aio.AioRpcError) -> str:
    return f"cache service: {exc.code().name}: {exc.details() or ''}".rstrip(": ")
