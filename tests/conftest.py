"""Shared fixtures: real Redis and real databases on loopback, fresh for each run.

- ``redis_url``: HOOKLINE_TEST_REDIS_URL, default redis://127.0.0.1:6379/0. Tests use
  fresh ids and never flush, so runs can share a server.
- ``postgres_url``: a database made for this test session on the server of
  HOOKLINE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test, the
  database used to create it), dropped at the end.
- ``database_url``: parametrised over SQLite (a file per test) and PostgreSQL.
- ``make_settings``: Settings with every service on 127.0.0.1:0.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis

from hookline_runtime.logs import configure_logging
from hookline_runtime.settings import Settings
from tests.stack_settings import stack_settings

REDIS_URL = os.environ.get("HOOKLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get(
    "HOOKLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def pytest_configure(config: pytest.Config) -> None:
    configure_logging("info", "console")


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"hookline_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hookline.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hookline.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def make_settings(sqlite_url: str) -> Callable[..., Settings]:
    """Settings for in-process servers on free ports; keyword arguments override."""

    def factory(**overrides: Any) -> Settings:
        # httpRequest tests call servers on 127.0.0.1.
        values: dict[str, Any] = {"database_url": sqlite_url, "http_allow_private": True}
        return stack_settings(**{**values, **overrides})

    return factory


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Fresh names for paths and workflow names: ``unique("greet")``."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"
