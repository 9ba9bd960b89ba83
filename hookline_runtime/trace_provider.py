"""The process's OpenTelemetry tracer provider, installed once by ``main()``.

``configure_tracing`` names the process by the resource's ``service.name``
(``hookline-edge``, ``-trigger``, ``-execution``, ``-cache``; ``hookline-dev`` for all
four in one process) and exports over OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT``; the
other standard ``OTEL_*`` variables (``OTEL_RESOURCE_ATTRIBUTES``, headers, sampler,
batch delays) apply as the SDK reads them. Tests pass an exporter of their own (the
SDK's ``InMemorySpanExporter``), whose spans are handed over as they end.

Imported only when tracing is turned on: the SDK is not loaded otherwise.
"""

from __future__ import annotations

import os

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from hookline_runtime.tracing import EXECUTION_ID, enabled, provider_changed

__all__ = ["configure_tracing"]


class _ExecutionIdProcessor(SpanProcessor):
    """Gives every span started while an execution id is bound to the logging context
    (``hookline_runtime.logs.bind_execution``) the ``hookline.execution_id`` attribute."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        execution_id = structlog.contextvars.get_contextvars().get("execution_id")
        if isinstance(execution_id, str) and execution_id:
            span.set_attribute(EXECUTION_ID, execution_id)


def _otlp_exporter(endpoint: str) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # The specification: the per-signal variable is used as it is; the general one
    # is a base URL that gets the signal's path.
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return OTLPSpanExporter(endpoint=traces or f"{endpoint.rstrip('/')}/v1/traces")


def configure_tracing(
    service_name: str,
    otlp_endpoint: str | None,
    *,
    exporter: SpanExporter | None = None,
) -> TracerProvider | None:
    """Install this process's tracer provider, named ``service_name``.

    Spans go to ``exporter`` as they end when one is given, else in batches to the
    OTLP/HTTP collector at ``otlp_endpoint``. Returns the provider — the caller shuts
    it down at exit, which flushes the last batch — or None when tracing stays off (no
    endpoint and no exporter) or a provider is installed already (OpenTelemetry's
    global is set once per process; the first stays).
    """
    if (exporter is None and not otlp_endpoint) or enabled():
        return None
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(_ExecutionIdProcessor())
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        assert otlp_endpoint is not None
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(otlp_endpoint)))
    trace.set_tracer_provider(provider)
    provider_changed()
    return provider
