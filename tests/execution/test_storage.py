"""SqlExecutionStore over SQLite and PostgreSQL: save, replace, read, list with paging."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline_execution.domain.ports import SavedRow
from hookline_execution.storage import SqlExecutionStore
from hookline_runtime.database import create_engine, migrate
from hookline_runtime.errors import InvalidArgument


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def store(db: AsyncEngine) -> SqlExecutionStore:
    return SqlExecutionStore(db)


def _record(execution_id: str, workflow_id: str, status: str) -> bytes:
    return json.dumps({"id": execution_id, "workflowId": workflow_id, "status": status}).encode()


async def _insert(
    store: SqlExecutionStore, workflow_id: str, started_at: datetime, status: str = "success"
) -> str:
    execution_id = str(uuid.uuid4())
    await store.insert(
        execution_id=execution_id,
        workflow_id=workflow_id,
        mode="manual",
        status=status,
        started_at=started_at,
        finished_at=None,
        record_json=_record(execution_id, workflow_id, status),
    )
    return execution_id


async def test_a_saved_record_reads_back_as_the_same_bytes(store: SqlExecutionStore) -> None:
    workflow_id = str(uuid.uuid4())
    execution_id = await _insert(store, workflow_id, datetime.now(UTC), "running")
    got = await store.get(execution_id)
    assert got == _record(execution_id, workflow_id, "running")
    assert await store.get(str(uuid.uuid4())) is None


async def test_update_replaces_the_record_and_says_whether_there_was_one(
    store: SqlExecutionStore,
) -> None:
    workflow_id = str(uuid.uuid4())
    execution_id = await _insert(store, workflow_id, datetime.now(UTC), "running")
    final = '{"id":"x","status":"success","name":"h\u00e9llo"}'.encode()
    updated = await store.update(
        execution_id=execution_id,
        status="success",
        finished_at=datetime.now(UTC),
        record_json=final,
    )
    assert updated is True
    assert await store.get(execution_id) == final
    missing = await store.update(
        execution_id=str(uuid.uuid4()), status="success", finished_at=None, record_json=final
    )
    assert missing is False


async def test_list_pages_newest_first_with_an_opaque_cursor(store: SqlExecutionStore) -> None:
    workflow_id = str(uuid.uuid4())
    base = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [await _insert(store, workflow_id, base + timedelta(seconds=i)) for i in range(5)]
    # Two rows with the same start time are ordered by id, descending.
    tie = base + timedelta(seconds=10)
    tied = sorted([await _insert(store, workflow_id, tie), await _insert(store, workflow_id, tie)])
    expected = [tied[1], tied[0], *reversed(ids)]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await store.list(workflow_id=workflow_id, status=None, limit=3, cursor=cursor)
        pages += 1
        seen += [json.loads(r)["id"] for r in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    assert pages == 3


async def test_list_filters_by_workflow_and_status(store: SqlExecutionStore) -> None:
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    ok = await _insert(store, mine, now, "success")
    failed = await _insert(store, mine, now + timedelta(seconds=1), "error")
    await _insert(store, other, now, "error")

    errors = await store.list(workflow_id=mine, status="error", limit=10, cursor=None)
    assert [json.loads(r)["id"] for r in errors.records] == [failed]
    everything = await store.list(workflow_id=mine, status=None, limit=10, cursor=None)
    assert [json.loads(r)["id"] for r in everything.records] == [failed, ok]
    assert everything.next_cursor is None


@pytest.mark.parametrize("cursor", ["not-a-cursor", "bm9wZQ", "WzEsMl0"])
async def test_a_cursor_the_store_did_not_make_is_an_invalid_argument(
    store: SqlExecutionStore, cursor: str
) -> None:
    with pytest.raises(InvalidArgument):
        await store.list(workflow_id=None, status=None, limit=5, cursor=cursor)


async def test_save_inserts_new_rows_and_replaces_existing_ones_in_one_go(
    store: SqlExecutionStore,
) -> None:
    workflow_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    running = await _insert(store, workflow_id, now, "running")
    fresh = str(uuid.uuid4())
    await store.save(
        [
            SavedRow(
                running,
                workflow_id,
                "manual",
                "success",
                now,
                now,
                _record(running, workflow_id, "success"),
            ),
            SavedRow(
                fresh,
                workflow_id,
                "manual",
                "error",
                now,
                now,
                _record(fresh, workflow_id, "error"),
            ),
        ]
    )
    assert await store.get(running) == _record(running, workflow_id, "success")
    assert await store.get(fresh) == _record(fresh, workflow_id, "error")
    page = await store.list(workflow_id=workflow_id, status="running", limit=10, cursor=None)
    assert page.records == []
