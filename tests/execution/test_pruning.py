"""Execution history pruning on SQLite and PostgreSQL: by age and by count, in small
batches, never a running execution, one replica at a time (SQL and Redis leases),
and in the background of a running execution service, counted in its metrics."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline_execution.domain.pruning import HistoryPruner, Lease
from hookline_execution.server import ExecutionServer
from hookline_execution.storage.sql import executions
from hookline_execution.storage.sql_pruning import SqlExecutionPruning
from hookline_runtime.database import create_engine, migrate
from hookline_runtime.leases import RedisLease, SqlLease
from hookline_runtime.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL

NOW = datetime.now(UTC)


@pytest.fixture
async def private_database(database_url: str) -> AsyncIterator[str]:
    """``database_url``, but on PostgreSQL a database of this test's own: counting
    pruning deletes whatever is oldest in the table."""
    if not database_url.startswith("postgresql"):
        yield database_url
        return
    name = f"hookline_prune_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db(private_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(private_database)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


async def insert(db: AsyncEngine, *, hours_ago: float, status: str = "success") -> str:
    execution_id = str(uuid.uuid4())
    started = NOW - timedelta(hours=hours_ago)
    async with db.begin() as conn:
        await conn.execute(
            executions.insert().values(
                id=execution_id, workflow_id="wf", mode="webhook", status=status,
                started_at=started, finished_at=None if status == "running" else started,
                record="{}",
            )
        )  # fmt: skip
    return execution_id


async def remaining(db: AsyncEngine) -> set[str]:
    async with db.connect() as conn:
        return set((await conn.execute(sa.select(executions.c.id))).scalars())


class CountingPruning(SqlExecutionPruning):
    """Counts the batches; ``hold`` (when cleared) stops each batch until set."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.batches: list[int] = []
        self.inside = asyncio.Event()
        self.hold = asyncio.Event()
        self.hold.set()

    async def delete_started_before(self, cutoff: datetime, limit: int) -> int:
        self.inside.set()
        await self.hold.wait()
        deleted = await super().delete_started_before(cutoff, limit)
        self.batches.append(deleted)
        return deleted


def sql_lease(db: AsyncEngine, holder: str) -> Lease:
    return SqlLease(db, "prune-test", holder, ttl_seconds=60)


async def test_age_limit_deletes_old_finished_executions_in_batches(db: AsyncEngine) -> None:
    old = [await insert(db, hours_ago=48) for _ in range(7)]
    still_running = await insert(db, hours_ago=48, status="running")
    recent = [await insert(db, hours_ago=1) for _ in range(2)]
    store = CountingPruning(db)
    counted: list[tuple[str, int]] = []
    pruner = HistoryPruner(
        store, sql_lease(db, "a"), max_age_hours=24, max_count=None, batch_size=3,
        on_pruned=lambda reason, rows: counted.append((reason, rows)),
    )  # fmt: skip

    assert await pruner.prune_once() == {"age": 7, "count": 0}

    assert store.batches == [3, 3, 1]  # one short transaction each
    assert counted == [("age", 3), ("age", 3), ("age", 1)]
    assert await remaining(db) == {still_running, *recent}
    assert not set(old) & await remaining(db)


async def test_count_limit_keeps_the_newest_and_every_running_execution(
    db: AsyncEngine,
) -> None:
    running = await insert(db, hours_ago=100, status="running")
    ordered = [await insert(db, hours_ago=hours) for hours in (50, 40, 30, 20, 10)]
    pruner = HistoryPruner(
        SqlExecutionPruning(db), sql_lease(db, "a"), max_age_hours=None, max_count=2,
        batch_size=2,
    )  # fmt: skip

    assert await pruner.prune_once() == {"age": 0, "count": 3}

    assert await remaining(db) == {running, *ordered[-2:]}


@pytest.fixture(params=["sql", "redis"])
async def make_lease(
    request: pytest.FixtureRequest, db: AsyncEngine, redis_url: str
) -> AsyncIterator[Callable[[str], Lease]]:
    """Leases of one name for different holders, in the database or in Redis."""
    if request.param == "sql":
        yield lambda holder: sql_lease(db, holder)
        return
    client = aioredis.Redis.from_url(redis_url)
    key = f"hookline:lease:prune-test:{uuid.uuid4().hex}"
    try:
        yield lambda holder: RedisLease(client, key, holder, ttl_seconds=60)
    finally:
        await client.delete(key)
        await client.aclose()


async def test_two_pruners_racing_take_turns(
    db: AsyncEngine, make_lease: Callable[[str], Lease]
) -> None:
    for _ in range(4):
        await insert(db, hours_ago=48)
    first_store = CountingPruning(db)
    first_store.hold.clear()
    first = HistoryPruner(
        first_store, make_lease("replica-1"), max_age_hours=24, max_count=None, batch_size=2
    )
    second_store = CountingPruning(db)
    second = HistoryPruner(
        second_store, make_lease("replica-2"), max_age_hours=24, max_count=None, batch_size=2
    )

    running = asyncio.create_task(first.prune_once())
    async with asyncio.timeout(5):
        await first_store.inside.wait()  # the first holds the lease, mid-batch
    assert await second.prune_once() is None  # so the second skips this round
    assert second_store.batches == []

    first_store.hold.set()
    assert await running == {"age": 4, "count": 0}
    assert await second.prune_once() == {"age": 0, "count": 0}  # its turn now


async def test_the_execution_service_prunes_in_the_background_and_counts_it(
    make_settings: Callable[..., Settings], sqlite_url: str
) -> None:
    engine = create_engine(sqlite_url)
    try:
        await migrate(engine)
        for hours in (30, 20, 10, 5, 1):
            await insert(engine, hours_ago=hours)
        settings = make_settings(executions_max_age_hours=12, executions_max_count=2)
        async with ExecutionServer(settings) as server:
            registry = server.metrics.registry

            def pruned(reason: str) -> float:
                value = registry.get_sample_value(
                    "hookline_executions_pruned_total", {"reason": reason}
                )
                return value or 0.0

            async with asyncio.timeout(10):
                while pruned("age") + pruned("count") < 3:
                    await asyncio.sleep(0.02)
        assert (pruned("age"), pruned("count")) == (2.0, 1.0)
        assert len(await remaining(engine)) == 2
    finally:
        await engine.dispose()
