"""The storage adapters on their own: the unique index catching a racing writer, tick
claims and the last fired tick, on SQLite and PostgreSQL (and Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookline_runtime.database import create_engine, migrate
from hookline_runtime.ids import new_id
from hookline_runtime.workflow import parse_workflow
from hookline_trigger.domain.errors import WebhookRouteTaken
from hookline_trigger.domain.records import WorkflowRecord
from hookline_trigger.storage.redis_tick_ledger import RedisTickLedger
from hookline_trigger.storage.sql_tick_ledger import SqlTickLedger
from hookline_trigger.storage.sql_workflow_store import SqlWorkflowStore

from .builders import fresh, webhook_workflow


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


def _record(path: str, name: str) -> WorkflowRecord:
    now = datetime.now(UTC)
    workflow = parse_workflow(webhook_workflow(path, name=name))
    return WorkflowRecord.from_workflow(workflow, id=new_id(), created_at=now, updated_at=now)


class RacingStore(SqlWorkflowStore):
    """Its in-transaction check sees nothing, as when another writer commits between
    the check and the insert; only the unique index stands in the way."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.blind = True

    async def _route_owner(
        self, conn: AsyncConnection, record: WorkflowRecord
    ) -> WebhookRouteTaken | None:
        if self.blind:
            self.blind = False
            return None
        return await super()._route_owner(conn, record)


async def test_unique_index_turns_a_race_into_route_taken(engine: AsyncEngine) -> None:
    path = fresh("race")
    first = _record(path, fresh("first"))
    await SqlWorkflowStore(engine).insert(first)
    with pytest.raises(WebhookRouteTaken) as caught:
        await RacingStore(engine).insert(_record(path, fresh("second")))
    assert caught.value.owner_id == first.id
    assert first.name in caught.value.message


async def test_sql_ledger_lets_one_replica_claim_each_tick(engine: AsyncEngine) -> None:
    workflow_id = new_id()
    ledgers = [SqlTickLedger(engine, replica_id=f"replica-{i}") for i in range(3)]
    tick = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert await ledgers[0].last_fired(workflow_id) is None
    results = await asyncio.gather(*(ledger.claim(workflow_id, tick) for ledger in ledgers))
    assert sorted(results) == [False, False, True]
    assert await ledgers[1].last_fired(workflow_id) == tick
    later = tick + timedelta(hours=2)
    assert await ledgers[2].claim(workflow_id, later)
    assert await ledgers[0].last_fired(workflow_id) == later
    # The old tick was pruned: claiming it again is possible, and harmless (the
    # scheduler never goes back further than its misfire grace).
    assert await ledgers[0].claim(workflow_id, tick)


async def test_redis_ledger_lets_one_replica_claim_each_tick(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        workflow_id = new_id()
        ledgers = [RedisTickLedger(client, replica_id=f"replica-{i}") for i in range(3)]
        tick = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
        assert await ledgers[0].last_fired(workflow_id) is None
        results = await asyncio.gather(*(ledger.claim(workflow_id, tick) for ledger in ledgers))
        assert sorted(results) == [False, False, True]
        assert await ledgers[1].last_fired(workflow_id) == tick
        owner = await client.get(f"hookline:schedule:{workflow_id}:{int(tick.timestamp())}")
        assert owner == f"replica-{results.index(True)}".encode()
        await client.delete(
            f"hookline:schedule:{workflow_id}:{int(tick.timestamp())}",
            f"hookline:schedule:last:{workflow_id}",
        )
    finally:
        await client.aclose()
