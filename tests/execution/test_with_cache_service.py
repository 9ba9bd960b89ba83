"""The execution service handing results to the real cache service (and Redis):
what a waiting edge sees through WatchResult."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import redis.asyncio as aioredis
from hookline.cache.v1 import cache_service_pb2 as cache_pb
from hookline.cache.v1 import cache_service_pb2_grpc as cache_grpc
from hookline.execution.v1 import execution_service_pb2 as pb
from hookline.execution.v1 import execution_service_pb2_grpc as pb_grpc

from hookline_cache.server import CacheServer
from hookline_execution.server import ExecutionServer
from hookline_runtime.ids import new_id
from hookline_runtime.settings import Settings

from .local_http import LocalHttpServer, Reply
from .workflows import node, workflow

pytestmark = pytest.mark.timeout(30)


@dataclass
class Stack:
    cache: cache_grpc.CacheServiceAsyncStub
    execution: pb_grpc.ExecutionServiceAsyncStub


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], redis_url: str) -> AsyncIterator[Stack]:
    async with AsyncExitStack() as exit_stack:
        cache = await exit_stack.enter_async_context(
            CacheServer(make_settings(redis_url=redis_url))
        )
        settings = make_settings(redis_url=redis_url, cache_addr=cache.address)
        execution = await exit_stack.enter_async_context(ExecutionServer(settings))
        cache_channel = grpc.aio.insecure_channel(cache.address)
        exit_stack.push_async_callback(cache_channel.close)
        exec_channel = grpc.aio.insecure_channel(execution.address)
        exit_stack.push_async_callback(exec_channel.close)
        yield Stack(
            cache_grpc.CacheServiceStub(cache_channel), pb_grpc.ExecutionServiceStub(exec_channel)
        )


async def _watch_and_start(
    stack: Stack, data: dict[str, Any], trigger_output: Any, *, early: bool
) -> tuple[str, AsyncIterator[cache_pb.WatchResultResponse]]:
    """Subscribe first (as the edge does), then start the run."""
    execution_id = new_id()
    stream = stack.cache.WatchResult(
        cache_pb.WatchResultRequest(
            execution_id=execution_id, timeout_ms=10_000, accept_early_response=early
        ),
        timeout=15,
    )
    events = stream.__aiter__()
    first = await events.__anext__()
    assert first.event == cache_pb.WATCH_EVENT_SUBSCRIBED
    await stack.execution.StartExecution(
        pb.StartExecutionRequest(
            execution_id=execution_id,
            workflow_json=json.dumps(data).encode(),
            mode=pb.EXECUTION_MODE_WEBHOOK,
            trigger_output_json=json.dumps(trigger_output).encode(),
            publish_early_response=early,
        ),
        timeout=5,
    )
    return execution_id, events


async def test_an_unsaved_result_reaches_a_waiter_through_redis_with_its_ttl(
    stack: Stack, redis_url: str
) -> None:
    data = workflow(
        [
            node("Shape", "set", values={"greeting": "Hello {{ json.body.name }}"}),
            node("Reply", "httpResponse", statusCode=201, body={"message": "{{ json.greeting }}"}),
        ],
        save=False,
        ttl=45,
        trigger=node("Hook", "webhook", path="greet", method="POST", responseMode="lastNode"),
    )
    execution_id, events = await _watch_and_start(
        stack, data, {"body": {"name": "Ada"}, "headers": {}, "query": {}}, early=False
    )
    result = await events.__anext__()
    assert result.event == cache_pb.WATCH_EVENT_RESULT
    record = json.loads(result.record_json)
    assert record["id"] == execution_id and record["mode"] == "webhook"
    assert record["response"] == {
        "statusCode": 201,
        "headers": {},
        "body": {"message": "Hello Ada"},
    }
    r = aioredis.Redis.from_url(redis_url)
    try:
        assert await r.exists(f"execution:result:{execution_id}")
        assert 0 < await r.ttl(f"execution:result:{execution_id}") <= 45
    finally:
        await r.aclose()


async def test_an_early_response_reaches_a_waiter_before_the_run_ends(
    stack: Stack, local_http: LocalHttpServer
) -> None:
    release = asyncio.Event()
    local_http.routes["/hold"] = Reply(200, body=b"ok", hold=release)
    data = workflow(
        [
            node("Reply", "httpResponse", statusCode=202, body={"accepted": True}),
            node("Call", "httpRequest", url=local_http.url("/hold")),
        ],
        save=False,
    )
    execution_id, events = await _watch_and_start(stack, data, {}, early=True)
    response = await events.__anext__()
    assert response.event == cache_pb.WATCH_EVENT_RESPONSE
    assert json.loads(response.response_json) == {
        "statusCode": 202,
        "headers": {},
        "body": {"accepted": True},
    }
    await local_http.request_to("/hold")  # the run is still going
    release.set()
    later = await _result_of(stack, execution_id)
    assert json.loads(later.record_json)["nodes"]["Call"]["output"]["body"] == "ok"


async def _result_of(stack: Stack, execution_id: str) -> cache_pb.WatchResultResponse:
    stream = stack.cache.WatchResult(
        cache_pb.WatchResultRequest(execution_id=execution_id, timeout_ms=10_000), timeout=15
    )
    async for event in stream:
        if event.event == cache_pb.WATCH_EVENT_RESULT:
            result: cache_pb.WatchResultResponse = event
            return result
        assert event.event == cache_pb.WATCH_EVENT_SUBSCRIBED
    raise AssertionError("the watch ended without a result")
