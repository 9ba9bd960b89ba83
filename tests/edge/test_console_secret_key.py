"""``HOOKLINE_SECRET_KEY`` signs console sessions and CSRF tokens: edges built with the
same secret (or, without one, the same API key) accept each other's tokens and
cookies, so the console works behind a load balancer; other edges refuse them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hookline_edge.console.signing import ConsoleSigner
from hookline_edge.server import EdgeServer
from tests.edge.edge_fakes import FakeUpstreams

pytestmark = pytest.mark.asyncio(loop_scope="module")

API_KEY = "operator-key"
CSRF_COOKIE = "hookline_console_csrf"
SESSION_COOKIE = "hookline_console_key"


async def edges(
    stack: AsyncExitStack, fakes: FakeUpstreams, *secret_keys: str | None
) -> list[httpx.AsyncClient]:
    clients = []
    for secret_key in secret_keys:
        settings: dict[str, Any] = {"api_key": API_KEY, "secret_key": secret_key}
        server = await stack.enter_async_context(EdgeServer(fakes.edge_settings(**settings)))
        clients.append(
            await stack.enter_async_context(httpx.AsyncClient(base_url=server.url, timeout=15))
        )
    return clients


@pytest_asyncio.fixture(loop_scope="module")
async def exit_stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def login_form(client: httpx.AsyncClient) -> tuple[str, str]:
    """The CSRF cookie and form token one edge hands out with its login page."""
    page = await client.get("/console/login")
    token = re.search(r'name="_csrf_token" value="([0-9a-f]+)"', page.text)
    assert page.status_code == 200 and token
    return page.cookies[CSRF_COOKIE], token.group(1)


async def log_in(client: httpx.AsyncClient, csrf: tuple[str, str]) -> httpx.Response:
    cookie, token = csrf
    return await client.post(
        "/console/login",
        data={"api_key": API_KEY, "next": "/console", "_csrf_token": token},
        headers={"Cookie": f"{CSRF_COOKIE}={cookie}"},
    )


async def opens_console(client: httpx.AsyncClient, session: str) -> bool:
    page = await client.get(
        "/console/executions", headers={"Cookie": f"{SESSION_COOKIE}={session}"}
    )
    return not (page.status_code == 303 and "/console/login" in page.headers["location"])


@pytest.mark.parametrize("secret_key", ["shared-secret", None])
async def test_edges_sharing_the_secret_accept_each_others_csrf_tokens_and_sessions(
    fakes: FakeUpstreams, exit_stack: AsyncExitStack, secret_key: str | None
) -> None:
    """With no secret key, the secret derives from the API key, the same on both."""
    first, second = await edges(exit_stack, fakes, secret_key, secret_key)

    logged_in = await log_in(second, await login_form(first))  # token of one, post to other

    assert logged_in.status_code == 303, logged_in.text
    session = logged_in.cookies[SESSION_COOKIE]
    assert API_KEY not in session  # a signed session, not the key itself
    assert await opens_console(first, session)
    assert await opens_console(second, session)


async def test_an_edge_with_another_secret_refuses_them(
    fakes: FakeUpstreams, exit_stack: AsyncExitStack
) -> None:
    first, other = await edges(exit_stack, fakes, "shared-secret", "another-secret")
    csrf = await login_form(first)
    refused = await log_in(other, csrf)
    assert refused.status_code == 403
    session = (await log_in(first, csrf)).cookies[SESSION_COOKIE]
    assert await opens_console(first, session)
    assert not await opens_console(other, session)
    assert not await opens_console(first, "9999999999.forged")


async def test_sessions_expire_and_end_when_the_api_key_changes() -> None:
    signer = ConsoleSigner.from_settings("s", API_KEY)
    token = signer.session_token(API_KEY, now=1_000)
    assert signer.valid_session(token, API_KEY, now=1_001)
    assert not signer.valid_session(token, API_KEY, now=1_000 + 13 * 3600)
    assert not signer.valid_session(token, "rotated-key", now=1_001)
