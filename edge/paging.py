"""The paged list body ``{"data": [...], "nextCursor": null | "..."}``, spliced from the
services' JSON documents without decoding them."""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["page_json"]


def page_json(items: Sequence[bytes], next_cursor: str) -> bytes:
    cursor = json.dumps(next_cursor or None).encode()
    return b'{"data":[' + b",".join(items) + b'],"nextCursor":' + cursor + b"}"
