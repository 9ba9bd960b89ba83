"""Fixtures for the execution service tests: an engine without servers, a local
HTTP server for httpRequest nodes, a fake cache service recording what it is handed,
and real ExecutionServers on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from runtime.clock import utcnow
from runtime.workflow import parse_workflow
from services.execution.domain import Engine, ExecutionRecord, TemplateRenderer
from .fake_cache import FakeCache
from .local_http import LocalHttpServer

RunWorkflow = Callable[..., Any]


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
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
