"""Litestar exception handlers: every error leaves the edge as the same JSON shape.

``EdgeError`` (raised by handlers), Litestar's own ``HTTPException`` family (unknown
route 404, 405 with ``Allow``, 413 body too large, 400 validation, 401 from the API-key
guard) and, at the outermost boundary, anything unexpected (500, cause logged).

A client that hangs up is not a server error: ``ClientDisconnected`` and Litestar's
"client disconnected prematurely" (raised while a body is being read) are logged at
info level and answered 499 (which nobody receives).
"""

from __future__ import annotations

from typing import Any

import grpc
from litestar import Request, Response
from litestar.exceptions import HTTPException, InternalServerException
from litestar.types import ExceptionHandlersMap

from hookline_edge.disconnect import ClientDisconnected
from hookline_edge.errors import CLIENT_CLOSED_REQUEST, EdgeError, error_code_for, from_rpc_error
from hookline_runtime.logs import get_logger

__all__ = ["error_response", "exception_handlers"]

log = get_logger(__name__)

# What litestar.connection.Request raises when the client goes while its body is read.
_LITESTAR_DISCONNECT = "client disconnected prematurely"


def error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    return Response(
        content=body, status_code=status, headers=headers or {}, media_type="application/json"
    )


def _edge_error(_: Request[Any, Any, Any], exc: EdgeError) -> Response[dict[str, Any]]:
    return error_response(exc.status, exc.body(), exc.headers)


def _rpc_error(
    request: Request[Any, Any, Any], exc: grpc.aio.AioRpcError
) -> Response[dict[str, Any]]:
    edge_error = from_rpc_error(exc, upstream=request.url.path)
    return error_response(edge_error.status, edge_error.body(), edge_error.headers)


def _client_gone(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.info("Client disconnected before the answer", path=request.url.path)
    return error_response(
        CLIENT_CLOSED_REQUEST,
        {"error": "client_closed_request", "message": "the client closed the connection"},
    )


def _http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    if isinstance(exc, InternalServerException) and exc.detail == _LITESTAR_DISCONNECT:
        return _client_gone(request, exc)
    status = exc.status_code
    body: dict[str, Any] = {"error": error_code_for(status)}
    if status >= 500:
        log.error("Request failed", path=request.url.path, status=status, detail=exc.detail)
        body["message"] = "the server could not handle this request"
    elif status == 404:
        body["message"] = f"no route for {request.method} {request.url.path}"
    else:
        body["message"] = _validation_message(exc.extra) or exc.detail
        if exc.extra:
            body["details"] = exc.extra
    return error_response(status, body, dict(exc.headers or {}))


def _validation_message(extra: Any) -> str:
    """``"status: Invalid enum value 'done'"`` from Litestar's validation details, which
    name the bad parameters (its own message names only the request)."""
    if not isinstance(extra, list):
        return ""
    parts = [
        f"{item['key']}: {item['message']}" if item.get("key") else str(item["message"])
        for item in extra
        if isinstance(item, dict) and item.get("message")
    ]
    return "; ".join(parts)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The outermost boundary: the cause goes to the log, the caller gets a general 500.
    log.exception("Unhandled error in request", path=request.url.path, method=request.method)
    return error_response(
        500, {"error": "internal", "message": "the server failed to handle this request"}
    )


def exception_handlers() -> ExceptionHandlersMap:
    """The app-level handlers (they also cover routing errors raised before any handler)."""
    return {
        EdgeError: _edge_error,
        grpc.aio.AioRpcError: _rpc_error,
        HTTPException: _http_exception,
        ClientDisconnected: _client_gone,
        Exception: _unexpected,
    }
