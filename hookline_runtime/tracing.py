"""Distributed tracing with OpenTelemetry: the spans hookline makes itself, and the
trace context a run carries through the run queue.

Tracing is off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set: then ``main()`` installs
one tracer provider per process (``hookline_runtime.trace_provider``). Off means no provider at
all: the gRPC interceptors (``hookline_runtime.transport.tracing``) and the edge's middleware are not
installed (``enabled()`` is False when channels, servers and the app are built), and
every helper here returns after one check of the global provider's type.

What carries a trace between processes:

- HTTP: the ``traceparent``/``tracestate`` headers (the edge's middleware);
- unary gRPC calls: the same keys in metadata (``hookline_runtime.transport.tracing``);
- the run queue: ``StartExecutionRequest.traceparent``/``tracestate``, filled from the
  current context by ``run_trace_context()`` where a run is handed on, and continued by
  ``run_span()`` where it runs.

Every span of a run carries ``hookline.execution_id``: the run's and its nodes' spans
get it when made, spans started while an execution id is bound to the logging context
get it from the provider's processor, and ``tag_execution`` (called by
``hookline_runtime.logs.bind_execution``) marks the span that was current when the id became
known, such as the edge's request span.

Only the OpenTelemetry API is imported here (a no-op without a provider), so domain
code may use these helpers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "EXECUTION_ID",
    "NODE",
    "NODE_TYPE",
    "enabled",
    "mark_failed",
    "provider_changed",
    "run_span",
    "run_trace_context",
    "span",
    "tag_execution",
    "tracer",
]

TRACER_NAME = "hookline"
EXECUTION_ID = "hookline.execution_id"
NODE = "hookline.node"
NODE_TYPE = "hookline.node_type"

_W3C = TraceContextTextMapPropagator()
"""The queue's fields are W3C trace context whatever OTEL_PROPAGATORS says."""
_OFF: AbstractContextManager[None] = nullcontext()


_provider_installed: bool | None = None
"""``enabled()``'s answer once looked up (None: not yet). Runs call ``enabled()`` several
times each, and OpenTelemetry's lookup of the global provider reads the environment
every time while none is installed."""


def enabled() -> bool:
    """True once this process has a tracer provider (``hookline_runtime.trace_provider``).

    Looked up once, when first asked: a provider is installed as a process starts
    (``configure_tracing``, or OpenTelemetry's auto-instrumentation before it), and
    ``provider_changed`` is called by whoever installs one later."""
    global _provider_installed
    if _provider_installed is None:
        _provider_installed = not isinstance(
            trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
        )
    return _provider_installed


def provider_changed() -> None:
    """Look the tracer provider up again at the next ``enabled()``: call after
    ``trace.set_tracer_provider``."""
    global _provider_installed
    _provider_installed = None


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def tag_execution(execution_id: str) -> None:
    """Mark the current span (if tracing and recording) with the execution id."""
    if enabled():
        trace.get_current_span().set_attribute(EXECUTION_ID, execution_id)


def run_trace_context() -> tuple[str, str]:
    """The current trace context as W3C ``(traceparent, tracestate)`` for a run handed
    on through the queue; empty strings when tracing is off or nothing is current."""
    if not enabled():
        return "", ""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent", ""), carrier.get("tracestate", "")


@contextmanager
def _run_span(
    name: str, traceparent: str, tracestate: str, attributes: Mapping[str, str]
) -> Iterator[None]:
    parent: Context | None = None
    if traceparent:
        carrier = {"traceparent": traceparent}
        if tracestate:
            carrier["tracestate"] = tracestate
        parent = _W3C.extract(carrier)
    with tracer().start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=dict(attributes)
    ):
        yield


def run_span(
    name: str, traceparent: str, tracestate: str, attributes: Mapping[str, str]
) -> AbstractContextManager[None]:
    """The span of one run, continuing the trace it was started in (the queue entry's
    ``traceparent``; the current context when there is none)."""
    if not enabled():
        return _OFF
    return _run_span(name, traceparent, tracestate, attributes)


@contextmanager
def _span(name: str, attributes: Mapping[str, str], kind: SpanKind) -> Iterator[None]:
    with tracer().start_as_current_span(name, kind=kind, attributes=dict(attributes)):
        yield


def span(
    name: str, attributes: Mapping[str, str], kind: SpanKind = SpanKind.INTERNAL
) -> AbstractContextManager[None]:
    """A child span of the current one (nothing when tracing is off)."""
    if not enabled():
        return _OFF
    return _span(name, attributes, kind)


def mark_failed(message: str) -> None:
    """Set the current span's status to error, with ``message``."""
    if enabled():
        trace.get_current_span().set_status(Status(StatusCode.ERROR, message))
