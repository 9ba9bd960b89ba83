"""``create_app(settings)``: the Litestar app of the HTTP edge (DESIGN.md section 3).

Routes: ``/webhook/{path}`` (body limit ``settings.max_body_bytes``), ``/api/v1/...``
(guarded by ``X-API-Key`` when ``settings.api_key`` is set), ``/healthz``, ``/readyz``,
``/metrics`` and ``/schema/openapi.json`` (finished by ``hookline_edge.openapi``; ``OPTIONS``
answered by ``hookline_edge.allow``). ``/`` and ``/console`` are left for the web
console. The edge's ports (``hookline_edge.ports``) are the given ones (in-process
adapters, in one process) or gRPC adapters — streams on the webhook path
(``hookline_edge.clients.stream_ports``), unary calls for management
(``hookline_edge.clients.management``) — opened in the app's lifespan with the gRPC clients
and closed with them. Management handlers get their port by dependency injection
(``workflows``, ``credentials``, ``executions``, ``cached_results``), as they get the
app's ``metrics``; the webhook handler reads ``state.webhooks`` and ``state.results``;
the readiness probe alone uses the clients (``upstreams``: their health checks). With
tracing on, every request but probes and scrapes is a trace span (``hookline_edge.tracing``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from hookline_edge.allow import answer_options
from hookline_edge.auth import api_key_guard
from hookline_edge.clients.management import (
    GrpcCachedResults,
    GrpcCredentialAdmin,
    GrpcSavedExecutions,
    GrpcWorkflowAdmin,
)
from hookline_edge.clients.stream_ports import StreamResultWaiter, StreamWebhookGateway
from hookline_edge.clients.upstreams import Upstreams
from hookline_edge.console import ConsolePlugin
from hookline_edge.controllers import (
    CredentialController,
    ExecutionController,
    HealthController,
    MetricsController,
    WebhookController,
    WorkflowController,
)
from hookline_edge.exception_handlers import exception_handlers
from hookline_edge.metrics import EdgeMetrics
from hookline_edge.openapi import OpenAPIJson
from hookline_edge.ports import EdgePorts
from hookline_edge.tracing import tracing_plugins
from hookline_edge.wait_plans import WaitPlans
from hookline_runtime.logs import get_logger
from hookline_runtime.settings import Settings

__all__ = ["create_app"]

log = get_logger(__name__)

API_PREFIX = "/api/v1"


_PORTS = ("workflows", "credentials", "executions", "cached_results")
"""The ports handlers get by dependency injection, by their state and parameter name."""


def _from_state(name: str) -> Provide:
    def provide(state: State) -> Any:
        return state[name]

    return Provide(provide, sync_to_thread=False)


@asynccontextmanager
async def _upstreams_lifespan(app: Litestar) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    upstreams = Upstreams.open(settings)
    app.state.upstreams = upstreams
    given: EdgePorts | None = app.state.ports
    gateway: StreamWebhookGateway | None = None
    waiter: StreamResultWaiter | None = None
    if given is None:
        gateway = StreamWebhookGateway(upstreams.trigger)
        waiter = StreamResultWaiter(upstreams.cache)
        given = EdgePorts(
            webhooks=gateway,
            results=waiter,
            workflows=GrpcWorkflowAdmin(upstreams.trigger),
            credentials=GrpcCredentialAdmin(upstreams.trigger),
            executions=GrpcSavedExecutions(upstreams.execution),
            cached_results=GrpcCachedResults(upstreams.cache),
        )
    app.state.webhooks = given.webhooks
    app.state.results = given.results
    for name in _PORTS:
        app.state[name] = getattr(given, name)
    log.info(
        "Edge upstreams",
        trigger=settings.trigger_addr,
        execution=settings.execution_addr,
        cache=settings.cache_addr,
    )
    try:
        yield
    finally:
        if gateway is not None and waiter is not None:
            await gateway.close()
            await waiter.close()
        await upstreams.close()


def create_app(settings: Settings, ports: EdgePorts | None = None) -> Litestar:
    """The edge app for ``settings``; nothing connects until the app starts.
    ``ports``: the edge's ports (default: gRPC adapters to the services)."""
    webhooks = Router(
        path="/",
        route_handlers=[WebhookController],
        request_max_body_size=settings.max_body_bytes,
    )
    api = Router(
        path=API_PREFIX,
        route_handlers=[WorkflowController, ExecutionController, CredentialController],
        guards=api_key_guard(settings.api_key),
    )
    return Litestar(
        route_handlers=[webhooks, api, HealthController, MetricsController],
        plugins=[
            ConsolePlugin(settings),  # the web console under /console, and / → /console
            *tracing_plugins(),  # none while tracing is off
        ],
        dependencies={
            name: _from_state(name) for name in ("upstreams", "metrics", "wait_plans", *_PORTS)
        },
        exception_handlers=exception_handlers(),
        before_request=answer_options,
        lifespan=[_upstreams_lifespan],
        state=State(
            {
                "settings": settings,
                "ports": ports,
                "metrics": EdgeMetrics(),
                "wait_plans": WaitPlans(),
            }
        ),
        openapi_config=OpenAPIConfig(
            title="hookline",
            version="1.0.0",
            description="Webhooks, workflow management and execution records.",
            path="/schema",
            # The finished document (hookline_edge.openapi); the UI pages would need CDNs.
            render_plugins=[OpenAPIJson(api_key_required=bool(settings.api_key))],
            create_examples=False,
        ),
        logging_config=None,
    )
