"""How a console handler answers a change: htmx requests follow ``HX-Redirect``
(a 200 with the header, which htmx acts on), plain form posts a 303 redirect. A change
the API refused is shown again beside its form, 409 for a conflict and 422 otherwise."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from litestar import Request, Response
from litestar.response import Redirect

from hookline_edge.console.api import ApiError

__all__ = ["go_to", "is_htmx", "refusal_status", "reraise_unless_shown"]


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("HX-Request") == "true"


def go_to(request: Request[Any, Any, Any], url: str) -> Response[Any]:
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


def reraise_unless_shown(exc: ApiError, shown: Collection[int]) -> None:
    """Raise ``exc`` again unless its status is one of ``shown`` (answered beside the
    form); the others go to the error pages."""
    if exc.status not in shown:
        raise exc


def refusal_status(exc: ApiError, shown: Collection[int]) -> int:
    """The status to show a refused form again with: 409 for a conflict, else 422
    (``exc`` is raised again unless its status is one of ``shown``)."""
    reraise_unless_shown(exc, shown)
    return 409 if exc.status == 409 else 422
