"""The edge's part of tracing (``hookline_runtime.tracing``): with tracing on, one ``SERVER``
span per HTTP request, continuing the caller's ``traceparent``/``tracestate``.

Litestar's OpenTelemetry plugin (the ASGI instrumentation) makes the span around the
whole app, before routing; a small middleware, which runs once the request is routed,
then names it after the route's template (``POST /webhook/{webhook_path}``) and sets
``http.route``, so that span names stay few. Probes and scrapes (``/healthz``,
``/readyz``, ``/metrics``) get no span. While tracing is off there is no plugin and
no middleware at all.
"""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.plugins import InitPlugin
from litestar.types import ASGIApp, Receive, Scope, Send
from opentelemetry import trace

from hookline_runtime.tracing import enabled

__all__ = ["tracing_plugins"]

_UNTRACED_PATHS = ["^/healthz", "^/readyz", "^/metrics"]


def _route_named(app: ASGIApp) -> ASGIApp:
    """Middleware: the request's span is named after its route's template."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        template = scope.get("path_template")
        if scope["type"] == ScopeType.HTTP and template:
            span = trace.get_current_span()
            span.update_name(f"{scope['method']} {template}")
            span.set_attribute("http.route", template)
        await app(scope, receive, send)

    return middleware


class _RouteNamedSpans(InitPlugin):
    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.middleware.append(_route_named)
        return app_config


def tracing_plugins() -> list[InitPlugin]:
    """The plugins that trace requests; none while tracing is off."""
    if not enabled():
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    config = OpenTelemetryConfig(
        exclude=_UNTRACED_PATHS,
        exclude_spans=["receive", "send"],  # one span per request, not one per message
    )
    return [OpenTelemetryPlugin(config), _RouteNamedSpans()]
