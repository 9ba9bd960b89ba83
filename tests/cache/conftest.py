"""Fixtures for the cache service: real CacheServers on port 0, real channels, a real
Redis (shared, fresh ids) and throwaway redis-server processes for outages."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hookline.cache.v1 import cache_service_pb2, cache_service_pb2_grpc

from hookline_cache.server import CacheServer
from hookline_runtime.settings import Settings
from hookline_runtime.transport.server import grpc_options


async def next_event(
    call: grpc.aio.UnaryStreamCall[
        cache_service_pb2.WatchResultRequest, cache_service_pb2.WatchResultResponse
    ],
) -> cache_service_pb2.WatchResultResponse:
    """The next message of a WatchResult stream, which must not have ended. (grpc-stubs
    type ``read()`` as ``object``, since it may also return ``grpc.aio.EOF``.)"""
    event = await call.read()
    assert isinstance(event, cache_service_pb2.WatchResultResponse), f"stream ended: {event!r}"
    return event


@dataclass
class CacheHandle:
    """A running cache server and a client channel to it."""

    server: CacheServer
    channel: grpc.aio.Channel
    stub: cache_service_pb2_grpc.CacheServiceAsyncStub
    health: health_pb2_grpc.HealthStub

    async def redis_health(self) -> int:
        reply = await self.health.Check(health_pb2.HealthCheckRequest(service="redis"), timeout=2)
        status: int = reply.status
        return status

    async def wait_redis_health(self, status: int, timeout: float = 10.0) -> None:
        """Follow the ``redis`` health status (Watch stream) until it is ``status``."""
        call = self.health.Watch(health_pb2.HealthCheckRequest(service="redis"), timeout=timeout)
        try:
            async for reply in call:
                if reply.status == status:
                    return
        finally:
            call.cancel()
        raise AssertionError(f"redis health never became {status}")


StartCache = Callable[..., Awaitable[CacheHandle]]


@pytest.fixture
async def start_cache(make_settings: Callable[..., Settings]) -> AsyncIterator[StartCache]:
    """``await start_cache(redis_url=..., **settings)``; everything stops at the end."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> CacheHandle:
            server = await stack.enter_async_context(CacheServer(make_settings(**overrides)))
            channel = grpc.aio.insecure_channel(
                server.address, options=grpc_options(64 * 1024 * 1024)
            )
            stack.push_async_callback(channel.close)
            return CacheHandle(
                server,
                channel,
                cache_service_pb2_grpc.CacheServiceStub(channel),
                health_pb2_grpc.HealthStub(channel),
            )

        yield start


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThrowawayRedis:
    """A redis-server of our own on a free port, to stop and start at will."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self._process = await asyncio.create_subprocess_exec(
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._workdir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert self._process.stdout is not None
        async with asyncio.timeout(10):  # the server says when it is ready
            async for line in self._process.stdout:
                if b"Ready to accept connections" in line:
                    break
            else:
                raise AssertionError("redis-server exited before it was ready")
        self._drain = asyncio.create_task(self._discard_output(self._process.stdout))

    @staticmethod
    async def _discard_output(stream: asyncio.StreamReader) -> None:
        async for _ in stream:
            pass

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()
        drain, self._drain = self._drain, None
        if drain is not None:
            await drain


@pytest.fixture
async def throwaway_redis(tmp_path: Path) -> AsyncIterator[ThrowawayRedis]:
    """A stopped throwaway Redis (call ``start()``); killed at the end if running."""
    server = ThrowawayRedis(tmp_path)
    try:
        yield server
    finally:
        await server.stop()


LogEvents = Callable[[str], list[dict[str, Any]]]


@pytest.fixture
def log_events(caplog: pytest.LogCaptureFixture) -> LogEvents:
    """``log_events("Cached execution result")``: the structlog event dicts logged
    with that message so far in this test."""
    caplog.set_level("INFO")

    def events(message: str) -> list[dict[str, Any]]:
        found = []
        for record in caplog.records:
            event = record.msg
            if isinstance(event, dict) and event.get("event") == message:
                found.append(event)
        return found

    return events
