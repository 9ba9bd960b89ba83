"""Reading a JSON request body for the management API: the raw bytes are passed on to
the service after a strict check (400 ``invalid_json``): syntax, nesting depth (at most
``MAX_JSON_DEPTH`` levels), no ``NaN``/``Infinity``/out-of-range numbers, no lone
surrogates (``hookline_runtime.strict_json``)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from hookline_edge.errors import EdgeError
from hookline_runtime.strict_json import JsonRejected, loads_strict

__all__ = ["read_json_body"]


async def read_json_body(request: Request[Any, Any, Any], *, empty: bytes | None = None) -> bytes:
    """The body, checked to be JSON; an empty body is ``empty`` when given, else a 400."""
    body = await request.body()
    if not body.strip():
        if empty is not None:
            return empty
        raise EdgeError(
            400, "the request body is empty; a JSON document is required", error="invalid_json"
        )
    try:
        loads_strict(body)
    except JsonRejected as exc:
        raise EdgeError(
            400, f"the request body is not valid JSON: {exc}", error="invalid_json"
        ) from None
    return body
