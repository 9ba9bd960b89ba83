"""ExecutionService over gRPC: proto messages in and out, the domain in between.
Domain errors (hookline_runtime.errors) become status codes in the shared interceptor."""

from __future__ import annotations

from typing import Any

import grpc
from hookline.execution.v1 import execution_service_pb2 as pb
from hookline.execution.v1 import execution_service_pb2_grpc as pb_grpc

from hookline_execution.domain.intake import RunIntake
from hookline_execution.domain.service import ExecutionService
from hookline_execution.run_messages import start_request
from hookline_runtime.errors import InvalidArgument

__all__ = ["SERVICE_NAME", "ExecutionServicer"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ExecutionService"].full_name

_STATUSES: dict[int, str] = {
    pb.EXECUTION_STATUS_RUNNING: "running",
    pb.EXECUTION_STATUS_SUCCESS: "success",
    pb.EXECUTION_STATUS_ERROR: "error",
}


class ExecutionServicer(pb_grpc.ExecutionServiceServicer):
    """Maps the three RPCs onto ``ExecutionService``."""

    def __init__(self, service: ExecutionService, intake: RunIntake) -> None:
        self._service = service
        self._intake = intake

    async def StartExecution(
        self, request: pb.StartExecutionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StartExecutionResponse:
        await self._intake.submit(start_request(request), direct=request.direct)
        return pb.StartExecutionResponse(execution_id=request.execution_id)

    async def GetExecution(
        self, request: pb.GetExecutionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetExecutionResponse:
        return pb.GetExecutionResponse(record_json=await self._service.get(request.execution_id))

    async def ListExecutions(
        self, request: pb.ListExecutionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListExecutionsResponse:
        if request.status != pb.EXECUTION_STATUS_UNSPECIFIED and request.status not in _STATUSES:
            raise InvalidArgument(f"unknown status {request.status}", field="status")
        page = await self._service.list(
            workflow_id=request.workflow_id or None,
            status=_STATUSES.get(request.status),
            limit=request.limit,
            cursor=request.cursor or None,
        )
        return pb.ListExecutionsResponse(
            records_json=page.records, next_cursor=page.next_cursor or ""
        )
