"""One stream item's W3C trace context, as ``hookline.rpc.v1.TraceContext``.

A unary call carries its trace context in gRPC metadata; an item on a long-lived
stream carries its own, in a field. The sender fills it with
``opentelemetry.propagate.inject`` (``outgoing()``); the receiver runs the item's
work under the extracted context (``incoming(trace)``). Without a configured
OpenTelemetry SDK both are no-ops: the field stays empty and nothing is attached
(the sender does not even ask the propagators, which costs a dozen calls per item).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hookline.rpc.v1 import item_pb2
from opentelemetry import context as otel_context
from opentelemetry import propagate

from hookline_runtime.tracing import enabled

__all__ = ["incoming", "outgoing"]

_TRACEPARENT = "traceparent"
_TRACESTATE = "tracestate"


def outgoing() -> item_pb2.TraceContext | None:
    """The current trace context for an item about to be sent; None when there is none."""
    if not enabled():
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if not carrier:
        return None
    return item_pb2.TraceContext(
        traceparent=carrier.get(_TRACEPARENT, ""), tracestate=carrier.get(_TRACESTATE, "")
    )


@contextmanager
def incoming(trace: item_pb2.TraceContext) -> Iterator[None]:
    """Run the block under the trace context an item carried (nothing when empty)."""
    if not trace.traceparent:
        yield
        return
    carrier = {_TRACEPARENT: trace.traceparent}
    if trace.tracestate:
        carrier[_TRACESTATE] = trace.tracestate
    token = otel_context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        otel_context.detach(token)
