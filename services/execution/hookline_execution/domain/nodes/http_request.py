"""httpRequest: calls a URL. Any HTTP status is output; only a failed exchange
(connection, DNS, timeout, oversized body, a destination the outbound policy refuses)
fails the node. The policy itself is in the shared client (``domain.outbound``).

``credential: NAME`` adds the header a stored credential makes (``bearer``:
Authorization: Bearer; ``httpBasic``: Authorization: Basic; ``httpHeader``: its own
header), over any header of the same name the node sets. The values never reach the
output, and an error message that would quote one shows it masked."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx

from hookline_execution.domain.credentials import CredentialUnavailable, credential_headers
from hookline_execution.domain.nodes.base import (
    NodeContext,
    NodeError,
    NodeResult,
    header_value,
    number,
)
from hookline_execution.domain.outbound import AddressRefused

__all__ = ["http_request_node"]

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
DEFAULT_TIMEOUT_SECONDS = 10.0


def _reason(exc: BaseException) -> str:
    """A short, human reason for a failed exchange."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "could not resolve the host name"
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    if "Connection refused" in text or "All connection attempts failed" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "could not resolve the host name"
    return text or type(exc).__name__


def _request_body(body: Any) -> tuple[bytes | None, str | None]:
    """The bytes to send and their default Content-Type: a string as text, anything
    else (object, list, number) as JSON, null as no body."""
    if body is None:
        return None, None
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(body, separators=(",", ":")).encode("utf-8"), "application/json"


def _decode(response: httpx.Response, content: bytes) -> Any:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    text = content.decode(response.encoding or "utf-8", errors="replace")
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


async def _exchange(
    ctx: NodeContext, method: str, url: str, headers: dict[str, str], body: Any, timeout: float
) -> dict[str, Any]:
    content, content_type = _request_body(body)
    sent_headers = httpx.Headers({"content-type": content_type} if content_type else {})
    sent_headers.update(headers)  # the node's own headers win, whatever their case
    request = ctx.http.build_request(
        method, url, headers=sent_headers, content=content, timeout=httpx.Timeout(timeout)
    )
    response = await ctx.http.send(request, stream=True)
    try:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > ctx.max_response_bytes:
            raise NodeError(_too_large(url, ctx.max_response_bytes))
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > ctx.max_response_bytes:
                raise NodeError(_too_large(url, ctx.max_response_bytes))
            chunks.append(chunk)
    finally:
        await response.aclose()
    return {
        "statusCode": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": _decode(response, b"".join(chunks)),
    }


def _too_large(url: str, limit: int) -> str:
    return f"response from {url} is larger than the limit of {limit} bytes"


_MASK = "********"


async def _credential(name: Any, ctx: NodeContext) -> tuple[dict[str, str], tuple[str, ...]]:
    """The headers the credential ``name`` adds, and the values to mask in errors."""
    if not isinstance(name, str) or not name:
        raise NodeError("credential must be the name of a stored credential")
    if ctx.credentials is None:
        raise NodeError(f'credential "{name}": credentials are not available to this service')
    try:
        credential = await ctx.credentials.get(name)
        headers = credential_headers(credential)
    except CredentialUnavailable as exc:
        raise NodeError(exc.message) from None
    secrets = (*credential.data.values(), *headers.values())
    return headers, tuple(value for value in secrets if value)


def _masked(message: str, secrets: tuple[str, ...]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, _MASK)
    return message


async def http_request_node(params: dict[str, Any], input: Any, ctx: NodeContext) -> NodeResult:
    url = params.get("url")
    if not isinstance(url, str) or not url.strip():
        raise NodeError(f"url must be a non-empty string, got {url!r}")
    url = url.strip()
    method = str(params.get("method") or "GET").upper()
    if method not in _METHODS:
        raise NodeError(f"method {method!r} is not one of {', '.join(sorted(_METHODS))}")
    raw_headers = params.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise NodeError("headers must be an object")
    headers = {str(k): header_value(v) for k, v in raw_headers.items()}
    secrets: tuple[str, ...] = ()
    if params.get("credential") is not None:
        added, secrets = await _credential(params["credential"], ctx)
        replaced = {name.lower() for name in added}
        headers = {k: v for k, v in headers.items() if k.lower() not in replaced} | added
    timeout = number(
        params.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS), "timeoutSeconds", low=0.001, high=600
    )
    try:
        async with asyncio.timeout(timeout):
            output = await _exchange(ctx, method, url, headers, params.get("body"), timeout)
    except AddressRefused as exc:
        raise NodeError(_masked(f"request to {url} {exc.message}", secrets)) from None
    except (TimeoutError, httpx.TimeoutException):
        raise NodeError(f"request to {url} failed: timed out after {timeout:g}s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise NodeError(_masked(f"request to {url} failed: {_reason(exc)}", secrets)) from None
    return NodeResult(output)
