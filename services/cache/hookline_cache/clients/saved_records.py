"""Saved execution records, read through the execution service.

Used only while Redis is unreachable, for waiters whose execution is being saved
to the database: ``GetExecution`` with a short deadline; NOT_FOUND (not saved yet)
and any failure to answer in time both mean "not there yet". In one process
(``hookline dev``) the launcher wires an in-process adapter of ``SavedRecords`` instead
(``hookline_launcher.local_wiring``), which reads the execution service's domain.
"""

from __future__ import annotations

import grpc
from hookline.execution.v1 import execution_service_pb2, execution_service_pb2_grpc

from hookline_runtime.logs import get_logger
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.security import GrpcSecurity

__all__ = ["ExecutionServiceRecords"]

log = get_logger(__name__)


class ExecutionServiceRecords:
    """``SavedRecords`` through ``hookline.execution.v1.ExecutionService``."""

    def __init__(
        self,
        address: str,
        *,
        max_message_bytes: int,
        security: GrpcSecurity | None = None,
    ) -> None:
        self._client = ServiceClient(
            address,
            execution_service_pb2_grpc.ExecutionServiceStub,
            max_message_bytes=max_message_bytes,
            security=security,
        )

    async def fetch(self, execution_id: str, timeout: float) -> bytes | None:
        request = execution_service_pb2.GetExecutionRequest(execution_id=execution_id)
        try:
            response = await self._client.stub.GetExecution(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                log.debug(
                    "Saved execution record unreadable",
                    execution_id=execution_id,
                    code=exc.code().name,
                )
            return None
        return bytes(response.record_json)

    async def close(self) -> None:
        await self._client.close()
