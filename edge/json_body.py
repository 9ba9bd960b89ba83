"""Reading a JSON request body for the management API: the raw bytes are passed on to
the service after a syntax check (400 ``invalid_json``)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request

from edge.errors import EdgeError

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
        json.loads(body)
    except ValueError as exc:
        raise EdgeError(
            400, f"the request body is not valid JSON: {exc}", error="invalid_json"
        ) from None
    return body
