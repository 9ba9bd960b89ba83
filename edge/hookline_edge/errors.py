"""Errors the edge answers with, and how upstream gRPC failures become them.

Every error body is JSON ``{"error": <short code>, "message": ..., **extra}``.
``EdgeError`` carries the status, the code, the message, extra body fields and
headers (``X-Execution-Id`` once an execution has started). Upstream failures (a
failed gRPC call, or a ``hookline_runtime.errors`` exception from a port) go through
``from_status``: the status comes from ``hookline_runtime.transport.status.http_status_for``;
5xx messages stay general and the gRPC details go to the log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import grpc

from hookline_runtime.errors import HooklineError
from hookline_runtime.logs import get_logger
from hookline_runtime.transport.status import grpc_code_for, http_status_for

__all__ = [
    "CLIENT_CLOSED_REQUEST",
    "EXECUTION_ID_HEADER",
    "EdgeError",
    "error_code_for",
    "from_rpc_error",
    "from_status",
    "timeout_error",
    "upstream_errors",
]

log = get_logger(__name__)

EXECUTION_ID_HEADER = "X-Execution-Id"

RETRY_AFTER_SECONDS = "1"
"""``Retry-After`` of every 503: a 503 means nothing was started, and the usual cause
(a full run queue, a restarting service) passes within seconds."""

CLIENT_CLOSED_REQUEST = 499
"""Status recorded for a caller that hung up while waiting; the answer is never sent."""

_CODE_FOR_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "resource_exhausted",
    499: "cancelled",
    501: "not_implemented",
    503: "unavailable",
    504: "timeout",
}

_GENERAL_MESSAGE: dict[int, str] = {
    501: "this operation is not implemented by the upstream service",
    503: "an upstream service is unavailable; try again later",
    504: "an upstream service did not answer in time",
}


def error_code_for(status: int) -> str:
    """The short ``error`` code for an HTTP status."""
    if status in _CODE_FOR_STATUS:
        return _CODE_FOR_STATUS[status]
    return "internal" if status >= 500 else "bad_request"


class EdgeError(Exception):
    """An HTTP error answer; raised by handlers, rendered by the exception handlers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error or error_code_for(status)
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **self.extra}


def from_rpc_error(
    exc: grpc.aio.AioRpcError,
    *,
    upstream: str,
    status_override: Mapping[grpc.StatusCode, int] | None = None,
    execution_id: str | None = None,
) -> EdgeError:
    """The ``EdgeError`` for a failed call to ``upstream`` (see ``from_status``)."""
    return from_status(
        exc.code(),
        exc.details(),
        upstream=upstream,
        status_override=status_override,
        execution_id=execution_id,
    )


def from_status(
    code: grpc.StatusCode,
    details: str | None,
    *,
    upstream: str,
    status_override: Mapping[grpc.StatusCode, int] | None = None,
    execution_id: str | None = None,
) -> EdgeError:
    """The ``EdgeError`` for a call to ``upstream`` (a service name for the log) that
    failed with ``code``. ``status_override`` changes the HTTP status of some codes
    (422 for invalid workflows). With ``execution_id`` the body and headers name the
    execution.
    """
    status = (status_override or {}).get(code) or http_status_for(code)
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if execution_id:
        extra["executionId"] = execution_id
        headers[EXECUTION_ID_HEADER] = execution_id
    if status == 503:  # nothing was started: the caller may simply try again
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if status >= 500:
        log.warning("Upstream call failed", upstream=upstream, code=code.name, details=details)
        message = _GENERAL_MESSAGE.get(status, "an upstream service failed")
    else:
        message = details or code.name.lower()
    return EdgeError(status, message, extra=extra, headers=headers)


@contextmanager
def upstream_errors(
    upstream: str,
    *,
    status_override: Mapping[grpc.StatusCode, int] | None = None,
    execution_id: str | None = None,
) -> Iterator[None]:
    """Re-raise a failed gRPC call (or a port's ``hookline_runtime.errors`` exception) inside
    the block as the matching ``EdgeError``."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(
            exc, upstream=upstream, status_override=status_override, execution_id=execution_id
        ) from None
    except HooklineError as exc:
        raise from_status(
            grpc_code_for(exc),
            exc.message,
            upstream=upstream,
            status_override=status_override,
            execution_id=execution_id,
        ) from None


def timeout_error(execution_id: str, timeout_seconds: float) -> EdgeError:
    """504 for a caller that waited ``timeout_seconds`` for ``execution_id`` in vain."""
    return EdgeError(
        504,
        f"no result within {timeout_seconds:g} s; the run goes on and its record can be "
        f"fetched at /api/v1/executions/{execution_id}",
        error="timeout",
        extra={"executionId": execution_id},
        headers={EXECUTION_ID_HEADER: execution_id},
    )
