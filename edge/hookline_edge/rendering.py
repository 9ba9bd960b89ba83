"""Turning a finished execution, or an httpResponse node's response, into the HTTP answer.

The rules (DESIGN.md section 3):
- a failed execution -> ``500 {"error": "execution_failed", "executionId", "node", "message"}``;
- a record with ``response`` (or an early response) -> its status, headers and body;
- otherwise -> ``200`` with the output of the last node that ran successfully, as JSON.
Bodies: an object or list is JSON; a string is ``text/plain; charset=utf-8`` unless the
node set ``Content-Type``; null or "" is an empty body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from litestar import Response

from hookline_edge.errors import EXECUTION_ID_HEADER, EdgeError

__all__ = ["json_response", "render_node_response", "render_record"]

_DROPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
_NO_BODY_STATUSES = frozenset({204, 304})


def json_response(
    content: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response[bytes]:
    """JSON bytes sent as they are (no decode/encode round trip)."""
    return Response(
        content=content,
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def render_node_response(response: Mapping[str, Any], execution_id: str) -> Response[bytes]:
    """The HTTP answer for an httpResponse node's ``{"statusCode", "headers", "body"}``."""
    status = int(response.get("statusCode") or 200)
    node_headers = response.get("headers") or {}
    headers: dict[str, str] = {}
    content_type: str | None = None
    for name, value in node_headers.items():
        lowered = str(name).lower()
        if lowered == "content-type":
            content_type = str(value)
        elif lowered not in _DROPPED_HEADERS:
            headers[str(name)] = str(value)
    headers[EXECUTION_ID_HEADER] = execution_id

    body = response.get("body")
    content: bytes
    if status in _NO_BODY_STATUSES or status < 200 or body is None or body == "":
        content = b""
    elif isinstance(body, str):
        content = body.encode()
        content_type = content_type or "text/plain; charset=utf-8"
    else:
        content = _dumps(body)
        content_type = content_type or "application/json"
    if content_type is not None:
        headers["Content-Type"] = content_type
    return Response(content=content, status_code=status, headers=headers, media_type=None)


def _last_successful_output(record: Mapping[str, Any]) -> Any:
    output: Any = None
    for node in (record.get("nodes") or {}).values():
        if isinstance(node, Mapping) and node.get("status") == "success":
            output = node.get("output")
    return output


def _failure(record: Mapping[str, Any], execution_id: str) -> EdgeError:
    error = record.get("error")
    if isinstance(error, Mapping):
        node = error.get("node")
        message = str(error.get("message") or "the execution failed")
    else:
        node = None
        message = str(error) if error else "the execution failed"
    return EdgeError(
        500,
        message,
        error="execution_failed",
        extra={"executionId": execution_id, "node": node},
        headers={EXECUTION_ID_HEADER: execution_id},
    )


def render_record(record: Mapping[str, Any], execution_id: str) -> Response[bytes]:
    """The webhook answer for a finished execution record (raises for a failed one)."""
    if record.get("status") == "error":
        raise _failure(record, execution_id)
    response = record.get("response")
    if isinstance(response, Mapping):
        return render_node_response(response, execution_id)
    return json_response(
        _dumps(_last_successful_output(record)), headers={EXECUTION_ID_HEADER: execution_id}
    )
