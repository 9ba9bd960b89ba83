"""``TickLedger`` on the ``schedule_ticks`` table, for deployments without Redis.

A claim is an INSERT of (workflow_id, tick_at): the primary key lets exactly one
replica in; the others get an IntegrityError. The latest row per workflow is its last
fired tick. Rows older than ``keep`` are pruned by the winner as it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline_runtime.clock import utcnow
from hookline_trigger.storage.db_errors import as_utc, database_errors
from hookline_trigger.storage.tables import schedule_ticks

__all__ = ["SqlTickLedger"]


class SqlTickLedger:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        replica_id: str,
        keep: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._replica_id = replica_id[:64]
        self._keep = keep
        self._clock = clock

    async def claim(self, workflow_id: str, tick: datetime) -> bool:
        row = {
            "workflow_id": workflow_id,
            "tick_at": tick,
            "claimed_at": self._clock(),
            "claimed_by": self._replica_id,
        }
        with database_errors("claim schedule tick"):
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(schedule_ticks.insert().values(row))
            except IntegrityError:
                return False
            async with self._engine.begin() as conn:
                await conn.execute(
                    schedule_ticks.delete().where(
                        schedule_ticks.c.workflow_id == workflow_id,
                        schedule_ticks.c.tick_at < tick - self._keep,
                    )
                )
        return True

    async def last_fired(self, workflow_id: str) -> datetime | None:
        query = sa.select(sa.func.max(schedule_ticks.c.tick_at)).where(
            schedule_ticks.c.workflow_id == workflow_id
        )
        with database_errors("read last schedule tick"):
            async with self._engine.connect() as conn:
                last = (await conn.execute(query)).scalar()
        return as_utc(last) if last is not None else None
