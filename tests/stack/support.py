"""Assertions shared by the whole-stack tests."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest


def saved_execution_rows(database_url: str, workflow_id: str) -> int:
    """Rows in the executions table for a workflow, read straight from the SQLite file."""
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM executions WHERE workflow_id = ?", (workflow_id,)
        ).fetchone()
    return int(count)


async def saved_rows_reach(
    database_url: str, workflow_id: str, count: int, timeout: float = 5.0
) -> int:
    """The workflow's saved rows once there are ``count`` of them (bounded): a record
    reaches the cache — and so the caller — a moment before the database."""
    async with asyncio.timeout(timeout):
        while (rows := saved_execution_rows(database_url, workflow_id)) < count:
            await asyncio.sleep(0.02)
    return rows


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
