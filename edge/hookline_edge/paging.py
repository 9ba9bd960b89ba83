"""The paged list body ``{"data": [...], "nextCursor": null | "..."}``, spliced from the
services' JSON documents without decoding them; and what the API accepts as a cursor
and as an id in a path (the OpenAPI document says the same)."""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["CURSOR_PATTERN", "ID_PATTERN", "MAX_CURSOR_LENGTH", "MAX_ID_LENGTH", "page_json"]

CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
"""Cursors are opaque base64url text (no padding)."""
MAX_CURSOR_LENGTH = 1024

ID_PATTERN = "^[!-~]+$"
"""Ids are printable ASCII without spaces (the services issue UUIDs)."""
MAX_ID_LENGTH = 200


def page_json(items: Sequence[bytes], next_cursor: str) -> bytes:
    cursor = json.dumps(next_cursor or None).encode()
    return b'{"data":[' + b",".join(items) + b'],"nextCursor":' + cursor + b"}"
