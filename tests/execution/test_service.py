"""ExecutionService with in-memory stand-ins for the database and the cache service:
the failure paths that are awkward to produce with real backends."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx

from hookline_execution.domain import (
    Engine,
    ExecutionPage,
    ExecutionService,
    RunScheduler,
    StartRequest,
    TemplateRenderer,
)
from hookline_execution.domain.ports import SavedRow
from hookline_runtime.errors import Unavailable

from .workflows import node, workflow


class MemoryStore:
    """An ExecutionStore in a dict; the first ``fail_inserts`` writes (running rows and
    final batches alike) fail as on a database that is down."""

    def __init__(self, *, fail_inserts: int = 0) -> None:
        self.rows: dict[str, tuple[str, bytes]] = {}
        self.fail_inserts = fail_inserts
        self.batches: list[list[str]] = []
        self.running_rows: list[str] = []

    async def save(self, rows: list[SavedRow]) -> None:
        if self.fail_inserts:
            self.fail_inserts -= 1
            raise Unavailable("database is down")
        self.batches.append([row.execution_id for row in rows])
        for row in rows:
            self.rows[row.execution_id] = (row.status, row.record_json)

    async def insert(
        self,
        *,
        execution_id: str,
        workflow_id: str,
        mode: str,
        status: str,
        started_at: datetime,
        finished_at: datetime | None,
        record_json: bytes,
    ) -> None:
        if self.fail_inserts:
            self.fail_inserts -= 1
            raise Unavailable("database is down")
        self.running_rows.append(execution_id)
        self.rows[execution_id] = (status, record_json)

    async def update(
        self, *, execution_id: str, status: str, finished_at: datetime | None, record_json: bytes
    ) -> bool:
        if execution_id not in self.rows:
            return False
        self.rows[execution_id] = (status, record_json)
        return True

    async def get(self, execution_id: str) -> bytes | None:
        row = self.rows.get(execution_id)
        return row[1] if row else None

    async def list(
        self, *, workflow_id: str | None, status: str | None, limit: int, cursor: str | None
    ) -> ExecutionPage:
        return ExecutionPage([], None)


class MemorySink:
    def __init__(self) -> None:
        self.results: dict[str, bytes] = {}
        self.arrived = asyncio.Event()

    async def store_result(
        self, execution_id: str, record_json: bytes, ttl_seconds: int, keep_seconds: int = 0
    ) -> None:
        self.results[execution_id] = record_json
        self.arrived.set()

    async def store_response(
        self, execution_id: str, response_json: bytes, ttl_seconds: int
    ) -> None:
        pass


def _service(
    http: httpx.AsyncClient,
    store: MemoryStore,
    sink: MemorySink,
    *,
    slots: int = 10,
    running_row_after: float = 1.0,
) -> ExecutionService:
    return ExecutionService(
        engine=Engine(TemplateRenderer(), http),
        store=store,
        sink=sink,
        scheduler=RunScheduler(slots),
        max_result_bytes=1024 * 1024,
        running_row_after=running_row_after,
    )


async def test_a_saved_run_that_ends_quickly_writes_one_row_once(
    http_client: httpx.AsyncClient,
) -> None:
    store, sink = MemoryStore(), MemorySink()
    service = _service(http_client, store, sink)
    service.start(StartRequest("quick", workflow([node("Shape", "set", values={})]), {}))
    await service.shutdown(grace=5)
    assert store.running_rows == []
    assert store.batches == [["quick"]]
    assert store.rows["quick"][0] == "success"


async def test_final_rows_of_concurrent_runs_share_transactions(
    http_client: httpx.AsyncClient,
) -> None:
    store, sink = MemoryStore(), MemorySink()
    service = _service(http_client, store, sink, slots=100)
    ids = [f"run-{n}" for n in range(60)]
    for execution_id in ids:
        service.start(StartRequest(execution_id, workflow([node("Shape", "set", values={})]), {}))
    await service.shutdown(grace=10)
    assert sorted(e for batch in store.batches for e in batch) == sorted(ids)
    assert len(store.batches) < len(ids) / 4  # batched, not one write per run
    assert all(store.rows[e][0] == "success" for e in ids)


async def test_a_long_saved_run_shows_as_running_until_it_ends(
    http_client: httpx.AsyncClient,
) -> None:
    store, sink = MemoryStore(), MemorySink()
    service = _service(http_client, store, sink, running_row_after=0.05)
    service.start(StartRequest("long", workflow([node("Pause", "wait", seconds=0.5)]), {}))
    async with asyncio.timeout(5):
        while "long" not in store.rows:
            await asyncio.sleep(0.01)
    assert store.rows["long"][0] == "running"
    await service.shutdown(grace=5)
    assert store.running_rows == ["long"]
    assert store.rows["long"][0] == "success"


async def test_a_failed_running_row_is_made_up_for_by_the_final_save(
    http_client: httpx.AsyncClient,
) -> None:
    store, sink = MemoryStore(fail_inserts=1), MemorySink()
    service = _service(http_client, store, sink)
    service.start(StartRequest("e1", workflow([node("Shape", "set", values={})]), {}))
    await service.shutdown(grace=5)
    status, saved = store.rows["e1"]
    assert status == "success"
    assert saved == sink.results["e1"]


async def test_a_run_cancelled_while_queued_still_ends_with_an_error_record(
    http_client: httpx.AsyncClient,
) -> None:
    store, sink = MemoryStore(), MemorySink()
    service = _service(http_client, store, sink, slots=1)
    service.start(StartRequest("long", workflow([node("Pause", "wait", seconds=30)]), {}))
    service.start(StartRequest("queued", workflow([node("Pause", "wait", seconds=30)]), {}))
    await service.shutdown(grace=0)
    for execution_id in ("long", "queued"):
        record = json.loads(sink.results[execution_id])
        assert record["status"] == "error"
        assert record["error"]["message"] == "execution service shut down"
        assert store.rows[execution_id][0] == "error"
    assert json.loads(sink.results["queued"])["nodes"] == {}


async def test_an_output_json_cannot_encode_becomes_a_small_error_record(
    http_client: httpx.AsyncClient,
) -> None:
    store, sink = MemoryStore(), MemorySink()
    service = _service(http_client, store, sink)
    deep: Any = {}
    for _ in range(5000):  # deeper than the JSON encoder's recursion allows
        deep = {"d": deep}
    service.start(StartRequest("deep", workflow([node("Shape", "set", values={})]), deep))
    await service.shutdown(grace=5)
    record = json.loads(sink.results["deep"])
    assert record["status"] == "error"
    assert "cannot be encoded" in record["error"]["message"]
    assert record["nodes"]["Shape"]["status"] == "success"
