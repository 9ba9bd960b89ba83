"""The management API's ports (``hookline_edge.ports``) over unary gRPC calls.

``GrpcWorkflowAdmin`` and ``GrpcCredentialAdmin`` call the trigger service,
``GrpcSavedExecutions`` the execution service and ``GrpcCachedResults`` the cache
service, each call with the ``CALL_TIMEOUT_SECONDS`` deadline. A failed call raises
the ``hookline_runtime.errors`` exception its status code stands for
(``hookline_runtime.transport.status.domain_errors``), so callers see the same errors
whether the service is in this process or behind a channel.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

from hookline.cache.v1 import cache_service_pb2 as cpb
from hookline.execution.v1 import execution_service_pb2 as epb
from hookline.trigger.v1 import trigger_service_pb2 as tpb

from hookline_edge.clients.upstreams import CALL_TIMEOUT_SECONDS
from hookline_edge.ports import (
    CachedRecord,
    CredentialInfo,
    ExecutionQuery,
    Page,
    RunCall,
    RunReply,
)
from hookline_runtime.errors import InvalidArgument
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.status import domain_errors

if TYPE_CHECKING:
    from hookline.cache.v1.cache_service_pb2_grpc import CacheServiceAsyncStub
    from hookline.execution.v1.execution_service_pb2_grpc import ExecutionServiceAsyncStub
    from hookline.trigger.v1.trigger_service_pb2_grpc import TriggerServiceAsyncStub

__all__ = [
    "GrpcCachedResults",
    "GrpcCredentialAdmin",
    "GrpcSavedExecutions",
    "GrpcWorkflowAdmin",
]


class GrpcWorkflowAdmin:
    """``WorkflowAdmin`` over ``TriggerService``'s workflow methods and ``RunWorkflow``."""

    def __init__(
        self,
        trigger: ServiceClient[TriggerServiceAsyncStub],
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._trigger = trigger
        self._timeout = timeout

    async def create(self, document: bytes) -> bytes:
        request = tpb.CreateWorkflowRequest(workflow_json=document)
        with domain_errors():
            reply = await self._trigger.stub.CreateWorkflow(request, timeout=self._timeout)
        return reply.workflow.workflow_json

    async def list(self, *, limit: int, cursor: str) -> Page[bytes]:
        request = tpb.ListWorkflowsRequest(limit=limit, cursor=cursor)
        with domain_errors():
            reply = await self._trigger.stub.ListWorkflows(request, timeout=self._timeout)
        return Page(tuple(w.workflow_json for w in reply.workflows), reply.next_cursor)

    async def get(self, workflow_id: str) -> bytes:
        request = tpb.GetWorkflowRequest(id=workflow_id)
        with domain_errors():
            reply = await self._trigger.stub.GetWorkflow(request, timeout=self._timeout)
        return reply.workflow.workflow_json

    async def replace(self, workflow_id: str, document: bytes) -> bytes:
        request = tpb.ReplaceWorkflowRequest(id=workflow_id, workflow_json=document)
        with domain_errors():
            reply = await self._trigger.stub.ReplaceWorkflow(request, timeout=self._timeout)
        return reply.workflow.workflow_json

    async def patch(self, workflow_id: str, patch: bytes) -> bytes:
        request = tpb.PatchWorkflowRequest(id=workflow_id, patch_json=patch)
        with domain_errors():
            reply = await self._trigger.stub.PatchWorkflow(request, timeout=self._timeout)
        return reply.workflow.workflow_json

    async def delete(self, workflow_id: str) -> None:
        request = tpb.DeleteWorkflowRequest(id=workflow_id)
        with domain_errors():
            await self._trigger.stub.DeleteWorkflow(request, timeout=self._timeout)

    async def run(self, call: RunCall) -> RunReply:
        request = tpb.RunWorkflowRequest(
            workflow_id=call.workflow_id,
            input_json=call.input_json,
            execution_id=call.execution_id,
            idempotency_key=call.idempotency_key,
            request_fingerprint=call.fingerprint,
        )
        with domain_errors():
            reply = await self._trigger.stub.RunWorkflow(request, timeout=self._timeout)
        return RunReply(
            execution_id=reply.execution_id,
            response_timeout_seconds=reply.response_timeout_seconds,
            save_execution=reply.save_execution,
            replayed=reply.replayed,
            idempotency_key_reused=reply.idempotency_key_reused,
        )


def _credential_info(message: tpb.Credential) -> CredentialInfo:
    return CredentialInfo(
        id=message.id,
        name=message.name,
        type=message.type,
        created_at=message.create_time.ToDatetime(tzinfo=UTC),
        updated_at=message.update_time.ToDatetime(tzinfo=UTC),
    )


class GrpcCredentialAdmin:
    """``CredentialAdmin`` over ``TriggerService``'s credential methods."""

    def __init__(
        self,
        trigger: ServiceClient[TriggerServiceAsyncStub],
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._trigger = trigger
        self._timeout = timeout

    async def create(self, document: bytes) -> CredentialInfo:
        request = tpb.CreateCredentialRequest(credential_json=document)
        with domain_errors():
            reply = await self._trigger.stub.CreateCredential(request, timeout=self._timeout)
        return _credential_info(reply.credential)

    async def list(self, *, limit: int, cursor: str) -> Page[CredentialInfo]:
        request = tpb.ListCredentialsRequest(limit=limit, cursor=cursor)
        with domain_errors():
            reply = await self._trigger.stub.ListCredentials(request, timeout=self._timeout)
        return Page(tuple(_credential_info(c) for c in reply.credentials), reply.next_cursor)

    async def get(self, credential_id: str) -> CredentialInfo:
        request = tpb.GetCredentialRequest(id=credential_id)
        with domain_errors():
            reply = await self._trigger.stub.GetCredential(request, timeout=self._timeout)
        return _credential_info(reply.credential)

    async def replace(self, credential_id: str, document: bytes) -> CredentialInfo:
        request = tpb.ReplaceCredentialRequest(id=credential_id, credential_json=document)
        with domain_errors():
            reply = await self._trigger.stub.ReplaceCredential(request, timeout=self._timeout)
        return _credential_info(reply.credential)

    async def delete(self, credential_id: str) -> None:
        request = tpb.DeleteCredentialRequest(id=credential_id)
        with domain_errors():
            await self._trigger.stub.DeleteCredential(request, timeout=self._timeout)


_STATUS_FILTER = {
    "": epb.EXECUTION_STATUS_UNSPECIFIED,
    "running": epb.EXECUTION_STATUS_RUNNING,
    "success": epb.EXECUTION_STATUS_SUCCESS,
    "error": epb.EXECUTION_STATUS_ERROR,
}


class GrpcSavedExecutions:
    """``SavedExecutions`` over ``ExecutionService``'s ``GetExecution`` and
    ``ListExecutions``."""

    def __init__(
        self,
        execution: ServiceClient[ExecutionServiceAsyncStub],
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._execution = execution
        self._timeout = timeout

    async def list(self, query: ExecutionQuery) -> Page[bytes]:
        status = _STATUS_FILTER.get(query.status)
        if status is None:
            raise InvalidArgument(f"unknown status {query.status!r}", field="status")
        request = epb.ListExecutionsRequest(
            workflow_id=query.workflow_id, status=status, limit=query.limit, cursor=query.cursor
        )
        with domain_errors():
            reply = await self._execution.stub.ListExecutions(request, timeout=self._timeout)
        return Page(tuple(reply.records_json), reply.next_cursor)

    async def get(self, execution_id: str) -> bytes:
        request = epb.GetExecutionRequest(execution_id=execution_id)
        with domain_errors():
            reply = await self._execution.stub.GetExecution(request, timeout=self._timeout)
        return reply.record_json


class GrpcCachedResults:
    """``CachedResults`` over ``CacheService/GetResult``."""

    def __init__(
        self,
        cache: ServiceClient[CacheServiceAsyncStub],
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._cache = cache
        self._timeout = timeout

    async def get(self, execution_id: str) -> CachedRecord:
        request = cpb.GetResultRequest(execution_id=execution_id)
        with domain_errors():
            reply = await self._cache.stub.GetResult(request, timeout=self._timeout)
        expires_at = (
            reply.expire_time.ToDatetime(tzinfo=UTC) if reply.HasField("expire_time") else None
        )
        return CachedRecord(reply.record_json, expires_at)
