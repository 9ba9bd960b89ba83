"""The lifecycle every gRPC service shares.

``GrpcServer`` is an async context manager: entering binds the listen address
(port 0 picks a free port, read back from ``.port``), registers the service's
servicers, the stock health and reflection services, and starts serving. Leaving
marks health NOT_SERVING (``enter_graceful_shutdown``), then stops the server with a
grace period so in-flight calls and streams can finish.

A service whose streams wait for unary calls made by others (the cache's WatchResult
waits for StoreResult) passes ``drain``: it is awaited first, with most of the grace,
while the server still takes every call — the service refuses new streams itself and
ends the ones left when its time is up. Only then do the long-lived item streams stop
reading (``streams``: a ``hookline_runtime.transport.item_streams.StreamDrain``; each answers what it has
read and ends, and its clients send the rest elsewhere) and the server stops, with
the rest of the grace (at most a second) for what is still being answered.

Given a ``GrpcSecurity`` (``hookline_runtime.transport.security``), the server listens with TLS or
mutual TLS and checks the shared token on every call but health checks.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self, cast

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hookline_runtime.errors import HooklineError
from hookline_runtime.logs import get_logger
from hookline_runtime.transport.item_streams import StreamDrain
from hookline_runtime.transport.security import GrpcSecurity
from hookline_runtime.transport.status import grpc_code_for
from hookline_runtime.transport.tracing import server_interceptors

__all__ = ["ErrorMappingInterceptor", "GrpcServer", "grpc_options", "with_error_mapping"]

log = get_logger(__name__)

Registrar = Callable[[grpc.aio.Server], None]
Drain = Callable[[float], Awaitable[None]]
"""Given the seconds it may take: stop taking streams, let those in flight finish."""

_AioContext = grpc.aio.ServicerContext[Any, Any]
_AioUnaryUnary = Callable[[Any, _AioContext], Awaitable[Any]]
# An async generator, or a coroutine that streams with context.write().
_AioUnaryStream = Callable[[Any, _AioContext], AsyncIterator[Any] | Awaitable[None]]


def grpc_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """Channel/server options shared by servers and clients."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Reconnect to a restarted service within about a second, never minutes later
        # (gRPC's defaults: 1 s first, growing to 120 s).
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 5_000),
    ]


# gRPC core cancels calls that arrive while more than 1,000 wait to be picked up by the
# application (randomly above the soft limit, all above the hard one): a burst of a few
# thousand WatchResult streams or webhook calls would lose some. Raise both limits.
_SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.server.max_pending_requests", 20_000),
    ("grpc.server.max_pending_requests_hard_limit", 40_000),
]


def with_error_mapping(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` with ``HooklineError``s turned into ``context.abort(code, message)``
    and per-call log context cleared: the single place where domain errors meet gRPC,
    for unary and server-streaming calls (item streams answer each item's error
    themselves, with the same codes: ``hookline_runtime.transport.item_streams``)."""
    if handler.unary_unary is not None:
        # grpc-stubs type a handler's behaviours as synchronous; under grpc.aio they are
        # coroutine functions taking an aio context.
        inner_uu = cast(_AioUnaryUnary, handler.unary_unary)

        async def unary_unary(request: Any, context: _AioContext) -> Any:
            structlog.contextvars.clear_contextvars()
            try:
                return await inner_uu(request, context)
            except HooklineError as exc:
                await context.abort(grpc_code_for(exc), exc.message)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        inner_us = cast(_AioUnaryStream, handler.unary_stream)

        async def unary_stream(request: Any, context: _AioContext) -> AsyncIterator[Any]:
            structlog.contextvars.clear_contextvars()
            try:
                responses = inner_us(request, context)
                if inspect.isawaitable(responses):
                    # A handler that streams with context.write(), such as the stock
                    # health Watch: it returns a coroutine, not an async iterator.
                    await responses
                    return
                async for item in responses:
                    yield item
            except HooklineError as exc:
                await context.abort(grpc_code_for(exc), exc.message)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler


class ErrorMappingInterceptor(grpc.aio.ServerInterceptor):
    """Applies ``with_error_mapping`` to every method of a server."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        return None if handler is None else with_error_mapping(handler)


class GrpcServer:
    """One gRPC server with health and reflection, as an async context manager."""

    def __init__(
        self,
        *,
        name: str,
        listen: str,
        register: Registrar,
        service_names: Sequence[str],
        max_message_bytes: int = 64 * 1024 * 1024,
        grace_seconds: float = 10.0,
        security: GrpcSecurity | None = None,
        drain: Drain | None = None,
        streams: StreamDrain | None = None,
    ) -> None:
        self.name = name
        self._drain = drain
        self._security = security or GrpcSecurity()
        self._listen = listen
        self._register = register
        self._service_names = list(service_names)
        self._grace = grace_seconds
        self._options = grpc_options(max_message_bytes)
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._streams = streams
        self.port: int = 0

    @property
    def address(self) -> str:
        """host:port actually bound (useful when listening on port 0)."""
        host = self._listen.rpartition(":")[0] or "127.0.0.1"
        if host in ("0.0.0.0", "[::]", "::"):
            host = "127.0.0.1"
        return f"{host}:{self.port}"

    async def __aenter__(self) -> Self:
        security = self._security
        credentials = security.server_credentials()
        server = grpc.aio.server(
            interceptors=[
                *server_interceptors(),  # tracing, first: it sees refused calls too
                *security.server_interceptors(),
                ErrorMappingInterceptor(),
            ],
            options=[*self._options, *_SERVER_OPTIONS],
        )
        self._register(server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [
                *self._service_names,
                health.SERVICE_NAME,
                reflection.SERVICE_NAME,
            ],
            server,
        )
        if credentials is None:
            self.port = server.add_insecure_port(self._listen)
        else:
            self.port = server.add_secure_port(self._listen, credentials)
        if self.port == 0:
            raise OSError(f"{self.name}: cannot listen on {self._listen}")
        await server.start()
        self._server = server
        for service in ("", *self._service_names):
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "gRPC service listening",
            service=self.name,
            address=self.address,
            tls="mutual" if security.mutual_tls else security.server_tls,
            token=security.token is not None,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    async def set_health(
        self, service: str, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType
    ) -> None:
        """Set the health status of ``service``, which may be a pseudo-service name
        such as ``redis`` (a dependency's state). Ignored once shutting down."""
        await self._health.set(service, status)

    async def shutdown(self) -> None:
        """Stop taking calls, let in-flight calls finish within the grace period."""
        server, self._server = self._server, None
        if server is None:
            return
        await self._health.enter_graceful_shutdown()
        grace = self._grace
        if self._drain is not None:
            final = min(1.0, grace / 4)
            started = asyncio.get_running_loop().time()
            await self._drain(grace - final)
            grace = max(final, grace - (asyncio.get_running_loop().time() - started))
        if self._streams is not None:
            self._streams.close()
        await server.stop(grace)
        log.info("gRPC service stopped", service=self.name)

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
