"""Stopping a cache replica drains its watches: callers already waiting get their runs'
answers (201), whether the run finishes within the grace (stores still go to the
stopping replica) or after it (the edge watches again on another replica)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from hookline_cache.server import CacheServer
from hookline_edge.server import EdgeServer
from hookline_execution.server import ExecutionServer
from hookline_runtime.settings import Settings
from hookline_trigger.server import TriggerServer
from tests.execution.local_http import LocalHttpServer, Reply
from tests.stack.test_feature_matrix import create

pytestmark = pytest.mark.timeout(60)

CALLERS = 6


def gated_workflow(path: str, name: str, gate_url: str) -> dict[str, Any]:
    """Hook -> Gate (an HTTP call the test holds) -> Reply 201."""
    return {
        "name": name,
        "settings": {"saveExecutionToDatabase": False, "responseTimeoutSeconds": 30},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Gate", "type": "httpRequest", "parameters": {"url": gate_url}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 201, "body": {"n": "{{ nodes.Hook.body.n }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Gate"}, {"from": "Gate", "to": "Reply"}],
    }  # fmt: skip


class Stack:
    """Cache replicas, one execution, one trigger and one edge service, in this process."""

    def __init__(self, exit_stack: AsyncExitStack, caches: list[CacheServer], edge_url: str):
        self.exit_stack = exit_stack
        self.caches = caches
        self.edge_url = edge_url


@pytest.fixture
async def start_stack(
    make_settings: Callable[..., Settings], redis_url: str
) -> AsyncIterator[Callable[..., Any]]:
    async with AsyncExitStack() as stack:

        async def start(replicas: int, grace: float) -> Stack:
            settings = make_settings(redis_url=redis_url, shutdown_grace_seconds=grace)
            caches = [
                await stack.enter_async_context(CacheServer(settings)) for _ in range(replicas)
            ]
            settings = settings.model_copy(
                update={"cache_addr": ",".join(c.address for c in caches)}
            )
            execution = await stack.enter_async_context(ExecutionServer(settings))
            settings = settings.model_copy(update={"execution_addr": execution.address})
            trigger = await stack.enter_async_context(TriggerServer(settings))
            settings = settings.model_copy(update={"trigger_addr": trigger.address})
            edge = await stack.enter_async_context(EdgeServer(settings))
            return Stack(stack, caches, edge.url)

        yield start


def waiting(cache: CacheServer) -> float:
    """WatchResult calls waiting on ``cache`` right now (its gauge)."""
    value = cache.metrics.registry.get_sample_value("hookline_waiting_requests")
    return value or 0.0


async def watching(caches: list[CacheServer], count: int) -> None:
    """Until ``count`` watches wait on ``caches`` together (bounded)."""
    async with asyncio.timeout(10):
        while sum(waiting(c) for c in caches) < count:
            await asyncio.sleep(0.01)


async def test_callers_waiting_when_the_only_cache_stops_get_their_results(
    start_stack: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    stack: Stack = await start_stack(replicas=1, grace=20.0)
    cache = stack.caches[0]
    async with (
        LocalHttpServer() as gate_server,
        httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as client,
    ):
        gate = asyncio.Event()
        gate_server.routes["/gate"] = Reply(200, body=b"{}", hold=gate)
        path = unique("drain-one")
        await create(client, gated_workflow(path, unique("DrainOne"), gate_server.url("/gate")))
        callers = [
            asyncio.create_task(client.post(f"/webhook/{path}", json={"n": n}))
            for n in range(CALLERS)
        ]
        await gate_server.wait_for_count(CALLERS)
        await watching([cache], CALLERS)

        stopping = asyncio.create_task(cache.__aexit__(None, None, None))
        async with asyncio.timeout(5):
            while cache.delivery is None or not cache.delivery.draining:
                await asyncio.sleep(0)
        gate.set()  # the runs finish after the cache was told to stop
        answers = await asyncio.gather(*callers)
        async with asyncio.timeout(10):  # it stops once the watches are done, not at 20 s
            await stopping

    assert [a.status_code for a in answers] == [201] * CALLERS, [a.text for a in answers]
    assert sorted(a.json()["n"] for a in answers) == list(range(CALLERS))


async def test_callers_whose_runs_outlast_the_grace_are_answered_through_another_replica(
    start_stack: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    stack: Stack = await start_stack(replicas=2, grace=0.5)
    async with (
        LocalHttpServer() as gate_server,
        httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as client,
    ):
        gate = asyncio.Event()
        gate_server.routes["/gate"] = Reply(200, body=b"{}", hold=gate)
        path = unique("drain-two")
        await create(client, gated_workflow(path, unique("DrainTwo"), gate_server.url("/gate")))
        callers = [
            asyncio.create_task(client.post(f"/webhook/{path}", json={"n": n}))
            for n in range(CALLERS)
        ]
        await gate_server.wait_for_count(CALLERS)
        await watching(stack.caches, CALLERS)
        first = stack.caches[0]
        assert waiting(first) > 0  # round-robin: some wait on the one that stops

        await first.__aexit__(None, None, None)  # its grace ends before any run does
        late = asyncio.create_task(client.post(f"/webhook/{path}", json={"n": CALLERS}))
        await gate_server.wait_for_count(CALLERS + 1)
        gate.set()
        answers = [*await asyncio.gather(*callers), await late]

    assert [a.status_code for a in answers] == [201] * (CALLERS + 1), [a.text for a in answers]
