"""Waiting for an execution's result through the ``ResultWaiter`` port.

A wait ends with RESPONSE (an httpResponse node's early response), RESULT (the
finished record), TIMED_OUT or NOT_KEPT (``hookline_edge.ports.WatchOutcome``). Failures
raise ``EdgeError`` (503 when the cache service cannot be reached) naming the
execution. A wait that the cache service cuts short (it is shutting down, or the
stream broke: ``WatchCut``) is made again, for the time left; 503 only when
``_WATCH_ATTEMPTS`` were cut.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from litestar.types import Receive

from hookline_edge.disconnect import ClientDisconnected, until_done_or_disconnected
from hookline_edge.errors import EXECUTION_ID_HEADER, EdgeError, from_status
from hookline_edge.ports import OutcomeKind, ResultWaiter, WaitRequest, WatchCut, WatchOutcome
from hookline_runtime.errors import HooklineError
from hookline_runtime.logs import get_logger
from hookline_runtime.transport.status import grpc_code_for

__all__ = ["OutcomeKind", "WatchOutcome", "wait_for_caller", "watch_result"]

log = get_logger(__name__)

_WATCH_ATTEMPTS = 3
"""Waits made for one caller, when the service cuts them short (see ``watch_result``)."""


async def watch_result(
    waiter: ResultWaiter,
    execution_id: str,
    *,
    timeout_seconds: float,
    accept_early_response: bool,
    saved_to_database: bool,
    replayed: bool = False,
) -> WatchOutcome:
    """Wait for ``execution_id``'s response or result, at most ``timeout_seconds``
    (``replayed``: for an idempotent repeat, which a kept record answers too)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    cut = ""
    for _ in range(_WATCH_ATTEMPTS):
        request = WaitRequest(
            execution_id=execution_id,
            timeout_seconds=max(0.0, deadline - loop.time()),
            accept_early_response=accept_early_response,
            saved_to_database=saved_to_database,
            replayed=replayed,
        )
        try:
            return await waiter.wait(request)
        except WatchCut as exc:
            cut = str(exc)
            log.info("Result watch cut short; watching again", execution_id=execution_id, why=cut)
        except HooklineError as exc:
            raise from_status(
                grpc_code_for(exc), exc.message, upstream="cache", execution_id=execution_id
            ) from None
    log.warning("Result watch ended without a result", execution_id=execution_id, why=cut)
    raise EdgeError(
        503,
        "the result cache service ended the wait without a result",
        extra={"executionId": execution_id},
        headers={EXECUTION_ID_HEADER: execution_id},
    )


async def wait_for_caller(
    receive: Receive,
    waiter: ResultWaiter,
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
    opened with these same parameters (see ``hookline_edge.wait_plans``)."""
    work: Awaitable[WatchOutcome]
    if started is not None:
        work = started
    else:
        work = watch_result(
            waiter,
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
