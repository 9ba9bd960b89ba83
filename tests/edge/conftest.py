"""Fixtures for the edge tests: fake upstream services on real gRPC servers, and the
edge served by ``EdgeServer`` (uvicorn in the test's event loop) on 127.0.0.1:0.

(Litestar's AsyncTestClient runs the app in a portal thread while blocking the test's
loop, so it cannot reach gRPC servers living in that loop; a real server can.)

To stay fast, a test module shares one set of fakes and one edge (module-scoped, in
the module's event loop: modules using them set
``pytestmark = pytest.mark.asyncio(loop_scope="module")``); ``fakes`` resets them
before each test. A test that stops or reconfigures a server uses ``own_fakes``.

The ``test_stack_*`` modules run the edge in front of the real services instead:
``stack`` is one ``LocalStack`` per module (``edge_stack_settings``: SQLite, the
shared Redis, a run stream of its own) and ``http`` a client of its edge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hookline_edge.server import EdgeServer
from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings
from tests.edge.edge_fakes import FakeUpstreams
from tests.stack_settings import stack_settings

MakeClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@asynccontextmanager
async def edge_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        EdgeServer(settings) as edge,
        httpx.AsyncClient(base_url=edge.url, timeout=15) as http,
    ):
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_fakes() -> AsyncIterator[FakeUpstreams]:
    async with FakeUpstreams() as upstreams:
        yield upstreams


@pytest.fixture
def fakes(shared_fakes: FakeUpstreams) -> FakeUpstreams:
    """The module's fakes, reset to their defaults."""
    shared_fakes.reset()
    return shared_fakes


@pytest_asyncio.fixture(loop_scope="module")
async def own_fakes() -> AsyncIterator[FakeUpstreams]:
    """Fakes of this test alone (free to stop or reconfigure)."""
    async with FakeUpstreams() as upstreams:
        yield upstreams


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(shared_fakes: FakeUpstreams) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the module's edge, in front of the module's fakes."""
    async with edge_client(shared_fakes.edge_settings()) as http:
        yield http


@pytest.fixture
def make_client(shared_fakes: FakeUpstreams) -> MakeClient:
    """``async with make_client(api_key="k") as client:`` a new edge with those settings,
    in front of the module's fakes (or ``upstreams=...``)."""

    def factory(upstreams: FakeUpstreams | None = None, **overrides: Any) -> Any:
        return edge_client((upstreams or shared_fakes).edge_settings(**overrides))

    return factory


def edge_stack_settings(tmp_path: Path, redis_url: str, **overrides: Any) -> Settings:
    """A whole stack on SQLite under ``tmp_path`` and ``redis_url``, with a small body
    limit the bad-input tests reach."""
    database_url = f"sqlite:///{tmp_path / 'hookline.db'}"
    limits: dict[str, Any] = {"redis_url": redis_url, "max_body_bytes": 64 * 1024}
    return stack_settings(database_url, **{**limits, **overrides})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[LocalStack]:
    """One stack for the module; tests keep apart by fresh webhook paths and names."""
    folder = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
    async with LocalStack(edge_stack_settings(folder, redis_url)) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(stack: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as client:
        yield client
