"""``EdgeServer``: the edge app served by uvicorn inside the current event loop.

    async with EdgeServer(settings) as edge:
        edge.url   # "http://127.0.0.1:PORT" (port 0 in settings.edge_addr picks one)

Entering starts uvicorn as a task and returns once it listens (lifespan done, socket
bound), with the settings' connection, backlog, keep-alive and request read limits
(``hookline_edge.http_limits``); leaving asks it to exit and waits: in-flight requests get
``settings.shutdown_grace_seconds`` to finish. Signals belong to the process's
``main()``, not to uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Self

import uvicorn

from hookline_edge.app import create_app
from hookline_edge.http_limits import ReadLimits, bounded_protocol
from hookline_edge.ports import EdgePorts
from hookline_runtime.logs import get_logger
from hookline_runtime.settings import Settings

__all__ = ["EdgeServer"]

log = get_logger(__name__)


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class _Uvicorn(uvicorn.Server):
    """uvicorn that reports start-up through an event and leaves signals alone."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.failed = False

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except SystemExit:
            # uvicorn exits the process when it cannot bind or the lifespan fails;
            # here that is a failed __aenter__ instead.
            self.failed = True
            self.should_exit = True
        finally:
            self.ready.set()


class EdgeServer:
    """The HTTP edge as an async context manager (see module docstring)."""

    def __init__(self, settings: Settings, *, ports: EdgePorts | None = None) -> None:
        """``ports``: the webhook path's ports (default: gRPC streams, see hookline_edge.app)."""
        self.settings = settings
        self._ports = ports
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0
        self.host = ""

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> Self:
        host, port = _split_address(self.settings.edge_addr)
        settings = self.settings
        config = uvicorn.Config(
            create_app(settings, self._ports),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
            # Limits (see hookline_edge.http_limits for the ones uvicorn has no setting for).
            http=bounded_protocol(
                ReadLimits(
                    read_timeout=settings.edge_read_timeout_seconds,
                    max_headers=settings.edge_max_headers,
                )
            ),
            backlog=settings.edge_backlog,
            limit_concurrency=settings.edge_max_connections,
            timeout_keep_alive=settings.edge_keep_alive_seconds,
            h11_max_incomplete_event_size=settings.edge_max_header_bytes,
        )
        server = _Uvicorn(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(), name="edge-uvicorn")
        await server.ready.wait()
        if server.failed or not server.started:
            await self._task
            raise OSError(f"edge: cannot start on {self.settings.edge_addr}")
        sockname = server.servers[0].sockets[0].getsockname()
        self.host, self.port = host, int(sockname[1])
        log.info("Edge listening", url=self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        await task
        log.info("Edge stopped", url=self.url)
