"""The execution service process: ``async with ExecutionServer(settings) as server``.

Entering opens the database (and migrates it), a client to the cache service, one
shared HTTP client for httpRequest nodes, and starts the gRPC server. Leaving marks
health NOT_SERVING and stops taking calls and runs, lets runs in flight finish within
``shutdown_grace_seconds`` (then cancels them; they end as errors), and closes
everything in reverse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

import grpc
import httpx
from hookline.cache.v1 import cache_service_pb2, cache_service_pb2_grpc
from hookline.execution.v1 import execution_service_pb2_grpc

from runtime.database import create_engine, migrate
from runtime.grpc_client import ServiceClient
from runtime.grpc_security import GrpcSecurity
from runtime.grpc_server import GrpcServer
from runtime.metrics import ExecutionMetrics, MetricsEndpoint
from runtime.settings import Settings
from services.execution.cache_sink import CacheResultSink
from services.execution.domain import (
    Engine,
    ExecutionService,
    RunScheduler,
    TemplateRenderer,
)
from services.execution.domain.engine import DEFAULT_MAX_RESPONSE_BYTES
from services.execution.domain.outbound import OutboundPolicy, outbound_client
from services.execution.servicer import SERVICE_NAME, ExecutionServicer
from services.execution.storage import SqlExecutionStore

__all__ = ["ExecutionServer"]

_HTTP_LIMITS = httpx.Limits(max_connections=500, max_keepalive_connections=100)


class ExecutionServer:
    """The execution service with everything it owns, as an async context manager."""

    def __init__(
        self, settings: Settings, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    ) -> None:
        self.settings = settings
        self._max_response_bytes = max_response_bytes
        self._exit = AsyncExitStack()
        self._grpc: GrpcServer | None = None
        self._service: ExecutionService | None = None
        self.metrics = ExecutionMetrics()

    @property
    def address(self) -> str:
        return self._grpc.address if self._grpc else ""

    @property
    def port(self) -> int:
        return self._grpc.port if self._grpc else 0

    @property
    def service(self) -> ExecutionService:
        if self._service is None:
            raise RuntimeError("the execution server is not running")
        return self._service

    async def __aenter__(self) -> Self:
        settings = self.settings
        try:
            await self._exit.enter_async_context(
                MetricsEndpoint(self.metrics.registry, settings.execution_metrics_listen)
            )
            db = create_engine(settings.database_url)
            self._exit.push_async_callback(db.dispose)
            await migrate(db)
            cache: ServiceClient[cache_service_pb2_grpc.CacheServiceAsyncStub] = ServiceClient(
                settings.cache_addr,
                cache_service_pb2_grpc.CacheServiceStub,
                service=cache_service_pb2.DESCRIPTOR.services_by_name["CacheService"],
                multiplex=settings.grpc_multiplex,
                max_message_bytes=settings.grpc_max_message_bytes,
                security=GrpcSecurity.from_settings(settings),
            )
            self._exit.push_async_callback(cache.close)
            http = outbound_client(
                OutboundPolicy.parse(settings.http_allow_private, settings.http_allow_hosts),
                limits=_HTTP_LIMITS,
            )
            self._exit.push_async_callback(http.aclose)
            service = ExecutionService(
                engine=Engine(
                    TemplateRenderer(max_size=settings.max_node_output_bytes),
                    http,
                    max_response_bytes=self._max_response_bytes,
                    max_output_bytes=settings.max_node_output_bytes,
                    node_timeout_seconds=settings.node_timeout_seconds,
                ),
                store=SqlExecutionStore(db),
                sink=CacheResultSink(cache),
                scheduler=RunScheduler(settings.max_concurrent_executions),
                max_result_bytes=settings.max_result_bytes,
                metrics=self.metrics,
            )
            servicer = ExecutionServicer(service)

            def register(server: grpc.aio.Server) -> None:
                execution_service_pb2_grpc.add_ExecutionServiceServicer_to_server(servicer, server)

            grpc_server = GrpcServer(
                name="execution",
                listen=settings.listen_address("execution"),
                register=register,
                service_names=[SERVICE_NAME],
                max_message_bytes=settings.grpc_max_message_bytes,
                grace_seconds=settings.shutdown_grace_seconds,
                security=GrpcSecurity.from_settings(settings),
            )
            await grpc_server.__aenter__()
        except BaseException:
            await self._exit.aclose()
            raise
        self._grpc, self._service = grpc_server, service
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        grpc_server, self._grpc = self._grpc, None
        service = self._service
        # Health goes NOT_SERVING and new calls are refused while the runs in flight
        # get the same grace to finish.
        stopping: list[Awaitable[object]] = []
        if grpc_server is not None:
            stopping.append(grpc_server.shutdown())
        if service is not None:
            stopping.append(service.shutdown(self.settings.shutdown_grace_seconds))
        try:
            await asyncio.gather(*stopping)
        finally:
            self._service = None
            await self._exit.aclose()
