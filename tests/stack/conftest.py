"""Whole-stack fixtures: the four services in this process (LocalStack) on free ports."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from runtime.settings import Settings
from runtime.stack import LocalStack


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], redis_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(make_settings(redis_url=redis_url)) as running:
        yield running


@pytest.fixture
async def client(stack: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as http:
        yield http


def saved_execution_rows(database_url: str, workflow_id: str) -> int:
    """Rows in the executions table for a workflow, read straight from the SQLite file."""
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM executions WHERE workflow_id = ?", (workflow_id,)
        ).fetchone()
    return int(count)


def logged(caplog: pytest.LogCaptureFixture, event: str, **fields: Any) -> bool:
    """Whether a structlog event with these fields reached the standard library."""
    for record in caplog.records:
        msg = record.msg
        if isinstance(msg, dict) and msg.get("event") == event:
            if all(msg.get(k) == v for k, v in fields.items()):
                return True
    return False


@pytest.fixture
def info_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog
