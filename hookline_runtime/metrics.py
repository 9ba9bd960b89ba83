"""Prometheus metrics: one registry per process (or per app in tests), built by the
server that owns it and passed down; no metric lives in a module global.

The edge serves its registry at ``/metrics``; each gRPC service serves its own on
``HOOKLINE_<SERVICE>_METRICS_LISTEN`` (``host:port``) through ``MetricsEndpoint``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from hookline_runtime.logs import get_logger

__all__ = ["LATENCY_BUCKETS", "MetricsEndpoint"]

log = get_logger(__name__)

# From 100 µs to 60 s: delivery is sub-millisecond, waits can last a minute.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)


class MetricsEndpoint:
    """Serves a registry over HTTP at ``listen`` (``host:port``) while entered."""

    def __init__(self, registry: CollectorRegistry, listen: str | None) -> None:
        self._registry = registry
        self._listen = listen
        self._server: WSGIServer | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        if self._listen:
            host, _, port = self._listen.rpartition(":")
            self._server, _thread = start_http_server(
                int(port), host or "0.0.0.0", registry=self._registry
            )
            self.port = self._server.server_port
            log.info("metrics listening", address=f"{host}:{self.port}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
