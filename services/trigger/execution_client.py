"""``ExecutionStarter`` over gRPC: ``ExecutionService/StartExecution`` with a deadline.

gRPC failures become the project's errors: an execution service that cannot be
reached (after the channel's own retries) or does not answer in time is
``Unavailable`` (503 at the edge).
"""

from __future__ import annotations

import json

import grpc
from hookline.execution.v1 import execution_service_pb2 as pb
from hookline.execution.v1 import execution_service_pb2_grpc as pb_grpc

from runtime.errors import HooklineError, InvalidArgument, ResourceExhausted, Unavailable
from runtime.grpc_client import ServiceClient
from runtime.logs import get_logger
from services.trigger.domain.records import ExecutionMode, StartRequest

__all__ = ["GrpcExecutionStarter"]

log = get_logger(__name__)

_MODES: dict[ExecutionMode, pb.ExecutionMode.ValueType] = {
    ExecutionMode.WEBHOOK: pb.EXECUTION_MODE_WEBHOOK,
    ExecutionMode.MANUAL: pb.EXECUTION_MODE_MANUAL,
    ExecutionMode.SCHEDULE: pb.EXECUTION_MODE_SCHEDULE,
}


def _error_for(exc: grpc.aio.AioRpcError) -> HooklineError:
    code = exc.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable("the execution service is unavailable")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return ResourceExhausted(exc.details() or "the execution service is overloaded")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(exc.details() or "the execution service refused the run")
    return HooklineError("the execution service failed to start the run")


class GrpcExecutionStarter:
    def __init__(
        self,
        client: ServiceClient[pb_grpc.ExecutionServiceAsyncStub],
        *,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds

    async def start(self, request: StartRequest) -> None:
        message = pb.StartExecutionRequest(
            execution_id=request.execution_id,
            workflow_json=request.workflow_json,
            mode=_MODES[request.mode],
            trigger_output_json=json.dumps(
                request.trigger_output, ensure_ascii=False, separators=(",", ":")
            ).encode(),
            publish_early_response=request.publish_early_response,
        )
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
