"""The console needs nothing but the public HTTP API: mounted on a bare Litestar app
and pointed at another deployment's edge, it shows that deployment; pointed at
nothing, it says the API did not answer.

Sync tests (Litestar's TestClient runs the app in its own thread): Playwright's sync
API keeps an event loop running in this thread while the console's browser is open.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from hookline_edge.console import ConsolePlugin
from hookline_runtime.settings import Settings
from tests.console.support import BackgroundStack, greeter


def _console_app(api_url: str) -> Litestar:
    return Litestar(plugins=[ConsolePlugin(Settings(api_key=None), api_url=api_url)])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_console_on_another_app_shows_the_deployment_it_points_at(
    console_stack: BackgroundStack,
    create_workflow: Callable[[dict[str, Any]], dict[str, Any]],
    unique: Callable[[str], str],
) -> None:
    stored = create_workflow(greeter(unique))
    with TestClient(app=_console_app(console_stack.edge_url)) as client:
        listing = client.get("/console")
        page = client.get(f"/console/workflows/{stored['id']}")
    assert listing.status_code == 200
    assert stored["name"] in listing.text
    assert page.status_code == 200
    assert 'data-node="Reply"' in page.text


def test_an_unreachable_api_is_a_503_page_not_a_crash() -> None:
    with TestClient(app=_console_app(f"http://127.0.0.1:{_closed_port()}")) as client:
        response = client.get("/console")
    assert response.status_code == 503
    assert "text/html" in response.headers["content-type"]
    assert "The hookline API did not answer" in response.text
