"""Database engines and migrations.

``HOOKLINE_DATABASE_URL`` takes any SQLAlchemy URL. Plain ``sqlite://`` and
``postgresql://`` URLs get the async drivers (aiosqlite, asyncpg); a URL naming its
driver is used as given. Alembic migrations (``runtime/migrations``) are applied at
start-up by every service that uses the database; on PostgreSQL an advisory lock
makes concurrent replicas take turns.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hookline_runtime.logs import get_logger

__all__ = ["MIGRATIONS_DIR", "async_url", "create_engine", "migrate"]

log = get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_LOCK_KEY = 0x686F6F6B  # "hook"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """The URL with an async driver filled in when it names none."""
    parsed = make_url(url)
    if "+" not in parsed.drivername:
        driver = _ASYNC_DRIVERS.get(parsed.drivername)
        if driver is None:
            raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")
        parsed = parsed.set(drivername=driver)
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets WAL and a busy timeout."""
    full = async_url(url)
    if full.startswith("sqlite"):
        engine = create_async_engine(full, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(full, **kwargs)


def _upgrade(connection: Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
    try:
        command.upgrade(cfg, "head")
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration."""
    for attempt in range(3):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade)
            return
        except Exception as exc:  # SQLite 'database is locked' between replicas
            if attempt == 2 or "locked" not in str(exc):
                raise
            log.warning("database locked during migration, retrying", attempt=attempt + 1)
            await asyncio.sleep(0.2 * (attempt + 1))
