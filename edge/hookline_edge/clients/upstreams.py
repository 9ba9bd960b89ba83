"""The edge's clients for the three gRPC services, and the deadlines it calls them with.

``Upstreams.open(settings)`` opens one ``hookline_runtime.transport.client.ServiceClient`` per
service (round-robin over the configured addresses); the app's lifespan opens it at
start-up and closes it at shutdown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grpc_health.v1 import health_pb2_grpc
from hookline.cache.v1 import cache_service_pb2, cache_service_pb2_grpc
from hookline.execution.v1 import execution_service_pb2, execution_service_pb2_grpc
from hookline.trigger.v1 import trigger_service_pb2, trigger_service_pb2_grpc

from hookline_runtime.settings import Settings
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.security import GrpcSecurity

if TYPE_CHECKING:
    from hookline.cache.v1.cache_service_pb2_grpc import CacheServiceAsyncStub
    from hookline.execution.v1.execution_service_pb2_grpc import ExecutionServiceAsyncStub
    from hookline.trigger.v1.trigger_service_pb2_grpc import TriggerServiceAsyncStub

__all__ = [
    "CALL_TIMEOUT_SECONDS",
    "HEALTH_TIMEOUT_SECONDS",
    "SERVICE_NAMES",
    "WATCH_MARGIN_SECONDS",
    "Upstreams",
]

CALL_TIMEOUT_SECONDS = 10.0
"""Deadline of every unary call (workflow CRUD, webhook hand-off, record reads)."""

HEALTH_TIMEOUT_SECONDS = 2.0
"""Deadline of each readiness health check."""

WATCH_MARGIN_SECONDS = 2.0
"""A watch's gRPC deadline is its own timeout plus this margin, so that the cache
service's TIMED_OUT event normally arrives before the deadline does."""

SERVICE_NAMES: dict[str, str] = {
    "trigger": trigger_service_pb2.DESCRIPTOR.services_by_name["TriggerService"].full_name,
    "execution": execution_service_pb2.DESCRIPTOR.services_by_name["ExecutionService"].full_name,
    "cache": cache_service_pb2.DESCRIPTOR.services_by_name["CacheService"].full_name,
}
"""Fully-qualified gRPC service names, as registered with the health service."""


class Upstreams:
    """Open clients for the trigger, execution and cache services.

    (A plain class, not a dataclass: Litestar's signature model would otherwise try to
    resolve the stub types, which exist for type checkers only.)
    """

    def __init__(
        self,
        trigger: ServiceClient[TriggerServiceAsyncStub],
        execution: ServiceClient[ExecutionServiceAsyncStub],
        cache: ServiceClient[CacheServiceAsyncStub],
    ) -> None:
        self.trigger = trigger
        self.execution = execution
        self.cache = cache

    @classmethod
    def open(cls, settings: Settings) -> Upstreams:
        size = settings.grpc_max_message_bytes
        security = GrpcSecurity.from_settings(settings)
        return cls(
            trigger=ServiceClient(
                settings.trigger_addr,
                trigger_service_pb2_grpc.TriggerServiceStub,
                max_message_bytes=size,
                security=security,
            ),
            execution=ServiceClient(
                settings.execution_addr,
                execution_service_pb2_grpc.ExecutionServiceStub,
                max_message_bytes=size,
                security=security,
            ),
            cache=ServiceClient(
                settings.cache_addr,
                cache_service_pb2_grpc.CacheServiceStub,
                max_message_bytes=size,
                security=security,
            ),
        )

    def health_stubs(self, service: str) -> list[health_pb2_grpc.HealthStub]:
        """One health stub per channel of ``service`` ("trigger", "execution", "cache")."""
        client: ServiceClient[object] = getattr(self, service)
        return [health_pb2_grpc.HealthStub(channel) for channel in client.channels]

    async def close(self) -> None:
        for client in (self.trigger, self.execution, self.cache):
            await client.close()
