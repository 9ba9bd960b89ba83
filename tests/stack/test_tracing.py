"""Distributed tracing through the whole stack (in this process, tracing on with an
in-memory exporter): one webhook call that comes with a ``traceparent`` is one trace —
the edge's request, the trigger, the run queue, the run and each of its nodes, and the
cache's store — every span in it linked to its parent and marked with the execution id.

The same chain across real processes is ``tests/cluster/test_tracing_across_processes``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings
from hookline_runtime.tracing import EXECUTION_ID, NODE, NODE_TYPE
from tests.tracing_support import installed_exporter, parent_of, span_named


def greeter(path: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Shape", "type": "set",
             "parameters": {"values": {"greeting": "Hello {{ json.body.name }}"}}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 201, "body": {"message": "{{ json.greeting }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Shape"}, {"from": "Shape", "to": "Reply"}],
    }


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    with installed_exporter() as installed:
        yield installed


def _ancestors(span: ReadableSpan, spans: list[ReadableSpan]) -> list[str]:
    names = []
    parent = parent_of(span, spans)
    while parent is not None:
        names.append(parent.name)
        parent = parent_of(parent, spans)
    return names


async def test_a_webhook_with_a_traceparent_is_one_trace_from_the_edge_to_the_cache(
    exporter: InMemorySpanExporter,
    make_settings: Callable[..., Settings],
    redis_url: str,
    unique: Callable[[str], str],
) -> None:
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    # The services wired over gRPC, as separate processes are.
    settings = make_settings(redis_url=redis_url)
    async with (
        LocalStack(settings, wiring="grpc") as stack,
        httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as http,
    ):
        path = unique("traced")
        created = await http.post("/api/v1/workflows", json=greeter(path, unique("Traced")))
        assert created.status_code == 201, created.text
        answer = await http.post(
            f"/webhook/{path}",
            json={"name": "Ada"},
            headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
        assert answer.status_code == 201, answer.text
        execution_id = answer.headers["x-execution-id"]
    # The stack has stopped: every span of the run has ended and been exported.
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == int(trace_id, 16)]

    edge = span_named(spans, "POST /webhook/{webhook_path}", SpanKind.SERVER)
    assert edge.parent is not None and edge.parent.span_id == int(caller_span, 16)
    assert edge.parent.is_remote
    assert edge.attributes is not None and edge.attributes["http.route"] == "/webhook/{webhook_path}"

    enqueue = span_named(spans, f"send {settings.run_stream}", SpanKind.PRODUCER)
    run = span_named(spans, "workflow run", SpanKind.CONSUMER)
    shape = span_named(spans, "node Shape", SpanKind.INTERNAL)
    reply = span_named(spans, "node Reply", SpanKind.INTERNAL)
    store = span_named(spans, "cache store result", SpanKind.INTERNAL)

    # Each hop is a descendant of the one before it, in this one trace: the trigger's
    # enqueue (under its HandleWebhook span when the edge called it by gRPC) under the
    # edge's request, the run under the enqueue, the nodes under the run, and the
    # cache's store under the run (through its StoreResult call).
    assert edge.name in _ancestors(enqueue, spans)
    assert parent_of(run, spans) is enqueue
    assert parent_of(shape, spans) is run and parent_of(reply, spans) is run
    assert run.name in _ancestors(store, spans)

    # The nodes say what they are; every span of the chain names the execution.
    assert shape.attributes is not None and reply.attributes is not None
    assert (shape.attributes[NODE], shape.attributes[NODE_TYPE]) == ("Shape", "set")
    assert (reply.attributes[NODE], reply.attributes[NODE_TYPE]) == ("Reply", "httpResponse")
    unmarked = [s.name for s in spans if (s.attributes or {}).get(EXECUTION_ID) != execution_id]
    assert unmarked == []


async def test_tracing_off_installs_nothing_and_sends_no_trace_context(
    make_settings: Callable[..., Settings], redis_url: str, unique: Callable[[str], str]
) -> None:
    from opentelemetry import trace

    from hookline_runtime import tracing
    from hookline_runtime.transport import tracing as grpc_tracing

    assert not tracing.enabled()
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert grpc_tracing.client_interceptors() == []
    assert grpc_tracing.server_interceptors() == []
    assert tracing.run_trace_context() == ("", "")
    async with (
        LocalStack(make_settings(redis_url=redis_url)) as stack,
        httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as http,
    ):
        path = unique("untraced")
        created = await http.post("/api/v1/workflows", json=greeter(path, unique("Plain")))
        assert created.status_code == 201, created.text
        answer = await http.post(
            f"/webhook/{path}",
            json={"name": "Ada"},
            headers={"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"},
        )
        assert answer.status_code == 201, answer.text
        assert "traceparent" not in answer.headers
