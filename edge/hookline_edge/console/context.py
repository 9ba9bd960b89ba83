"""What every console handler gets by dependency injection: the ``ConsoleContext``
(the API key setting and the shared HTTP client) and a ``HookApi`` bound to this
request's operator key and to the edge's own address."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from litestar import Request
from litestar.di import NamedDependency

from hookline_edge.console.api import HookApi
from hookline_edge.console.signing import ConsoleSigner

__all__ = ["KEY_COOKIE", "ConsoleContext", "operator_key", "own_base_url", "provide_api"]

KEY_COOKIE = "hookline_console_key"
"""The HttpOnly, SameSite=Strict cookie holding the operator's signed session."""


@dataclass(slots=True)
class ConsoleContext:
    api_key: str | None
    """``HOOKLINE_API_KEY``: when set, the console asks for it."""
    signer: ConsoleSigner = field(default_factory=lambda: ConsoleSigner.from_settings(None, None))
    """Signs sessions and CSRF tokens (``HOOKLINE_SECRET_KEY`` or derived)."""
    api_url: str | None = None
    """The API to call; ``None`` means the edge serving the request (its bound socket)."""
    http: httpx.AsyncClient | None = field(default=None, repr=False)
    """Opened and closed by the app's lifespan."""


def own_base_url(request: Request[Any, Any, Any]) -> str:
    """The edge's own address, from the socket that accepted this request.

    The ``server`` of the ASGI scope is what uvicorn bound, so it is right even when
    the port was 0 and behind a proxy whose public name the edge cannot reach.
    """
    server = request.scope.get("server")
    if server and server[1] is not None:
        host, port = str(server[0]), int(server[1])
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"
    return str(request.base_url).rstrip("/")


def operator_key(request: Request[Any, Any, Any], api_key: str | None) -> str | None:
    """The key the console passes to the API for this operator: the configured one,
    when the request carries a session (the console's guard has checked it)."""
    return api_key if api_key and request.cookies.get(KEY_COOKIE) else None


def provide_api(
    console: NamedDependency[ConsoleContext], request: Request[Any, Any, Any]
) -> HookApi:
    if console.http is None:
        raise RuntimeError("the console's HTTP client is not open (app lifespan not started)")
    base = console.api_url or own_base_url(request)
    return HookApi(console.http, base, operator_key(request, console.api_key))
