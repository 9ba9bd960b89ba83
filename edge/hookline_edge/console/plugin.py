"""``ConsolePlugin``: mounts the web console on the edge app in one line.

    Litestar(..., plugins=[ConsolePlugin(settings)])

It adds the ``/console`` router (key guard, CSRF middleware, HTML error pages,
the ``api`` dependency), the static files under ``/console/static``, the
redirect from ``/`` to ``/console``, the Jinja2 template config, and a lifespan
that opens and closes the console's HTTP client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from litestar import Litestar, Router, get
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins import InitPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from hookline_edge.console.access import LoginController, console_csrf_config, console_key_guard
from hookline_edge.console.context import ConsoleContext, provide_api
from hookline_edge.console.credentials import CredentialPages
from hookline_edge.console.error_pages import console_exception_handlers
from hookline_edge.console.executions import ExecutionPages
from hookline_edge.console.signing import ConsoleSigner
from hookline_edge.console.templating import console_template_config
from hookline_edge.console.urls import CONSOLE_PATH, STATIC_PATH
from hookline_edge.console.workflows import WorkflowPages
from hookline_runtime.settings import Settings

__all__ = ["ConsolePlugin"]

STATIC_DIR = Path(__file__).parent / "static"
_MAX_CONNECTIONS = 50


@get("/", include_in_schema=False, name="console:root")
async def _root() -> Redirect:
    return Redirect(CONSOLE_PATH)


class ConsolePlugin(InitPlugin):
    """The web console of DESIGN.md's edge, built for ``settings``.

    ``api_url`` points the console at another deployment's edge; by default it calls
    the edge that serves it (the address its socket is bound to).
    """

    def __init__(self, settings: Settings, *, api_url: str | None = None) -> None:
        self.context = ConsoleContext(
            api_key=settings.api_key,
            api_url=api_url,
            signer=ConsoleSigner.from_settings(settings.secret_key, settings.api_key),
        )

    def router(self) -> Router:
        context = self.context
        return Router(
            path=CONSOLE_PATH,
            route_handlers=[WorkflowPages, ExecutionPages, CredentialPages, LoginController],
            guards=console_key_guard(context.api_key, context.signer),
            middleware=[
                DefineMiddleware(CSRFMiddleware, config=console_csrf_config(context.signer))
            ],
            exception_handlers=console_exception_handlers(),
            dependencies={
                "console": Provide(lambda: context, sync_to_thread=False),
                "api": Provide(provide_api, sync_to_thread=False),
            },
            include_in_schema=False,
        )

    @asynccontextmanager
    async def _lifespan(self, _: Litestar) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=_MAX_CONNECTIONS)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as http:
            self.context.http = http
            try:
                yield
            finally:
                self.context.http = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend(
            [
                self.router(),
                create_static_files_router(
                    path=STATIC_PATH,
                    directories=[STATIC_DIR],
                    include_in_schema=False,
                    name="console:static",
                    guards=console_key_guard(self.context.api_key, self.context.signer),
                    exception_handlers=console_exception_handlers(),
                ),
                _root,
            ]
        )
        if app_config.template_config is None:
            app_config.template_config = console_template_config(
                auth_enabled=bool(self.context.api_key)
            )
        app_config.lifespan.append(self._lifespan)
        return app_config
