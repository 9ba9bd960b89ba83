"""The opaque paging cursor: base64url of the last row's (started_at, id)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from hookline_runtime.clock import from_iso, to_iso
from hookline_runtime.errors import InvalidArgument

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(started_at: datetime, execution_id: str) -> str:
    raw = json.dumps([to_iso(started_at), execution_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (started_at, id) a cursor stands for; InvalidArgument for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started, execution_id = json.loads(raw)
        if not isinstance(started, str) or not isinstance(execution_id, str):
            raise TypeError("bad cursor fields")
        return from_iso(started), execution_id
    except (ValueError, TypeError, binascii.Error):
        raise InvalidArgument("cursor is not valid", field="cursor") from None
