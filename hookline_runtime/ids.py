"""Identifiers: time-ordered UUIDs (version 7 layout), so ids sort by creation; and
ids derived from other ids (UUID version 5), for what must get the same id again."""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["derived_id", "new_id"]

_DERIVED = uuid.UUID("6f1c3b2a-5d4e-4f60-8a71-9b82c3d4e5f6")


def new_id() -> str:
    """A UUIDv7 string: 48 bits of Unix milliseconds, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= (rand >> 68) << 64 & (0xFFF << 64)  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    text = f"{value:032x}"  # what str(uuid.UUID(int=value)) gives, without the object
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def derived_id(*parts: str) -> str:
    """A UUIDv5 string that is always the same for the same ``parts``."""
    return str(uuid.uuid5(_DERIVED, "\x00".join(parts)))
