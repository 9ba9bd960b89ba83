"""``ResultSink`` over the cache service's gRPC API.

Records and early responses go out on the ``StoreResults`` stream (one long-lived
call per channel, ``hookline_runtime.transport.item_stream_client``: the items ready
together go as one message), each matched to its acknowledgement by execution id and
bounded by its own deadline; storing is idempotent, so an item whose stream broke is
sent again with the unary call (``StoreResult`` or ``StoreResponse``, which gRPC
balances over the replicas that answer). An item over ``STREAM_MAX_BYTES`` goes with
the unary call instead: its own HTTP/2 stream, interleaved with the others by gRPC,
so a large record never holds up the small ones queued behind it on the shared
stream.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from hookline.cache.v1 import cache_service_pb2, cache_service_pb2_grpc

from hookline_execution.domain.ports import ResultTooLarge
from hookline_runtime.errors import HooklineError, Unavailable
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.item_stream_client import ItemStreamClient, KeyInFlight
from hookline_runtime.transport.status import grpc_code_for, status_code
from hookline_runtime.transport.trace_context import outgoing

__all__ = ["STREAM_MAX_BYTES", "CacheResultSink"]

CALL_TIMEOUT_SECONDS = 5.0

STREAM_MAX_BYTES = 256 * 1024
"""Records and responses up to this size share the StoreResults stream; larger ones go
unary."""

pb = cache_service_pb2


def _stored_id(reply: pb.StoreResultsReply) -> str:
    return reply.execution_id


def _store_batch(items: list[pb.StoreResultsItem]) -> pb.StoreResultsRequest:
    return pb.StoreResultsRequest(items=items)


def _store_replies(message: pb.StoreResultsResponse) -> Iterable[pb.StoreResultsReply]:
    return message.replies


class CacheResultSink:
    """Hands finished records and early responses to the cache service."""

    def __init__(
        self,
        client: ServiceClient[cache_service_pb2_grpc.CacheServiceAsyncStub],
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
        stream_max_bytes: int = STREAM_MAX_BYTES,
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._stream_max_bytes = stream_max_bytes
        self._stream: ItemStreamClient[pb.StoreResultsItem, pb.StoreResultsReply] = (
            ItemStreamClient(
                "cache StoreResults",
                [stub.StoreResults for stub in client.lane_stubs],
                _stored_id,
                pack=_store_batch,
                unpack=_store_replies,
            )
        )

    async def store_result(
        self, execution_id: str, record_json: bytes, ttl_seconds: int, keep_seconds: int = 0
    ) -> None:
        request = pb.StoreResultRequest(
            execution_id=execution_id,
            record_json=record_json,
            ttl_seconds=ttl_seconds,
            keep_seconds=keep_seconds,
        )
        item = pb.StoreResultsItem(record=request)
        if len(record_json) <= self._stream_max_bytes and await self._stored_on_stream(item):
            return
        try:
            await self._client.stub.StoreResult(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise ResultTooLarge(exc.details() or "result too large") from exc
            raise Unavailable(_describe(exc.code(), exc.details())) from exc

    async def _stored_on_stream(self, item: pb.StoreResultsItem) -> bool:
        """Store ``item`` on the stream; False when it must go on its own unary call
        instead: the stream broke (stored or not, storing again is harmless), or the
        same execution has an item in flight on it."""
        trace = outgoing()
        if trace is not None:
            item.trace.CopyFrom(trace)
        execution_id = _item_id(item)
        try:
            reply = await self._stream.call(execution_id, item, timeout=self._timeout)
        except (KeyInFlight, Unavailable):
            return False
        except HooklineError as exc:
            raise Unavailable(_describe(grpc_code_for(exc), exc.message)) from exc
        if reply.WhichOneof("outcome") == "error":
            code = status_code(reply.error.code)
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise ResultTooLarge(reply.error.message or "result too large")
            raise Unavailable(_describe(code, reply.error.message))
        return True

    async def store_response(
        self, execution_id: str, response_json: bytes, ttl_seconds: int
    ) -> None:
        request = pb.StoreResponseRequest(
            execution_id=execution_id, response_json=response_json, ttl_seconds=ttl_seconds
        )
        item = pb.StoreResultsItem(response=request)
        if len(response_json) <= self._stream_max_bytes and await self._stored_on_stream(item):
            return
        try:
            await self._client.stub.StoreResponse(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(_describe(exc.code(), exc.details())) from exc

    async def close(self) -> None:
        """Close the stream (before the client's channels)."""
        await self._stream.close()


def _item_id(item: pb.StoreResultsItem) -> str:
    if item.WhichOneof("payload") == "response":
        return item.response.execution_id
    return item.record.execution_id


def _describe(code: grpc.StatusCode, details: str | None) -> str:
    return f"cache service: {code.name}: {details or ''}".rstrip(": ")
