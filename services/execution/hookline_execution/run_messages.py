"""``StartExecutionRequest`` (the run, as the gRPC call and the queue entry carry it)
to the domain's ``StartRequest``. Bad input raises ``InvalidArgument``."""

from __future__ import annotations

import json
from typing import Any

from hookline.execution.v1 import execution_service_pb2 as pb

from hookline_execution.domain.record import encode_json
from hookline_execution.domain.service import StartRequest
from hookline_runtime.errors import InvalidArgument
from hookline_runtime.tracing import run_trace_context

__all__ = ["MODES", "decode_json", "start_message", "start_request"]

MODES: dict[pb.ExecutionMode.ValueType, str] = {
    pb.EXECUTION_MODE_WEBHOOK: "webhook",
    pb.EXECUTION_MODE_MANUAL: "manual",
    pb.EXECUTION_MODE_SCHEDULE: "schedule",
    pb.EXECUTION_MODE_SUBWORKFLOW: "subworkflow",
    pb.EXECUTION_MODE_ERROR: "error",
}


def decode_json(data: bytes, field: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidArgument(f"{field} is not valid JSON: {exc}", field=field) from None


def start_message(request: StartRequest) -> pb.StartExecutionRequest:
    """The reverse of ``start_request``. The trace context is the current one (the
    call or node that hands the run on), else the one the request came with."""
    modes = {name: value for value, name in MODES.items()}
    traceparent, tracestate = run_trace_context()
    if not traceparent:
        traceparent, tracestate = request.traceparent, request.tracestate
    return pb.StartExecutionRequest(
        execution_id=request.execution_id,
        workflow_json=encode_json(request.workflow),
        mode=modes.get(request.mode or "", pb.EXECUTION_MODE_UNSPECIFIED),
        trigger_output_json=encode_json(request.trigger_output),
        publish_early_response=request.publish_early_response,
        keep_result_seconds=request.keep_result_seconds,
        depth=request.depth,
        traceparent=traceparent,
        tracestate=tracestate,
    )


def start_request(message: pb.StartExecutionRequest) -> StartRequest:
    workflow = decode_json(message.workflow_json, "workflow_json")
    if not isinstance(workflow, dict):
        raise InvalidArgument("workflow_json must be a JSON object", field="workflow_json")
    trigger_output = (
        decode_json(message.trigger_output_json, "trigger_output_json")
        if message.trigger_output_json
        else {}
    )
    return StartRequest(
        execution_id=message.execution_id,
        workflow=workflow,
        trigger_output=trigger_output,
        mode=MODES.get(message.mode),
        publish_early_response=message.publish_early_response,
        keep_result_seconds=message.keep_result_seconds,
        depth=max(message.depth, 1),
        traceparent=message.traceparent,
        tracestate=message.tracestate,
    )
