"""With Redis stopped, a saving ``lastNode`` webhook answers with the workflow's own
response (or an honest 503/504), never the saved ``running`` row as a wrong ``200``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings
from tests.redis_server import ThrowawayRedis
from tests.stack.test_feature_matrix import create, webhook_workflow

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def outage_stack(
    make_settings: Callable[..., Settings], throwaway_redis: ThrowawayRedis
) -> AsyncIterator[LocalStack]:
    async with LocalStack(make_settings(redis_url=throwaway_redis.url)) as running:
        yield running


async def redis_reported_down(client: httpx.AsyncClient) -> None:
    """Until readiness says the cache service has seen Redis go (its health Watch)."""
    async with asyncio.timeout(15):
        while (await client.get("/readyz")).json()["checks"]["redis"] != "down":
            await asyncio.sleep(0.1)


async def test_saving_last_node_webhook_during_an_outage_never_answers_the_running_row(
    outage_stack: LocalStack, throwaway_redis: ThrowawayRedis, unique: Callable[[str], str]
) -> None:
    path = unique("outage-wait")
    pause = {"name": "Pause", "type": "wait", "parameters": {"seconds": 2}}
    workflow = webhook_workflow(path, unique("OutageWait"), mode="lastNode", save=True)
    # Hook -> Shape -> Pause -> Reply: the 201 comes only after the two-second wait.
    reply = workflow["nodes"].pop()
    workflow["nodes"] += [pause, reply]
    workflow["connections"] = [
        {"from": "Hook", "to": "Shape"},
        {"from": "Shape", "to": "Pause"},
        {"from": "Pause", "to": "Reply"},
    ]
    workflow["settings"]["responseTimeoutSeconds"] = 10
    async with httpx.AsyncClient(base_url=outage_stack.edge_url, timeout=20) as client:
        await create(client, workflow)
        throwaway_redis.stop()
        await redis_reported_down(client)

        resp = await client.post(f"/webhook/{path}", json={"name": "Ada"})

    assert resp.status_code in (201, 503, 504), (resp.status_code, resp.text)
    if resp.status_code == 201:
        assert resp.json() == {"message": "Hello Ada"}
        assert resp.headers["x-greeter"] == "1"
    else:
        assert set(resp.json()) >= {"error"}
