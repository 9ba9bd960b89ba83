"""Waiting for an execution's result through ``CacheService/WatchResult``.

The stream sends SUBSCRIBED first, then exactly one of RESPONSE (an httpResponse
node's early response), RESULT (the finished record) or TIMED_OUT. ``watch_result``
turns that into a ``WatchOutcome``; its gRPC deadline is the timeout plus a margin,
and a DEADLINE_EXCEEDED is a timeout like TIMED_OUT. Other failures raise
``EdgeError`` (503 when the cache service cannot be reached) naming the execution.
A watch that a cache replica cuts short (it is shutting down) is opened again on the
next replica in turn, for the time left.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from hookline.cache.v1 import cache_service_pb2
from litestar.types import Receive

from edge.disconnect import ClientDisconnected, until_done_or_disconnected
from edge.errors import EXECUTION_ID_HEADER, EdgeError, from_rpc_error
from edge.upstreams import WATCH_MARGIN_SECONDS
from runtime.grpc_client import ServiceClient
from runtime.logs import get_logger

if TYPE_CHECKING:
    from hookline.cache.v1.cache_service_pb2_grpc import CacheServiceAsyncStub

__all__ = ["OutcomeKind", "WatchOutcome", "wait_for_caller", "watch_result"]

log = get_logger(__name__)


class OutcomeKind(enum.Enum):
    RESPONSE = "response"
    RESULT = "result"
    TIMED_OUT = "timed_out"
    NOT_KEPT = "not_kept"
    """The run ended long ago, and its record was too large to keep for repeats."""


@dataclass(frozen=True)
class WatchOutcome:
    """How a watch ended; ``payload`` is the response JSON or the record JSON."""

    kind: OutcomeKind
    payload: bytes = b""


_WATCH_ATTEMPTS = 3
"""Watches opened for one wait, when replicas cut them short (see ``watch_result``)."""

_TERMINAL = {
    cache_service_pb2.WATCH_EVENT_RESPONSE: OutcomeKind.RESPONSE,
    cache_service_pb2.WATCH_EVENT_RESULT: OutcomeKind.RESULT,
    cache_service_pb2.WATCH_EVENT_TIMED_OUT: OutcomeKind.TIMED_OUT,
    cache_service_pb2.WATCH_EVENT_NOT_KEPT: OutcomeKind.NOT_KEPT,
}


async def watch_result(
    cache: ServiceClient[CacheServiceAsyncStub],
    execution_id: str,
    *,
    timeout_seconds: float,
    accept_early_response: bool,
    saved_to_database: bool,
    replayed: bool = False,
) -> WatchOutcome:
    """Wait for ``execution_id``'s response or result, at most ``timeout_seconds``
    (``replayed``: for an idempotent repeat, which a kept record answers too).

    A watch is a read, so one that a cache replica cut short (UNAVAILABLE while it
    shuts down, or a stream that ended without a result) is opened again, on the next
    replica in turn, for the time left; 503 only when ``_WATCH_ATTEMPTS`` were cut."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    cut = ""
    for _ in range(_WATCH_ATTEMPTS):
        request = cache_service_pb2.WatchResultRequest(
            execution_id=execution_id,
            timeout_ms=round(max(0.0, deadline - loop.time()) * 1000),
            accept_early_response=accept_early_response,
            saved_to_database=saved_to_database,
            replayed=replayed,
        )
        try:
            return await _watch_once(cache, request)
        except _WatchCut as exc:
            cut = str(exc)
            log.info("Result watch cut short; watching again", execution_id=execution_id, why=cut)
    log.warning("Result watch ended without a result", execution_id=execution_id, why=cut)
    raise EdgeError(
        503,
        "the result cache service ended the wait without a result",
        extra={"executionId": execution_id},
        headers={EXECUTION_ID_HEADER: execution_id},
    )


class _WatchCut(Exception):
    """The cache replica ended the watch without an outcome: watch again."""


_CUT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})


async def _watch_once(
    cache: ServiceClient[CacheServiceAsyncStub], request: cache_service_pb2.WatchResultRequest
) -> WatchOutcome:
    accept_early_response = request.accept_early_response
    call = cache.stub.WatchResult(request, timeout=request.timeout_ms / 1000 + WATCH_MARGIN_SECONDS)
    try:
        async for event in call:
            kind = _TERMINAL.get(event.event)
            if kind is OutcomeKind.RESPONSE and accept_early_response:
                return WatchOutcome(kind, event.response_json)
            if kind is OutcomeKind.RESULT:
                return WatchOutcome(kind, event.record_json)
            if kind in (OutcomeKind.TIMED_OUT, OutcomeKind.NOT_KEPT):
                return WatchOutcome(kind)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
            return WatchOutcome(OutcomeKind.TIMED_OUT)
        if exc.code() in _CUT_CODES:
            raise _WatchCut(exc.details() or exc.code().name) from None
        raise from_rpc_error(exc, upstream="cache", execution_id=request.execution_id) from None
    finally:
        call.cancel()
    raise _WatchCut("the stream ended without a result")


async def wait_for_caller(
    receive: Receive,
    cache: ServiceClient[CacheServiceAsyncStub],
    execution_id: str,
    *,
    timeout_seconds: float,
    accept_early_response: bool,
    saved_to_database: bool,
    started: asyncio.Future[WatchOutcome] | None = None,
    replayed: bool = False,
) -> WatchOutcome | None:
    """``watch_result`` on behalf of an HTTP caller; None when the caller hung up first
    (the watch is cancelled quietly, the run goes on). ``started`` is a watch already
    opened with these same parameters (see ``edge.wait_plans``)."""
    work: Coroutine[Any, Any, WatchOutcome]
    if started is not None:
        work = _outcome_of(started)
    else:
        work = watch_result(
            cache,
            execution_id,
            timeout_seconds=timeout_seconds,
            accept_early_response=accept_early_response,
            saved_to_database=saved_to_database,
            replayed=replayed,
        )
    try:
        outcome = await until_done_or_disconnected(work, receive)
    except ClientDisconnected:
        log.info(
            "Caller disconnected before the result; the run goes on", execution_id=execution_id
        )
        return None
    if outcome.kind is OutcomeKind.TIMED_OUT:
        log.info(
            "No result within the response timeout; answering 504",
            execution_id=execution_id,
            timeout_seconds=timeout_seconds,
        )
    return outcome


async def _outcome_of(started: asyncio.Future[WatchOutcome]) -> WatchOutcome:
    return await started
