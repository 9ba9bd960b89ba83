"""How a record is stored: as its JSON, or zstd-compressed when it is large.

A compressed value is a plain zstd frame, recognised by the frame's magic bytes
``28 B5 2F FD`` at the start; JSON text never starts with them, so no other marker
is needed and ``redis-cli GET`` shows small records as they are. Payloads are never
parsed here: bytes in, bytes out. Large payloads are (de)compressed in a worker
thread so the event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import zstandard

from hookline_runtime.errors import HooklineError, ResourceExhausted

__all__ = ["ZSTD_MAGIC", "Encoded", "ResultCodec"]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

#: Above this size, (de)compression runs in a worker thread.
_THREAD_THRESHOLD_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Encoded:
    """A value ready to store."""

    data: bytes
    compressed: bool


class ResultCodec:
    """Encodes and decodes stored values (see module docstring)."""

    def __init__(self, *, compress_threshold_bytes: int, max_bytes: int, level: int = 3) -> None:
        self._threshold = compress_threshold_bytes
        self._max_bytes = max_bytes
        self._level = level

    def check_size(self, payload: bytes, what: str) -> None:
        """Raise ``ResourceExhausted`` when ``payload`` is over the hard cap."""
        if len(payload) > self._max_bytes:
            raise ResourceExhausted(
                f"execution {what} of {len(payload)} bytes is over the limit "
                f"of {self._max_bytes} bytes"
            )

    async def encode(self, payload: bytes, what: str = "result") -> Encoded:
        """Check the cap, then compress when over the threshold (and worth it)."""
        self.check_size(payload, what)
        if len(payload) <= self._threshold:
            return Encoded(payload, False)
        if len(payload) > _THREAD_THRESHOLD_BYTES:
            packed = await asyncio.to_thread(zstandard.compress, payload, self._level)
        else:
            packed = zstandard.compress(payload, self._level)
        if len(packed) >= len(payload):
            return Encoded(payload, False)
        return Encoded(packed, True)

    async def decode(self, data: bytes) -> bytes:
        """The JSON a stored value holds."""
        if not data.startswith(ZSTD_MAGIC) or len(data) <= _THREAD_THRESHOLD_BYTES // 8:
            return self.decode_now(data)
        return await asyncio.to_thread(self.decode_now, data)

    def decode_now(self, data: bytes) -> bytes:
        """``decode`` on the calling thread (for small values)."""
        if not data.startswith(ZSTD_MAGIC):
            return data
        try:
            return zstandard.decompress(data, max_output_size=self._max_bytes)
        except zstandard.ZstdError as exc:
            raise HooklineError(f"a stored value cannot be decompressed: {exc}") from exc
