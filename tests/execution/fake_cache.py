"""A stand-in CacheService on its own in-process gRPC server that records what the
execution service hands it (StoreResult, StoreResponse) and lets tests await it."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import grpc
from hookline.cache.v1 import cache_service_pb2 as pb
from hookline.cache.v1 import cache_service_pb2_grpc as pb_grpc

__all__ = ["FakeCache"]


class FakeCache(pb_grpc.CacheServiceServicer):
    def __init__(self, *, max_record_bytes: int | None = None) -> None:
        self.max_record_bytes = max_record_bytes
        """Records above this are refused with RESOURCE_EXHAUSTED, as the real cap."""
        self.results: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
        self.responses: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
        self.events: list[tuple[str, str]] = []
        """(kind, execution_id) in arrival order."""
        self._changed = asyncio.Condition()
        self._server: grpc.aio.Server | None = None
        self.address = ""

    async def __aenter__(self) -> Self:
        server = grpc.aio.server()
        pb_grpc.add_CacheServiceServicer_to_server(self, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server
        self.address = f"127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.stop(None)

    async def StoreResult(
        self, request: pb.StoreResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResultResponse:
        size = len(request.record_json)
        if self.max_record_bytes is not None and size > self.max_record_bytes:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"record of {size} bytes")
        async with self._changed:
            self.results[request.execution_id].append((request.record_json, request.ttl_seconds))
            self.events.append(("result", request.execution_id))
            self._changed.notify_all()
        return pb.StoreResultResponse(stored_bytes=size)

    async def StoreResponse(
        self, request: pb.StoreResponseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResponseResponse:
        async with self._changed:
            self.responses[request.execution_id].append(
                (request.response_json, request.ttl_seconds)
            )
            self.events.append(("response", request.execution_id))
            self._changed.notify_all()
        return pb.StoreResponseResponse()

    async def GetResult(
        self, request: pb.GetResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetResultResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of the fake")
        raise AssertionError("unreachable")

    async def WatchResult(
        self, request: pb.WatchResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchResultResponse]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of the fake")
        yield pb.WatchResultResponse()  # makes this a stream handler

    async def result(self, execution_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first record handed over for this execution (waits for it)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: bool(self.results.get(execution_id)))
        record: dict[str, Any] = json.loads(self.results[execution_id][0][0])
        return record

    async def response(self, execution_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first early response handed over for this execution (waits for it)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: bool(self.responses.get(execution_id)))
        response: dict[str, Any] = json.loads(self.responses[execution_id][0][0])
        return response
