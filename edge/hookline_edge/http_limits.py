"""Request read limits for the edge's HTTP server: uvicorn's httptools protocol with a
header deadline, a body idle timeout and header size and count bounds.

uvicorn bounds what it can by its own settings (``backlog``, ``limit_concurrency``,
``timeout_keep_alive``, and ``h11_max_incomplete_event_size`` for the h11 parser),
and ``EdgeServer`` sets them all. Neither of its HTTP/1.1 protocols bounds how long a
client may take to send its headers (a slowloris client holds a socket forever), and
the httptools one (the fast one, used here) bounds neither their size nor their
count. ``BoundedHttpToolsProtocol`` adds exactly that, and nothing else:

- the request line and headers must arrive within ``read_timeout`` seconds of the
  connection (or, on a kept-alive connection, of the request's first byte), else the
  client gets ``408`` and the connection closes;
- while a body is being sent, a pause longer than ``read_timeout`` closes the
  connection (not counted while uvicorn itself has paused reading for backpressure);
- headers larger than ``h11_max_incomplete_event_size`` bytes (the uvicorn setting,
  reused so one number bounds both parsers) or more than ``max_headers`` of them are
  answered ``431`` and the connection closes.

Both refusals carry the edge's JSON error body ``{"error", "message"}``.

``bounded_protocol(limits)`` makes the class to pass as uvicorn's ``http`` setting.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from hookline_runtime.logs import get_logger

__all__ = ["BoundedHttpToolsProtocol", "ReadLimits", "bounded_protocol"]

log = get_logger(__name__)

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_CODES = {408: "request_timeout", 431: "request_header_fields_too_large"}


@dataclass(frozen=True, slots=True)
class ReadLimits:
    read_timeout: float
    """Seconds to send the headers, and the longest pause while sending a body."""
    max_headers: int
    """Most header fields in one request."""


class _TooManyHeaders(Exception):
    """Raised inside the parser's callback to stop parsing the request."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """See module docstring."""

    limits = ReadLimits(read_timeout=10.0, max_headers=100)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._max_header_bytes = config.h11_max_incomplete_event_size or 64 * 1024
        self._read_timer: asyncio.TimerHandle | None = None
        self._in_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._refused = 0

    # ---------------------------------------------------------------- timers
    def _arm(self) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(self.limits.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self._in_headers:
            log.debug("Client too slow sending headers; closing", client=self.client)
            self._refuse(408, "the request headers did not arrive in time")
        elif self.flow.read_paused:
            self._arm()  # uvicorn paused reading itself: not the client's pause
        else:
            log.debug("Client paused too long sending a body; closing", client=self.client)
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        # The edge's error shape (DESIGN.md section 3), written before any app runs.
        body = json.dumps({"error": _CODES[status], "message": message}).encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, _REASONS[status], len(body), body)
        )
        self.transport.close()

    # ----------------------------------------------------- protocol interface
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._in_headers and self._read_timer is not None:
            self._arm()  # a body chunk: the client is still sending
        super().data_received(data)
        if self._in_headers and not self.transport.is_closing():
            # Still no end of headers: all of this chunk was header bytes (a chunk
            # that completed the headers is bounded by the socket's read size).
            self._header_bytes += len(data)
            if self._header_bytes > self._max_header_bytes:
                self._refuse(431, f"the request headers exceed {self._max_header_bytes} bytes")

    def send_400_response(self, msg: str) -> None:
        if self._refused:  # our own callback stopped the parser
            self._refuse(self._refused, f"more than {self.limits.max_headers} request headers")
        else:
            super().send_400_response(msg)

    # ------------------------------------------------------ parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_count = 0
        if self._read_timer is None:
            self._arm()  # a kept-alive connection's next request

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refused = 431
            raise _TooManyHeaders(f"more than {self.limits.max_headers} request headers")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        super().on_headers_complete()
        self._arm()  # now the body's idle timeout

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()


def bounded_protocol(limits: ReadLimits) -> type[BoundedHttpToolsProtocol]:
    """The protocol class with these limits, for ``uvicorn.Config(http=...)``."""

    class Bounded(BoundedHttpToolsProtocol):
        pass

    Bounded.limits = limits
    return Bounded
