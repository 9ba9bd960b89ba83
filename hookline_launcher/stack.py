"""All four services in one process: what ``hookline dev`` runs and what the
whole-stack tests start (on port 0).

Wired ``in-process`` (the default), no call between the services leaves the process:
every port one service calls in another is an adapter calling that service's domain
(``hookline_launcher.local_wiring``). The edge hands webhook calls to the trigger's domain
and waits on the cache's, and its management API (workflows, credentials, manual
runs, execution records) calls the trigger's, the execution service's and the cache's
domain; the execution service hands records to the cache's domain, waits there for
child runs, and reads workflows and credentials from the trigger's; the trigger's
direct hand-off (when there is no run queue) goes to the execution service's intake;
the cache reads saved records (during a Redis outage) from the execution service. The
gRPC servers still listen, for other processes and for the edge's readiness probe
(``/readyz`` checks their health over gRPC); nothing else calls them. Wired ``grpc``, every one of those calls goes over gRPC on
loopback: the way ``hookline serve`` wires separate processes, kept for the tests that
compare the two.

The services are started in dependency order — cache, execution, trigger, edge — and
stopped in reverse. A listen address on port 0 is first given a free port, so that
every service knows every other's address before any starts (the cache service, for
one, reads saved records through the execution service during a Redis outage); wired
in-process, a part that starts after its caller reaches it through a
``local_wiring.Later``.
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self

from hookline_runtime.settings import Settings

if TYPE_CHECKING:
    from hookline_edge.server import EdgeServer

__all__ = ["LocalStack", "Wiring"]

Service = Literal["trigger", "execution", "cache"]
Wiring = Literal["in-process", "grpc"]


def _with_fixed_ports(settings: Settings) -> Settings:
    """Settings whose gRPC listen and caller addresses agree, with port 0 resolved."""
    update: dict[str, str] = {}
    services: tuple[Service, ...] = ("trigger", "execution", "cache")
    for service in services:
        host, _, port = settings.listen_address(service).rpartition(":")
        if port == "0":
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = str(sock.getsockname()[1])
        update[f"{service}_listen"] = f"{host}:{port}"
        update[f"{service}_addr"] = f"{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    return settings.model_copy(update=update)


class LocalStack:
    """``async with LocalStack(settings) as stack:`` then ``stack.edge_url``."""

    def __init__(self, settings: Settings, *, wiring: Wiring = "in-process") -> None:
        self.settings = settings
        self.wiring = wiring
        self._exit = AsyncExitStack()
        self.edge_url = ""
        self.cache_address = ""
        self.execution_address = ""
        self.trigger_address = ""

    async def __aenter__(self) -> Self:
        try:
            settings = _with_fixed_ports(self.settings)
            if self.wiring == "in-process":
                edge = await self._start_in_process(settings)
            else:
                edge = await self._start_over_grpc(settings)
            self.edge_url = edge.url
            self.settings = settings
        except BaseException:
            await self._exit.aclose()
            raise
        return self

    async def _start_over_grpc(self, settings: Settings) -> EdgeServer:
        """The four services calling one another over gRPC, as ``hookline serve`` runs them."""
        # Imported here: the composition root is the only place that knows every service.
        from hookline_cache.server import CacheServer
        from hookline_edge.server import EdgeServer
        from hookline_execution.server import ExecutionServer
        from hookline_trigger.server import TriggerServer

        cache = await self._exit.enter_async_context(CacheServer(settings))
        execution = await self._exit.enter_async_context(ExecutionServer(settings))
        trigger = await self._exit.enter_async_context(TriggerServer(settings))
        self.cache_address = cache.address
        self.execution_address = execution.address
        self.trigger_address = trigger.address
        return await self._exit.enter_async_context(EdgeServer(settings))

    async def _start_in_process(self, settings: Settings) -> EdgeServer:
        """The four services, every port between them an in-process adapter."""
        from hookline_cache.server import CacheServer
        from hookline_edge.ports import EdgePorts
        from hookline_edge.server import EdgeServer
        from hookline_execution.domain.service import ExecutionService
        from hookline_execution.server import ExecutionServer
        from hookline_launcher import local_wiring as local
        from hookline_trigger.domain.credentials import CredentialManager
        from hookline_trigger.domain.workflows import WorkflowManager
        from hookline_trigger.server import TriggerServer

        executions: local.Later[ExecutionService] = local.Later()
        workflows: local.Later[WorkflowManager] = local.Later()
        credentials: local.Later[CredentialManager] = local.Later()
        cache = await self._exit.enter_async_context(
            CacheServer(settings, saved=local.LocalSavedRecords(executions))
        )
        delivery = cache.delivery
        assert delivery is not None  # set once the cache server has started
        execution = await self._exit.enter_async_context(
            ExecutionServer(
                settings,
                sink=local.LocalResultSink(delivery),
                results=local.LocalResultWatcher(delivery),
                workflows=local.LocalWorkflowLookup(workflows),
                credentials=local.LocalCredentialSource(credentials),
            )
        )
        executions.set(execution.service)
        trigger = await self._exit.enter_async_context(
            TriggerServer(settings, direct_starter=local.LocalExecutionStarter(execution.intake))
        )
        workflows.set(trigger.workflows)
        credentials.set(trigger.credentials)
        ports = EdgePorts(
            webhooks=local.LocalWebhookGateway(trigger.webhooks),
            results=local.LocalResultWaiter(delivery),
            workflows=local.LocalWorkflowAdmin(trigger.workflows, trigger.manual_runs),
            credentials=local.LocalCredentialAdmin(trigger.credentials),
            executions=local.LocalSavedExecutions(execution.service),
            cached_results=local.LocalCachedResults(delivery),
        )
        self.cache_address = cache.address
        self.execution_address = execution.address
        self.trigger_address = trigger.address
        return await self._exit.enter_async_context(EdgeServer(settings, ports=ports))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._exit.aclose()
