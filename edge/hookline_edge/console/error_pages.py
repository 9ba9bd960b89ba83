"""How the console answers when something goes wrong: HTML pages, not the API's JSON.

These handlers are registered on the console's router, so they take precedence over
the edge's JSON handlers for console routes only: no key → the login page; the API
said no (or did not answer) → an error page with its message; a form without a
valid CSRF token → 403 with a hint to reload.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.response import Template
from litestar.types import ExceptionHandlersMap

from hookline_edge.console.access import LoginRequired
from hookline_edge.console.answers import go_to
from hookline_edge.console.api import ApiError
from hookline_edge.console.urls import CONSOLE_PATH, LOGIN_PATH
from hookline_runtime.logs import get_logger

__all__ = ["console_exception_handlers"]

log = get_logger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Not authorised",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    422: "Not valid",
    503: "Service unavailable",
    504: "Timed out",
}


def _page(status: int, message: str, detail: str | None = None) -> Template:
    return Template(
        "console/error.html",
        context={
            "title": _TITLES.get(status, "Something went wrong"),
            "message": message,
            "detail": detail,
            "back_url": CONSOLE_PATH,
            "back_label": "Back to workflows",
            "section": "",
        },
        status_code=status,
    )


def _login_required(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    return go_to(request, f"{LOGIN_PATH}?{urlencode({'next': exc.next_path})}")


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    if exc.status == 401:
        # The key in the cookie no longer opens the API (rotated): ask for it again.
        return go_to(request, f"{LOGIN_PATH}?{urlencode({'next': request.url.path})}")
    if exc.status >= 500:
        log.warning(
            "Console could not reach the API",
            path=request.url.path,
            status=exc.status,
            error=exc.error,
            message=exc.message,
        )
        return _page(
            exc.status,
            "The hookline API did not answer this request.",
            "Try again in a moment; the edge's /readyz says which upstream is down.",
        )
    return _page(exc.status, exc.message)


def _forbidden(_: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    return _page(
        403,
        "This form could not be verified (CSRF check failed).",
        "It may have been open too long, or it did not come from this console. "
        "Reload the page and try again.",
    )


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    return _page(status, str(exc.detail) if status < 500 else "The console failed to answer.")


def console_exception_handlers() -> ExceptionHandlersMap:
    return {
        LoginRequired: _login_required,
        ApiError: _api_error,
        PermissionDeniedException: _forbidden,
        HTTPException: _http_error,
    }
