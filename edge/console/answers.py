"""How a console handler answers a change: htmx requests follow ``HX-Redirect``
(a 200 with the header, which htmx acts on), plain form posts a 303 redirect."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.response import Redirect

__all__ = ["go_to", "is_htmx"]


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("HX-Request") == "true"


def go_to(request: Request[Any, Any, Any], url: str) -> Response[Any]:
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)
