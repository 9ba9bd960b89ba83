"""Fixtures for the edge tests: fake upstream services on real gRPC servers, and the
edge served by ``EdgeServer`` (uvicorn in the test's event loop) on 127.0.0.1:0.

(Litestar's AsyncTestClient runs the app in a portal thread while blocking the test's
loop, so it cannot reach gRPC servers living in that loop; a real server can.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from edge_fakes import FakeUpstreams

from edge.server import EdgeServer
from runtime.settings import Settings


@pytest.fixture
async def fakes() -> AsyncIterator[FakeUpstreams]:
    async with FakeUpstreams() as upstreams:
        yield upstreams


@pytest.fixture
def edge_settings(
    make_settings: Callable[..., Settings], fakes: FakeUpstreams
) -> Callable[..., Settings]:
    """Settings pointing the edge at the fakes; keyword arguments override."""

    def factory(**overrides: Any) -> Settings:
        return make_settings(**{**fakes.settings_overrides(), **overrides})

    return factory


@pytest.fixture
def make_client(
    edge_settings: Callable[..., Settings],
) -> Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]:
    """``async with make_client(api_key="k") as client:`` an HTTP client of an edge
    running on the fakes with those settings."""

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with (
            EdgeServer(edge_settings(**overrides)) as edge,
            httpx.AsyncClient(base_url=edge.url, timeout=15) as http,
        ):
            yield http

    return factory


@pytest.fixture
async def client(
    make_client: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]],
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http:
        yield http
