"""A fresh PostgreSQL database for one benchmark run, created on entry and dropped
on exit (``hookline_bench_<random>``), through the server's ``test`` database."""

from __future__ import annotations

import secrets
from types import TracebackType

import psycopg
from psycopg import sql

from hookline_runtime.logs import get_logger

__all__ = ["BenchDatabase"]

log = get_logger(__name__)


class BenchDatabase:
    """``with BenchDatabase(host, port) as url:`` yields a SQLAlchemy URL for hookline."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5432, user: str = "postgres",
                 admin_database: str = "test") -> None:
        self._admin = f"host={host} port={port} user={user} dbname={admin_database}"
        self.name = f"hookline_bench_{secrets.token_hex(6)}"
        self.url = f"postgresql+asyncpg://{user}@{host}:{port}/{self.name}"

    def _execute(self, statement: sql.Composed) -> None:
        with psycopg.connect(self._admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def __enter__(self) -> str:
        self._execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        log.info("database created", database=self.name)
        return self.url

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
        )
        log.info("database dropped", database=self.name)
