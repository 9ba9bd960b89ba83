"""Opaque page cursors: base64url of the last row's sort key (created_at, id)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from hookline_runtime.clock import from_iso, to_iso
from hookline_runtime.errors import InvalidArgument

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "PageKey", "decode_cursor", "encode_cursor", "page_limit"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class PageKey:
    """The sort key of the last row a page showed."""

    created_at: datetime
    id: str


def page_limit(limit: int) -> int:
    """The page size: 0 means the default; 1..100 otherwise."""
    if limit == 0:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit: must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def encode_cursor(key: PageKey) -> str:
    raw = json.dumps([to_iso(key.created_at), key.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> PageKey | None:
    """The key a cursor stands for; None for an empty cursor; InvalidArgument otherwise."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, workflow_id = json.loads(raw)
        if not isinstance(created, str) or not isinstance(workflow_id, str):
            raise TypeError("bad cursor fields")
        return PageKey(from_iso(created), workflow_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidArgument("cursor: not a cursor this service issued", field="cursor") from None
