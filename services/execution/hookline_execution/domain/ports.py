"""What the execution service needs from the outside, as small interfaces.

``ExecutionStore`` keeps saved records (storage/ has the SQL adapter);
``ResultSink`` hands results and early responses to the cache service (the gRPC
adapter is ``hookline_execution.clients.cache_sink``; in one process, the launcher's
``local_wiring`` calls the cache's domain). Adapters raise
``hookline_runtime.errors.Unavailable`` when their backend cannot be reached. The ports
runs use in the other services sit beside the code that calls them:
``subworkflows.WorkflowLookup`` and ``subworkflows.ResultWatcher`` (child runs),
``credentials.CredentialSource``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["ExecutionPage", "ExecutionStore", "ResultSink", "ResultTooLarge", "SavedRow"]


@dataclass(frozen=True, slots=True)
class ExecutionPage:
    """One page of saved records (JSON bytes), newest first."""

    records: list[bytes]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class SavedRow:
    """One execution's row, as ``ExecutionStore.save`` writes it."""

    execution_id: str
    workflow_id: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    record_json: bytes


class ExecutionStore(Protocol):
    async def save(self, rows: list[SavedRow]) -> None:
        """Insert these rows, or replace the rows with their ids, in one transaction."""

    async def insert(
        self,
        *,
        execution_id: str,
        workflow_id: str,
        mode: str,
        status: str,
        started_at: datetime,
        finished_at: datetime | None,
        record_json: bytes,
    ) -> None:
        """Save a new record."""

    async def update(
        self, *, execution_id: str, status: str, finished_at: datetime | None, record_json: bytes
    ) -> bool:
        """Replace a saved record; False when there is none."""

    async def get(self, execution_id: str) -> bytes | None:
        """A saved record's JSON, or None."""

    async def list(
        self, *, workflow_id: str | None, status: str | None, limit: int, cursor: str | None
    ) -> ExecutionPage:
        """Saved records, newest first (started_at desc, id desc); InvalidArgument for a
        cursor this store did not make."""


class ResultTooLarge(Exception):
    """The cache service refused a record over its size cap."""


class ResultSink(Protocol):
    async def store_result(
        self, execution_id: str, record_json: bytes, ttl_seconds: int, keep_seconds: int = 0
    ) -> None:
        """Hand a finished record over (``keep_seconds``: also keep it that long for
        idempotent repeats); ResultTooLarge or Unavailable on failure."""

    async def store_response(
        self, execution_id: str, response_json: bytes, ttl_seconds: int
    ) -> None:
        """Hand an early HTTP response over; Unavailable on failure."""
