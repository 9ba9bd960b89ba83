"""The credential methods of ``hookline.trigger.v1.TriggerService``: proto in, the
``CredentialManager``, proto out. Answers carry metadata only, except
``ResolveCredential``, which the execution service calls for a run's httpRequest
nodes (the edge has no route to it). Domain errors propagate to the server's
interceptor, which turns them into status codes."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_runtime.logs import bind_execution, get_logger
from hookline_trigger.domain.credential_types import CredentialRecord
from hookline_trigger.domain.credentials import CredentialManager

__all__ = ["CredentialMethods", "credential_message"]

log = get_logger(__name__)

_Context = grpc.aio.ServicerContext[Any, Any]


def credential_message(record: CredentialRecord) -> pb.Credential:
    """The metadata of ``record``; its sealed values stay behind."""
    create_time, update_time = Timestamp(), Timestamp()
    create_time.FromDatetime(record.created_at)
    update_time.FromDatetime(record.updated_at)
    return pb.Credential(
        id=record.id,
        name=record.name,
        type=record.type,
        create_time=create_time,
        update_time=update_time,
    )


class CredentialMethods:
    """Mixed into ``TriggerServicer``; ``_credentials`` is set by its constructor."""

    _credentials: CredentialManager

    async def CreateCredential(
        self, request: pb.CreateCredentialRequest, context: _Context
    ) -> pb.CreateCredentialResponse:
        record = await self._credentials.create(request.credential_json)
        return pb.CreateCredentialResponse(credential=credential_message(record))

    async def GetCredential(
        self, request: pb.GetCredentialRequest, context: _Context
    ) -> pb.GetCredentialResponse:
        record = await self._credentials.get(request.id)
        return pb.GetCredentialResponse(credential=credential_message(record))

    async def ListCredentials(
        self, request: pb.ListCredentialsRequest, context: _Context
    ) -> pb.ListCredentialsResponse:
        page = await self._credentials.list(limit=request.limit, cursor=request.cursor)
        return pb.ListCredentialsResponse(
            credentials=[credential_message(r) for r in page.credentials],
            next_cursor=page.next_cursor,
        )

    async def ReplaceCredential(
        self, request: pb.ReplaceCredentialRequest, context: _Context
    ) -> pb.ReplaceCredentialResponse:
        record = await self._credentials.replace(request.id, request.credential_json)
        return pb.ReplaceCredentialResponse(credential=credential_message(record))

    async def DeleteCredential(
        self, request: pb.DeleteCredentialRequest, context: _Context
    ) -> pb.DeleteCredentialResponse:
        await self._credentials.delete(request.id)
        return pb.DeleteCredentialResponse()

    async def ResolveCredential(
        self, request: pb.ResolveCredentialRequest, context: _Context
    ) -> pb.ResolveCredentialResponse:
        if request.execution_id:
            bind_execution(request.execution_id)
        credential = await self._credentials.resolve(request.name)
        log.debug("Resolved credential for a run", name=credential.name, type=credential.type)
        return pb.ResolveCredentialResponse(type=credential.type, data=credential.data)
