"""A stand-in CacheService on its own in-process gRPC server that records what the
execution service hands it (StoreResult, the StoreResults stream, StoreResponse) and
lets tests await it."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import grpc
from google.rpc.status_pb2 import Status
from hookline.cache.v1 import cache_service_pb2 as pb
from hookline.cache.v1 import cache_service_pb2_grpc as pb_grpc

from hookline_runtime.errors import ResourceExhausted
from hookline_runtime.transport.item_streams import serve_items
from hookline_runtime.transport.status import grpc_code_for

__all__ = ["FakeCache"]


class FakeCache(pb_grpc.CacheServiceServicer):
    def __init__(self, *, max_record_bytes: int | None = None) -> None:
        self.max_record_bytes = max_record_bytes
        """Records above this are refused with RESOURCE_EXHAUSTED, as the real cap."""
        self.results: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
        self.responses: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
        self.events: list[tuple[str, str]] = []
        """(kind, execution_id) in arrival order."""
        self.unary: list[str] = []
        """Execution ids of what came by a unary call (StoreResult, StoreResponse)."""
        self._changed = asyncio.Condition()
        self._server: grpc.aio.Server | None = None
        self.address = ""

    async def __aenter__(self) -> Self:
        size = 64 * 1024 * 1024  # as the services' default HOOKLINE_GRPC_MAX_MESSAGE_BYTES
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", size),
                ("grpc.max_send_message_length", size),
            ]
        )
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
        self.unary.append(request.execution_id)
        try:
            return await self._store(request)
        except ResourceExhausted as exc:
            await context.abort(grpc_code_for(exc), exc.message)
            raise AssertionError("unreachable") from None

    async def StoreResults(
        self,
        request_iterator: AsyncIterator[pb.StoreResultsRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[pb.StoreResultsResponse]:
        async for answer in serve_items(
            request_iterator, _items, self._store_item, _failed, _replies
        ):
            yield answer

    async def _store_item(self, item: pb.StoreResultsItem) -> pb.StoreResultsReply:
        if item.WhichOneof("payload") == "response":
            await self._store_response(item.response)
            return pb.StoreResultsReply(
                execution_id=item.response.execution_id, stored=pb.StoreResultResponse()
            )
        stored = await self._store(item.record)
        return pb.StoreResultsReply(execution_id=item.record.execution_id, stored=stored)

    async def _store(self, request: pb.StoreResultRequest) -> pb.StoreResultResponse:
        size = len(request.record_json)
        if self.max_record_bytes is not None and size > self.max_record_bytes:
            raise ResourceExhausted(f"record of {size} bytes")
        async with self._changed:
            self.results[request.execution_id].append((request.record_json, request.ttl_seconds))
            self.events.append(("result", request.execution_id))
            self._changed.notify_all()
        return pb.StoreResultResponse(stored_bytes=size)

    async def StoreResponse(
        self, request: pb.StoreResponseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResponseResponse:
        self.unary.append(request.execution_id)
        await self._store_response(request)
        return pb.StoreResponseResponse()

    async def _store_response(self, request: pb.StoreResponseRequest) -> None:
        async with self._changed:
            self.responses[request.execution_id].append(
                (request.response_json, request.ttl_seconds)
            )
            self.events.append(("response", request.execution_id))
            self._changed.notify_all()

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

    async def WatchResults(
        self,
        request_iterator: AsyncIterator[pb.WatchResultsRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[pb.WatchResultsResponse]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of the fake")
        yield pb.WatchResultsResponse()  # makes this a stream handler

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


def _items(message: pb.StoreResultsRequest) -> list[pb.StoreResultsItem]:
    return list(message.items)


def _replies(replies: list[pb.StoreResultsReply]) -> pb.StoreResultsResponse:
    return pb.StoreResultsResponse(replies=replies)


def _failed(item: pb.StoreResultsItem, error: Status) -> pb.StoreResultsReply:
    payload = item.response if item.WhichOneof("payload") == "response" else item.record
    return pb.StoreResultsReply(execution_id=payload.execution_id, error=error)
