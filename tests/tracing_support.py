"""Tracing in tests: an in-memory span exporter installed as this process's tracer
provider for one test, and helpers to read the trace it records.

OpenTelemetry sets its global provider once per process; ``installed_exporter`` puts it
back to "none" afterwards (as opentelemetry's own test utilities do), so the tests
after it run with tracing off, as the default is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from hookline_runtime.trace_provider import configure_tracing
from hookline_runtime.tracing import provider_changed

__all__ = ["installed_exporter", "parent_of", "span_named"]


@contextmanager
def installed_exporter(service_name: str = "hookline-test") -> Iterator[InMemorySpanExporter]:
    """Tracing on for the block, every finished span kept in the exporter."""
    exporter = InMemorySpanExporter()
    provider = configure_tracing(service_name, None, exporter=exporter)
    assert provider is not None, "a tracer provider was installed already"
    try:
        yield exporter
    finally:
        provider.shutdown()
        trace._TRACER_PROVIDER = None
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        provider_changed()


def span_named(spans: list[ReadableSpan], name: str, kind: trace.SpanKind) -> ReadableSpan:
    """The one span of this name and kind."""
    found = [s for s in spans if s.name == name and s.kind == kind]
    names = sorted((s.name, s.kind.name) for s in spans)
    assert len(found) == 1, f"{len(found)} spans {name!r} ({kind.name}) among {names}"
    return found[0]


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    """The span's parent among ``spans`` (None for a root or a remote parent)."""
    if span.parent is None:
        return None
    return next((s for s in spans if s.context.span_id == span.parent.span_id), None)
