"""``CredentialSource`` over the trigger service's ``ResolveCredential`` (the trigger
service owns the credentials and their key; this service never stores them). Every
call carries a deadline; failures become ``CredentialUnavailable`` with a message
that names the credential and the reason, never a value."""

from __future__ import annotations

import grpc
from hookline.trigger.v1 import trigger_service_pb2, trigger_service_pb2_grpc

from hookline_execution.domain.credentials import Credential, CredentialUnavailable
from hookline_runtime.logs import get_logger
from hookline_runtime.settings import Settings
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.security import GrpcSecurity

__all__ = ["TriggerCredentialSource", "trigger_client"]

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
            raise CredentialUnavailable(_reason(name, exc)) from None
        return Credential(name=name, type=reply.type, data=dict(reply.data))


def _reason(name: str, exc: grpc.aio.AioRpcError) -> str:
    code = exc.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return f'no credential named "{name}"'
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return f'credential "{name}": {exc.details()}'
    log.warning("Could not resolve a credential", name=name, code=code.name)
    return f'credential "{name}" could not be fetched from the trigger service ({code.name})'
