"""Deleting old saved executions in small batches (``domain.pruning`` decides when).

Each call deletes at most ``limit`` finished rows in one short transaction: the ids
are picked first (oldest first, by the ``(started_at, id)`` index), then deleted.
A ``running`` row is never deleted: its run is still going on.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline_execution.storage.sql import executions
from hookline_runtime.errors import Unavailable

__all__ = ["SqlExecutionPruning"]

_c = executions.c
_FINISHED = _c.status != "running"


class SqlExecutionPruning:
    """``PrunableExecutions`` over the ``executions`` table; errors become ``Unavailable``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def delete_started_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` finished executions that started before ``cutoff``."""
        pick = (
            sa.select(_c.id)
            .where(_c.started_at < cutoff, _FINISHED)
            .order_by(_c.started_at, _c.id)
            .limit(limit)
        )
        return await self._delete(pick, "by age")

    async def delete_beyond_newest(self, keep: int, limit: int) -> int:
        """Delete up to ``limit`` finished executions older than the newest ``keep``."""
        older = (
            sa.select(_c.id, _c.status)
            .order_by(_c.started_at.desc(), _c.id.desc())
            .offset(keep)
            .subquery()
        )
        pick = sa.select(older.c.id).where(older.c.status != "running").limit(limit)
        return await self._delete(pick, "by count")

    async def _delete(self, pick: sa.Select[tuple[str]], why: str) -> int:
        try:
            async with self._engine.begin() as conn:
                ids = list((await conn.execute(pick)).scalars())
                if ids:
                    await conn.execute(sa.delete(executions).where(_c.id.in_(ids)))
        except (SQLAlchemyError, OSError) as exc:
            raise Unavailable(f"cannot prune executions {why}: {exc}") from exc
        return len(ids)
