"""Replicas hear their own deployment only, and learn of changes without Redis too:
the change feed's channel carries the deployment id kept in the database, and the
trigger index notices another replica's deactivation within seconds by its cheap
version check (no 30 s wait for the full refresh)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_runtime.database import create_engine, migrate
from hookline_runtime.deployment import deployment_id
from hookline_trigger import TriggerServer
from hookline_trigger.storage.redis_change_feed import RedisChangeFeed

from .builders import call, fresh, webhook_workflow
from .conftest import StartTrigger, TriggerStub, create


async def test_the_deployment_id_is_made_once_per_database(tmp_path: Path) -> None:
    ids = []
    for name in ("a", "a", "b"):
        engine = create_engine(f"sqlite:///{tmp_path / name}.db")
        try:
            await migrate(engine)
            ids.append(await deployment_id(engine))
        finally:
            await engine.dispose()
    assert ids[0] == ids[1] != ids[2]


async def test_trigger_replicas_share_a_channel_only_within_their_deployment(
    start_trigger: StartTrigger, redis_url: str, tmp_path: Path
) -> None:
    a = await start_trigger(database_url=f"sqlite:///{tmp_path}/a.db", redis_url=redis_url)
    a2 = await start_trigger(database_url=f"sqlite:///{tmp_path}/a.db", redis_url=redis_url)
    b = await start_trigger(database_url=f"sqlite:///{tmp_path}/b.db", redis_url=redis_url)
    assert a.change_feed is not None and a2.change_feed is not None
    assert b.change_feed is not None
    assert a.change_feed.channel == a2.change_feed.channel != b.change_feed.channel


@pytest.fixture
async def listening(redis_url: str) -> AsyncIterator[Callable[[str], Any]]:
    """``await listening(deployment)``: a subscribed feed and the list its
    announcements land in (one entry per call of ``on_change``)."""
    async with AsyncExitStack() as stack:
        client = aioredis.Redis.from_url(redis_url)
        stack.push_async_callback(client.aclose)
        tasks: list[asyncio.Task[None]] = []

        async def start(deployment: str) -> tuple[RedisChangeFeed, list[int]]:
            feed = RedisChangeFeed(client, deployment)
            heard: list[int] = []
            tasks.append(asyncio.create_task(feed.listen(lambda: heard.append(1))))
            async with asyncio.timeout(5):
                await feed.subscribed.wait()
            heard.clear()  # the call made once on subscribing
            return feed, heard

        try:
            yield start
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_announcements_reach_only_the_same_deployment(
    listening: Callable[[str], Any],
) -> None:
    mine, other = fresh("deployment"), fresh("deployment")
    publisher, _ = await listening(mine)
    _, same = await listening(mine)
    other_feed, elsewhere = await listening(other)

    await publisher.publish("wf-1")
    await other_feed.publish("barrier")  # published after: heard after wf-1 if it came
    await until(lambda: len(same) == 1 and len(elsewhere) >= 1)

    assert len(elsewhere) == 1  # the barrier only


async def test_without_redis_a_deactivation_is_seen_by_another_replica_within_seconds(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    database_url: str,
) -> None:
    a = connect(await start_trigger(database_url=database_url))
    server_b = await start_trigger(database_url=database_url)  # refreshes fully every 30 s
    stored = await create(a, webhook_workflow(name=fresh("deactivate")))
    path = stored["nodes"][0]["parameters"]["path"]
    b = connect(server_b)
    assert (await b.HandleWebhook(call(path))).workflow_id == stored["id"]

    await a.PatchWorkflow(pb.PatchWorkflowRequest(id=stored["id"], patch_json=b'{"active":false}'))
    async with asyncio.timeout(5):
        await server_b.index.wait_until(lambda s: s.resolve("POST", path) is None)
    gone = await b.HandleWebhook(call(path))
    assert gone.rejection == pb.WEBHOOK_REJECTION_NOT_FOUND
