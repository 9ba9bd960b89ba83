"""Assertions shared by the whole-stack tests."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest


def saved_execution_rows(database_url: str, workflow_id: str, *, finished: bool = False) -> int:
    """Rows in the executions table for a workflow (``finished``: only final ones), read
    straight from the SQLite file."""
    path = database_url.removeprefix("sqlite:///")
    where = " AND status != 'running'" if finished else ""
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute(
            f"SELECT count(*) FROM executions WHERE workflow_id = ?{where}", (workflow_id,)
        ).fetchone()
    return int(count)


async def saved_rows_reach(
    database_url: str, workflow_id: str, count: int, timeout: float = 5.0
) -> int:
    """The workflow's saved rows once ``count`` of them hold a final record (bounded): a
    record reaches the cache — and so the caller — a moment before the database."""
    async with asyncio.timeout(timeout):
        while saved_execution_rows(database_url, workflow_id, finished=True) < count:
            await asyncio.sleep(0.02)
    return saved_execution_rows(database_url, workflow_id)


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
