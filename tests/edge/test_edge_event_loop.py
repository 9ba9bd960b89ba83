"""Nothing the edge runs per request leaves the event loop: Litestar runs a plain
(non-async) hook, dependency or handler in its thread pool unless told otherwise —
a thread hop per request, which profiles showed as the edge's largest cost."""

from __future__ import annotations

import inspect

from litestar.routes import HTTPRoute

from hookline_edge.app import create_app
from hookline_runtime.settings import Settings


def test_every_route_hook_and_handler_runs_on_the_event_loop() -> None:
    app = create_app(Settings())
    threaded: list[str] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            hook = handler.resolve_before_request()
            if hook is not None and not inspect.iscoroutinefunction(hook):
                threaded.append(f"{route.path}: before_request {hook!r}")
            if handler.has_sync_callable and handler.sync_to_thread:
                threaded.append(f"{route.path}: handler {handler.handler_name}")
            for name, provider in handler.resolve_dependencies().items():
                if provider.has_sync_callable and provider.sync_to_thread:
                    threaded.append(f"{route.path}: dependency {name}")
    assert threaded == []
