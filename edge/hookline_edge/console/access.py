"""Who may use the console: a signed session cookie, and CSRF tokens on every form.

When ``HOOKLINE_API_KEY`` is set, every console page needs the key: the operator
types it once on the login page and gets a session: an HttpOnly, SameSite=Strict
cookie scoped to ``/console`` holding a signed token (expiry and a MAC bound to the
current API key, never the key itself); the console then calls the API with the
configured key. CSRF uses Litestar's middleware, mounted on the console's router only
(the JSON API under ``/api/v1`` keeps working without it): a token cookie plus a
hidden form field or the ``X-CSRFToken`` header that htmx sends.

Both are signed by ``ConsoleSigner``, whose secret is ``HOOKLINE_SECRET_KEY``, else
derived from the API key, else random per process: edges that share either accept
each other's sessions and CSRF tokens (behind a load balancer).
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Controller, Request, get, post
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import Guard

from hookline_edge.console.context import KEY_COOKIE, ConsoleContext
from hookline_edge.console.signing import SESSION_SECONDS, ConsoleSigner
from hookline_edge.console.urls import CONSOLE_PATH, LOGIN_PATH
from hookline_runtime.logs import get_logger

__all__ = [
    "LoginController",
    "LoginRequired",
    "console_csrf_config",
    "console_key_guard",
    "safe_next",
]

log = get_logger(__name__)

CSRF_COOKIE = "hookline_console_csrf"
PUBLIC = "console_public"
"""Route ``opt`` flag of the handlers reachable without the key (the login page)."""


class LoginRequired(Exception):
    """No valid key in the cookie; answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__("the console needs the API key")
        self.next_path = next_path


def _matches(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode(), expected.encode())


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a console path, never another site."""
    if value and value.startswith(CONSOLE_PATH) and value.isprintable():
        return value
    return CONSOLE_PATH


def console_key_guard(api_key: str | None, signer: ConsoleSigner) -> list[Guard]:
    """Guards that let a request in only with a valid session (none without a key)."""
    if not api_key:
        return []

    def require_console_key(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        if handler.opt.get(PUBLIC):
            return
        if not signer.valid_session(connection.cookies.get(KEY_COOKIE), api_key):
            query = connection.url.query
            raise LoginRequired(connection.url.path + (f"?{query}" if query else ""))

    return [require_console_key]


def console_csrf_config(signer: ConsoleSigner) -> CSRFConfig:
    """CSRF for the console's routes, signed by ``signer`` (the same on every edge that
    shares its secret)."""
    return CSRFConfig(
        secret=signer.csrf_secret,
        cookie_name=CSRF_COOKIE,
        cookie_path=CONSOLE_PATH,
        cookie_httponly=True,
        cookie_samesite="strict",
        header_name="x-csrftoken",
    )


def _key_cookie(request: Request[Any, Any, Any], value: str, max_age: int | None) -> Cookie:
    return Cookie(
        key=KEY_COOKIE,
        value=value,
        path=CONSOLE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=max_age,
    )


class LoginController(Controller):
    """``/console/login`` and ``/console/logout``."""

    path = "/"

    @get("/login", name="console:login", opt={PUBLIC: True})
    async def login_page(
        self, console: NamedDependency[ConsoleContext], next: FromQuery[str | None] = None
    ) -> Template | Redirect:
        if not console.api_key:
            return Redirect(CONSOLE_PATH)
        return Template("console/login.html", context={"next": safe_next(next), "error": None})

    @post("/login", name="console:login-submit", status_code=303, opt={PUBLIC: True})
    async def login(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleContext],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:
        api_key = console.api_key
        target = safe_next(data.get("next"))
        if not api_key:
            return Redirect(target, status_code=303)
        given = data.get("api_key", "")
        if not _matches(given, api_key):
            log.warning(
                "Console login refused", client=request.client.host if request.client else None
            )
            return Template(
                "console/login.html",
                context={"next": target, "error": "That key is not valid."},
                status_code=401,
            )
        redirect = Redirect(target, status_code=303)
        session = console.signer.session_token(api_key)
        redirect.cookies.append(_key_cookie(request, session, max_age=SESSION_SECONDS))
        return redirect

    @post("/logout", name="console:logout", status_code=303, opt={PUBLIC: True})
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        redirect = Redirect(LOGIN_PATH, status_code=303)
        redirect.cookies.append(_key_cookie(request, "", max_age=0))
        return redirect
