"""``ExecutionStarter`` over gRPC: ``ExecutionService/StartExecution`` with a deadline,
the direct hand-off used when the run queue cannot take a run.

gRPC failures become the project's errors: an execution service that cannot be
reached (after the channel's own retries) is ``Unavailable`` (503 at the edge: the run
did not start). A call that passes its deadline may still have started the run, so it
is ``StartUncertain`` (504 with the execution id), never a 503.
"""

from __future__ import annotations

import grpc
from hookline.execution.v1 import execution_service_pb2 as pb
from hookline.execution.v1 import execution_service_pb2_grpc as pb_grpc

from hookline_runtime.errors import (
    HooklineError,
    InvalidArgument,
    ResourceExhausted,
    StartUncertain,
    Unavailable,
)
from hookline_runtime.logs import get_logger
from hookline_runtime.tracing import run_trace_context
from hookline_runtime.transport.client import ServiceClient
from hookline_trigger.domain.records import (
    ExecutionMode,
    StartRequest,
    encode_trigger_output,
)

__all__ = ["GrpcExecutionStarter", "start_message"]

log = get_logger(__name__)

_MODES: dict[ExecutionMode, pb.ExecutionMode.ValueType] = {
    ExecutionMode.WEBHOOK: pb.EXECUTION_MODE_WEBHOOK,
    ExecutionMode.MANUAL: pb.EXECUTION_MODE_MANUAL,
    ExecutionMode.SCHEDULE: pb.EXECUTION_MODE_SCHEDULE,
}


def start_message(request: StartRequest, *, direct: bool = False) -> pb.StartExecutionRequest:
    """The run as the execution service's message: on the queue and over gRPC alike,
    with the current trace context, which the run continues."""
    traceparent, tracestate = run_trace_context()
    return pb.StartExecutionRequest(
        execution_id=request.execution_id,
        workflow_json=request.workflow_json,
        mode=_MODES[request.mode],
        trigger_output_json=request.trigger_output_json
        or encode_trigger_output(request.trigger_output),
        publish_early_response=request.publish_early_response,
        direct=direct,
        keep_result_seconds=request.keep_result_seconds,
        traceparent=traceparent,
        tracestate=tracestate,
    )


def _error_for(exc: grpc.aio.AioRpcError) -> HooklineError:
    code = exc.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return StartUncertain("the execution service did not confirm the start in time")
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable("the execution service is unavailable")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return ResourceExhausted(exc.details() or "the execution service is overloaded")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(exc.details() or "the execution service refused the run")
    return HooklineError("the execution service failed to start the run")


class GrpcExecutionStarter:
    """Hands a run to one execution replica, which runs it itself (not durable)."""

    def __init__(
        self,
        client: ServiceClient[pb_grpc.ExecutionServiceAsyncStub],
        *,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds

    async def start(self, request: StartRequest) -> None:
        message = start_message(request, direct=True)
        try:
            await self._client.stub.StartExecution(message, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            log.error(
                "StartExecution failed",
                execution_id=request.execution_id,
                code=exc.code().name,
                details=exc.details(),
            )
            raise _error_for(exc) from exc
