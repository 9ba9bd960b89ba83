"""``OPTIONS`` answers whose ``Allow`` header lists every method of the path.

Litestar 2 answers ``OPTIONS`` itself, but when handlers of one path are registered
in several steps (a controller inside a router inside the app) its answer keeps the
methods of the first step only: ``OPTIONS /api/v1/workflows`` said ``OPTIONS, POST``
and left out ``GET`` (litestar-org/litestar#4169, fixed in Litestar 3). The routes
themselves know all their methods; ``answer_options`` (an app-level
``before_request`` hook) answers from them.

The hook runs before every request, so it is a coroutine function: Litestar runs a
plain function hook in its thread pool, a thread hop per request for a test of the
method.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT

__all__ = ["answer_options"]


async def answer_options(request: Request[Any, Any, Any]) -> Response[None] | None:
    """``204`` with the full ``Allow`` for an ``OPTIONS`` request; None otherwise."""
    if request.method != "OPTIONS":
        return None
    template = request.scope.get("path_template")
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            methods.update(route.methods)
    if not methods:
        return None  # not a route of this app: leave it to Litestar
    methods.add("OPTIONS")
    return Response(
        content=None,
        status_code=HTTP_204_NO_CONTENT,
        headers={"Allow": ", ".join(sorted(methods))},
    )
