"""Fixtures for the execution service tests: an engine without servers, a local
HTTP server for httpRequest nodes, a fake cache service recording what it is handed,
and real ExecutionServers on port 0."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from hookline.execution.v1 import execution_service_pb2, execution_service_pb2_grpc

from hookline_execution.domain import Engine, ExecutionRecord, TemplateRenderer
from hookline_execution.domain.outbound import OutboundPolicy, outbound_client
from hookline_execution.server import ExecutionServer
from hookline_runtime.clock import utcnow
from hookline_runtime.ids import new_id
from hookline_runtime.settings import Settings
from hookline_runtime.workflow import parse_workflow

from .fake_cache import FakeCache
from .local_http import LocalHttpServer

RunWorkflow = Callable[..., Any]


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """The guarded outbound client, opened to loopback for the local HTTP server."""
    async with outbound_client(OutboundPolicy(allow_private=True)) as client:
        yield client


@pytest.fixture
def engine(http_client: httpx.AsyncClient) -> Engine:
    return Engine(TemplateRenderer(), http_client, max_response_bytes=64 * 1024)


@pytest.fixture
def run_workflow(engine: Engine) -> RunWorkflow:
    """``await run_workflow(workflow_json, trigger_output)`` -> the record's JSON."""

    async def run(
        data: dict[str, Any], trigger_output: Any = None, on_first_response: Any = None
    ) -> dict[str, Any]:
        parsed = parse_workflow(data)
        record = ExecutionRecord(
            id="exec-1",
            workflow_id=data.get("id", ""),
            workflow_name=parsed.name,
            mode="manual",
            started_at=utcnow(),
        )
        await engine.run(parsed, record, trigger_output or {}, on_first_response)
        return record.to_json()

    return run


@pytest.fixture
async def local_http() -> AsyncIterator[LocalHttpServer]:
    async with LocalHttpServer() as server:
        yield server


@pytest.fixture
async def fake_cache() -> AsyncIterator[FakeCache]:
    async with FakeCache() as cache:
        yield cache


@dataclass
class RunningExecution:
    """An ExecutionServer on port 0 talking to the fake cache, with a client stub."""

    server: ExecutionServer
    stub: execution_service_pb2_grpc.ExecutionServiceAsyncStub
    cache: FakeCache
    settings: Settings

    async def start(
        self,
        data: dict[str, Any],
        trigger_output: Any = None,
        *,
        execution_id: str | None = None,
        early: bool = False,
        mode: execution_service_pb2.ExecutionMode.ValueType = (
            execution_service_pb2.EXECUTION_MODE_MANUAL
        ),
    ) -> str:
        execution_id = execution_id or new_id()
        await self.stub.StartExecution(
            execution_service_pb2.StartExecutionRequest(
                execution_id=execution_id,
                workflow_json=json.dumps(data).encode(),
                mode=mode,
                trigger_output_json=json.dumps(trigger_output or {}).encode(),
                publish_early_response=early,
            ),
            timeout=5,
        )
        return execution_id

    def saved_rows(self, **where: str) -> int:
        """Rows in the executions table matching ``where`` (read straight from SQLite)."""
        path = self.settings.database_url.removeprefix("sqlite:///")
        clause = " AND ".join(f"{column} = ?" for column in where) or "1 = 1"
        with contextlib.closing(sqlite3.connect(path)) as conn:
            (count,) = conn.execute(
                f"SELECT count(*) FROM executions WHERE {clause}", tuple(where.values())
            ).fetchone()
        return int(count)

    async def stop(self) -> None:
        await self.server.__aexit__(None, None, None)


StartExecution = Callable[..., Awaitable[RunningExecution]]


@pytest.fixture
async def start_execution(
    make_settings: Callable[..., Settings], fake_cache: FakeCache
) -> AsyncIterator[StartExecution]:
    """``await start_execution(**settings_overrides)`` -> a RunningExecution, stopped
    at the end of the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: Any) -> RunningExecution:
            settings = make_settings(**{"cache_addr": fake_cache.address, **overrides})
            server = await stack.enter_async_context(ExecutionServer(settings))
            channel = grpc.aio.insecure_channel(server.address)
            stack.push_async_callback(channel.close)
            stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
            return RunningExecution(server, stub, fake_cache, settings)

        yield start


def logged(caplog: pytest.LogCaptureFixture, event: str, **fields: Any) -> bool:
    """Whether a structlog event with these fields reached the standard library."""
    for record in caplog.records:
        msg = record.msg
        if (
            isinstance(msg, dict)
            and msg.get("event") == event
            and all(msg.get(k) == v for k, v in fields.items())
        ):
            return True
    return False
