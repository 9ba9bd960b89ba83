"""``CredentialSource`` over the trigger service's ``ResolveCredential`` (the trigger
service owns the credentials and their key; this service never stores them). Every
call carries a deadline; failures become ``CredentialUnavailable`` with a message
that names the credential and the reason, never a value (``credential_unavailable``,
which an in-process adapter of the same port uses too)."""

from __future__ import annotations

import grpc
from hookline.trigger.v1 import trigger_service_pb2, trigger_service_pb2_grpc

from hookline_execution.domain.credentials import Credential, CredentialUnavailable
from hookline_runtime.errors import FailedPrecondition, HooklineError, NotFound
from hookline_runtime.logs import get_logger
from hookline_runtime.settings import Settings
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.security import GrpcSecurity
from hookline_runtime.transport.status import error_for_code, grpc_code_for

__all__ = ["TriggerCredentialSource", "credential_unavailable", "trigger_client"]

log = get_logger(__name__)

CALL_TIMEOUT_SECONDS = 5.0


def trigger_client(
    settings: Settings,
) -> ServiceClient[trigger_service_pb2_grpc.TriggerServiceAsyncStub]:
    """A client for the trigger service at ``settings.trigger_addr``."""
    return ServiceClient(
        settings.trigger_addr,
        trigger_service_pb2_grpc.TriggerServiceStub,
        max_message_bytes=settings.grpc_max_message_bytes,
        security=GrpcSecurity.from_settings(settings),
    )


class TriggerCredentialSource:
    def __init__(
        self,
        client: ServiceClient[trigger_service_pb2_grpc.TriggerServiceAsyncStub],
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self._timeout = timeout

    async def get(self, name: str) -> Credential:
        request = trigger_service_pb2.ResolveCredentialRequest(name=name)
        try:
            reply = await self._client.stub.ResolveCredential(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            error = error_for_code(exc.code(), exc.details() or "")
            raise credential_unavailable(name, error) from None
        return Credential(name=name, type=reply.type, data=dict(reply.data))


def credential_unavailable(name: str, error: HooklineError) -> CredentialUnavailable:
    """What a run is told when the trigger service answered ``error`` for the
    credential ``name``."""
    if isinstance(error, NotFound):
        return CredentialUnavailable(f'no credential named "{name}"')
    if isinstance(error, FailedPrecondition):
        return CredentialUnavailable(f'credential "{name}": {error.message}')
    code = grpc_code_for(error)
    log.warning("Could not resolve a credential", name=name, code=code.name)
    return CredentialUnavailable(
        f'credential "{name}" could not be fetched from the trigger service ({code.name})'
    )
