"""All four services in one process: what ``hookline dev`` runs and what the
whole-stack tests start (on port 0).

Wired ``in-process`` (the default), the webhook path never leaves the process: the
edge hands webhook calls to the trigger's domain and waits on the cache's, the
execution service hands records to the cache's domain, and the trigger's direct
hand-off (when there is no run queue) goes to the execution service's intake
(``hookline_launcher.local_wiring``). The management API (workflows, credentials, execution
records), ``executeWorkflow`` and credential look-ups still go over gRPC on loopback,
as do the ``grpc`` wiring's calls on the webhook path too: the way ``hookline serve``
wires separate processes, kept for the tests that compare the two.

The services are started in dependency order — cache, execution, trigger, edge — and
stopped in reverse. A listen address on port 0 is first given a free port, so that
every service knows every other's address before any starts (the cache service, for
one, reads saved records through the execution service during a Redis outage).
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Literal, Self

from hookline_runtime.settings import Settings

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
        # Imported here: the composition root is the only place that knows every service.
        from hookline_cache.server import CacheServer
        from hookline_edge.ports import EdgePorts
        from hookline_edge.server import EdgeServer
        from hookline_execution.server import ExecutionServer
        from hookline_launcher import local_wiring as local
        from hookline_trigger.server import TriggerServer

        in_process = self.wiring == "in-process"
        try:
            settings = _with_fixed_ports(self.settings)
            cache = await self._exit.enter_async_context(CacheServer(settings))
            self.cache_address = cache.address
            delivery = cache.delivery
            assert delivery is not None  # set once the cache server has started
            sink = local.LocalResultSink(delivery) if in_process else None
            execution = await self._exit.enter_async_context(ExecutionServer(settings, sink=sink))
            self.execution_address = execution.address
            starter = local.LocalExecutionStarter(execution.intake) if in_process else None
            trigger = await self._exit.enter_async_context(
                TriggerServer(settings, direct_starter=starter)
            )
            self.trigger_address = trigger.address
            ports = (
                EdgePorts(
                    webhooks=local.LocalWebhookGateway(trigger.webhooks),
                    results=local.LocalResultWaiter(delivery),
                )
                if in_process
                else None
            )
            edge = await self._exit.enter_async_context(EdgeServer(settings, ports=ports))
            self.edge_url = edge.url
            self.settings = settings
        except BaseException:
            await self._exit.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._exit.aclose()
