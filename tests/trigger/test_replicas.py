"""Several TriggerServers on one database (and Redis): a change made through one is
seen by the others — at once for new webhooks, through the Redis announcement for
deactivations — and a flood of unknown paths does not hammer the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_trigger import TriggerOptions, TriggerServer
from hookline_trigger.domain.paging import PageKey
from hookline_trigger.domain.records import WorkflowRecord
from hookline_trigger.domain.trigger_index import TriggerIndex

from .builders import call, fresh, webhook_workflow
from .conftest import StartTrigger, TriggerStub, create


async def test_webhook_created_through_one_replica_is_found_by_another_at_once(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    redis_url: str,
    fresh_sqlite: Callable[[str], str],
) -> None:
    shared: dict[str, Any] = {"database_url": fresh_sqlite("shared"), "redis_url": redis_url}
    a = connect(await start_trigger(**shared))
    server_b = await start_trigger(**shared)
    b = connect(server_b)

    stored = await create(a, webhook_workflow())
    path = stored["nodes"][0]["parameters"]["path"]
    found = await b.HandleWebhook(call(path))
    assert found.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    assert found.workflow_id == stored["id"]

    await a.PatchWorkflow(pb.PatchWorkflowRequest(id=stored["id"], patch_json=b'{"active":false}'))
    async with asyncio.timeout(5):
        await server_b.index.wait_until(lambda s: s.resolve("POST", path) is None)
    gone = await b.HandleWebhook(call(path))
    assert gone.rejection == pb.WEBHOOK_REJECTION_NOT_FOUND


async def test_without_redis_a_miss_rereads_the_database(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    fresh_sqlite: Callable[[str], str],
) -> None:
    shared: dict[str, Any] = {"database_url": fresh_sqlite("shared")}
    a = connect(await start_trigger(**shared))
    b = connect(await start_trigger(**shared))
    stored = await create(a, webhook_workflow())
    found = await b.HandleWebhook(call(stored["nodes"][0]["parameters"]["path"]))
    assert found.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    assert found.workflow_id == stored["id"]


class CountingStore:
    """A WorkflowStore whose active_triggers() counts its calls and can be held."""

    def __init__(self) -> None:
        self.reads = 0
        self.release = asyncio.Event()
        self.release.set()

    async def active_triggers(self) -> list[WorkflowRecord]:
        self.reads += 1
        await self.release.wait()
        return []

    async def insert(self, record: WorkflowRecord) -> None:
        raise NotImplementedError

    async def update(self, record: WorkflowRecord) -> None:
        raise NotImplementedError

    async def get(self, workflow_id: str) -> WorkflowRecord | None:
        raise NotImplementedError

    async def by_name(self, name: str) -> WorkflowRecord | None:
        raise NotImplementedError

    async def delete(self, workflow_id: str) -> bool:
        raise NotImplementedError

    async def page(self, after: PageKey | None, limit: int) -> list[WorkflowRecord]:
        raise NotImplementedError

    async def version(self) -> tuple[int, datetime | None]:
        return 0, None


async def test_a_flood_of_unknown_paths_reloads_the_index_once() -> None:
    store = CountingStore()
    index = TriggerIndex(store, miss_reload_seconds=60)
    store.release.clear()
    misses = [asyncio.create_task(index.reload_after_miss()) for _ in range(50)]
    await asyncio.sleep(0)
    store.release.set()
    await asyncio.gather(*misses)
    assert store.reads == 1
    for _ in range(50):
        await index.reload_after_miss()
    assert store.reads == 1


async def test_misses_reload_again_after_the_throttle_interval() -> None:
    store = CountingStore()
    index = TriggerIndex(store, miss_reload_seconds=0)
    await index.reload_after_miss()
    await index.reload_after_miss()
    assert store.reads == 2


async def test_periodic_refresh_picks_up_changes_made_elsewhere(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    fresh_sqlite: Callable[[str], str],
) -> None:
    shared: dict[str, Any] = {"database_url": fresh_sqlite("shared")}
    a = connect(await start_trigger(**shared))
    server_b = await start_trigger(**shared, options=TriggerOptions(refresh_seconds=0.2))
    stored = await create(a, webhook_workflow(name=fresh("refresh")))
    path = stored["nodes"][0]["parameters"]["path"]
    async with asyncio.timeout(5):
        await server_b.index.wait_until(lambda s: s.resolve("POST", path) is not None)
    await a.DeleteWorkflow(pb.DeleteWorkflowRequest(id=stored["id"]))
    async with asyncio.timeout(5):
        await server_b.index.wait_until(lambda s: s.resolve("POST", path) is None)
