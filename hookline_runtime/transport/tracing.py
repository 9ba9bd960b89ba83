"""Trace context on unary gRPC calls: a client interceptor that makes a ``CLIENT`` span
per call and puts the context into the call's metadata (``traceparent``,
``tracestate``), and a server interceptor that continues it in a ``SERVER`` span around
the handler. Spans are named ``package.Service/Method`` and carry ``rpc.system``,
``rpc.service``, ``rpc.method`` and ``rpc.grpc.status_code``, and
``hookline.execution_id`` when the request or the response has an ``execution_id``.

Both are installed only while tracing is on (``hookline_runtime.tracing.enabled()`` when the
channel or server is built): interceptors put every call of a ``grpc.aio`` channel
on a slower path, so with tracing off there are none.

Only unary-unary calls are traced here. Streams carry a trace per item in their own
messages, and a span per stream would last as long as the stream; health checks are
left out, as probes would fill the traces.

Written here rather than taken from ``opentelemetry-instrumentation-grpc``: its aio
server interceptor iterates every streaming handler with ``async for``, which breaks
handlers that stream with ``context.write()`` (the stock health ``Watch``), and its
unary-stream client interceptor hands back an async generator in place of the call
(no ``read()``, ``code()`` or ``initial_metadata()``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import grpc
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode

from hookline_runtime.tracing import EXECUTION_ID, enabled, tracer

__all__ = ["TracingServerInterceptor", "client_interceptors", "server_interceptors"]

_AioContext = grpc.aio.ServicerContext[Any, Any]
_AioUnaryUnary = Callable[[Any, _AioContext], Awaitable[Any]]
_UNTRACED_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


def _attributes(method: str) -> tuple[str, dict[str, str | int]]:
    """The span name and RPC attributes of a ``/package.Service/Method`` path."""
    name = method.lstrip("/")
    service, _, rpc = name.partition("/")
    return name, {"rpc.system": "grpc", "rpc.service": service, "rpc.method": rpc}


def _metadata_carrier(metadata: Sequence[tuple[str, str | bytes]] | None) -> dict[str, str]:
    return {key: value for key, value in metadata or () if isinstance(value, str)}


def _tag(span: Any, message: Any) -> None:
    """Mark the span with the execution id the request or response names, if any."""
    execution_id = getattr(message, "execution_id", None)
    if isinstance(execution_id, str) and execution_id:
        span.set_attribute(EXECUTION_ID, execution_id)


def _set_status(span: Any, code: grpc.StatusCode, details: str | None) -> None:
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code is not grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, f"{code.name}: {details or ''}"))


class TracingServerInterceptor(grpc.aio.ServerInterceptor):
    """Runs each unary-unary handler inside a ``SERVER`` span that continues the
    caller's trace (from the call's metadata)."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or method.startswith(_UNTRACED_PREFIXES):
            return handler
        # grpc-stubs type a handler's behaviours as synchronous; under grpc.aio they
        # are coroutine functions taking an aio context.
        inner = cast(_AioUnaryUnary, handler.unary_unary)
        name, attributes = _attributes(method)
        carrier = _metadata_carrier(handler_call_details.invocation_metadata)

        async def traced(request: Any, context: _AioContext) -> Any:
            parent = propagate.extract(carrier)
            with tracer().start_as_current_span(
                name,
                context=parent,
                kind=SpanKind.SERVER,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                _tag(span, request)
                try:
                    response = await inner(request, context)
                    _tag(span, response)
                    return response
                finally:
                    code = context.code()
                    _set_status(
                        span,
                        code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK,
                        context.details(),
                    )

        return grpc.unary_unary_rpc_method_handler(
            traced,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class _TracingUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    """A ``CLIENT`` span around each unary call, its context sent in the metadata."""

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        raw = client_call_details.method
        method = raw.decode() if isinstance(raw, bytes) else raw
        if method.startswith(_UNTRACED_PREFIXES):
            return await continuation(client_call_details, request)
        name, attributes = _attributes(method)
        with tracer().start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            metadata = grpc.aio.Metadata.from_tuple(tuple(client_call_details.metadata or ()))
            propagate.inject(metadata)
            details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                client_call_details.timeout,
                metadata,
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
            _tag(span, request)
            call = await continuation(details, request)
            # The span ends with the call: its status is known once it has.
            code = await call.code()
            _set_status(span, code, await call.details())
            if code is grpc.StatusCode.OK:
                _tag(span, await call)
            return call


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """The tracing interceptors for a new channel; none while tracing is off."""
    return [_TracingUnaryUnary()] if enabled() else []


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """The tracing interceptor for a new server; none while tracing is off."""
    return [TracingServerInterceptor()] if enabled() else []
