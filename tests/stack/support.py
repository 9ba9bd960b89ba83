"""Assertions shared by the whole-stack tests."""

from __future__ import annotations

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
