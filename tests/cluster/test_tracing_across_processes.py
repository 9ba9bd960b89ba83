"""Distributed tracing across real processes: ``hookline serve`` edge, trigger,
execution and cache, each exporting its spans over OTLP/HTTP
(``OTEL_EXPORTER_OTLP_ENDPOINT``) to a small collector this test runs on 127.0.0.1.

One webhook call that comes with a ``traceparent`` gives spans in all four processes,
each process named by its resource's ``service.name``, all in the caller's trace, and
linked across the process boundaries: the edge's request under the caller's span, the
trigger's enqueue under the edge's, the execution's run under the enqueue (through the
run queue), its nodes under the run, and the cache's store under the run.
"""

from __future__ import annotations

import gzip
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.cluster.processes import Cluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


@dataclass(frozen=True)
class ExportedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, str]


class Collector:
    """An OTLP/HTTP trace receiver (``POST /v1/traces``, protobuf) keeping every span."""

    def __init__(self) -> None:
        self.spans: list[ExportedSpan] = []
        self._changed = threading.Condition()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.receive(ExportTraceServiceRequest.FromString(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def receive(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes
                 if a.key == "service.name"),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(ExportedSpan(
                        service=service,
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        attributes={a.key: a.value.string_value for a in span.attributes},
                    ))
        with self._changed:
            self.spans.extend(received)
            self._changed.notify_all()

    def wait_for(
        self, done: Callable[[list[ExportedSpan]], bool], timeout: float
    ) -> list[ExportedSpan]:
        """The spans received, once ``done`` says they are enough (or at the timeout)."""
        with self._changed:
            self._changed.wait_for(lambda: done(list(self.spans)), timeout)
            return list(self.spans)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as running:
        yield running


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


def test_one_webhook_is_one_trace_across_the_edge_trigger_execution_and_cache_processes(
    tmp_path: Path,
    redis_url: str,
    postgres_url: str,
    collector: Collector,
    unique: Callable[[str], str],
) -> None:
    cluster = Cluster(tmp_path, {
        "REDIS_URL": redis_url,
        "HOOKLINE_DATABASE_URL": postgres_url,
        "HOOKLINE_SHUTDOWN_GRACE_SECONDS": "2",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # export within 50 ms, not 5 s
    })
    cache = cluster.add("cache", "cache")
    execution = cluster.add("execution", "execution", HOOKLINE_CACHE_ADDR=cache.address)
    cache.env["HOOKLINE_EXECUTION_ADDR"] = execution.address
    trigger = cluster.add("trigger", "trigger", HOOKLINE_EXECUTION_ADDR=execution.address,
                          HOOKLINE_CACHE_ADDR=cache.address)
    edge = cluster.add("edge", "edge", HOOKLINE_TRIGGER_ADDR=trigger.address,
                       HOOKLINE_EXECUTION_ADDR=execution.address,
                       HOOKLINE_CACHE_ADDR=cache.address)
    try:
        cluster.start(cache, execution, trigger, edge)
        url = f"http://{edge.address}"
        path = unique("traced")
        created = httpx.post(f"{url}/api/v1/workflows", json=greeter(path, unique("Traced")),
                             timeout=10)
        assert created.status_code == 201, created.text
        trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
        answer = httpx.post(f"{url}/webhook/{path}", json={"name": "Ada"}, timeout=30,
                            headers={"traceparent": f"00-{trace_id}-{caller_span}-01"})
        assert answer.status_code == 201, answer.text
        execution_id = answer.headers["x-execution-id"]

        wanted = {
            ("hookline-edge", "POST /webhook/{webhook_path}"),
            ("hookline-trigger", f"send {cluster.run_stream}"),
            ("hookline-execution", "workflow run"),
            ("hookline-execution", "node Shape"),
            ("hookline-execution", "node Reply"),
            ("hookline-cache", "cache store result"),
        }

        def traced(spans: list[ExportedSpan]) -> list[ExportedSpan]:
            return [s for s in spans if s.trace_id == trace_id]

        spans = traced(collector.wait_for(
            lambda got: wanted <= {(s.service, s.name) for s in traced(got)}, timeout=15
        ))
    finally:
        codes = cluster.stop_all()
    assert all(code == 0 for code in codes.values()), codes

    seen = {(s.service, s.name) for s in spans}
    assert wanted <= seen, sorted(seen)
    by_name = {(s.service, s.name): s for s in spans}
    by_id = {s.span_id: s for s in spans}

    def ancestors(span: ExportedSpan) -> list[tuple[str, str]]:
        chain = []
        while span.parent_id in by_id:
            span = by_id[span.parent_id]
            chain.append((span.service, span.name))
        return chain

    edge_span = by_name[("hookline-edge", "POST /webhook/{webhook_path}")]
    enqueue = by_name[("hookline-trigger", f"send {cluster.run_stream}")]
    run = by_name[("hookline-execution", "workflow run")]
    assert edge_span.parent_id == caller_span
    assert ("hookline-edge", edge_span.name) in ancestors(enqueue)
    assert run.parent_id == enqueue.span_id
    for node in ("node Shape", "node Reply"):
        assert by_name[("hookline-execution", node)].parent_id == run.span_id
    assert ("hookline-execution", "workflow run") in ancestors(
        by_name[("hookline-cache", "cache store result")]
    )
    services = {s.service for s in spans}
    assert services == {"hookline-edge", "hookline-trigger", "hookline-execution", "hookline-cache"}
    unmarked = [(s.service, s.name) for s in spans
                if s.attributes.get("hookline.execution_id") != execution_id]
    assert unmarked == []
