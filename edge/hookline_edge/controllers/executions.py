"""``/api/v1/executions``: saved executions (the ``SavedExecutions`` port: the execution
service) and, for runs that were not saved, the result cache while its TTL lasts (the
``CachedResults`` port: the cache service); see ``hookline_edge.ports``."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter

from hookline_edge.errors import upstream_errors
from hookline_edge.paging import (
    CURSOR_PATTERN,
    ID_PATTERN,
    MAX_CURSOR_LENGTH,
    MAX_ID_LENGTH,
    page_json,
)
from hookline_edge.ports import CachedResults, ExecutionQuery, SavedExecutions
from hookline_edge.rendering import json_response
from hookline_edge.schemas import ExecutionPage, ExecutionRecord, documented, error_responses
from hookline_runtime.clock import to_iso
from hookline_runtime.errors import NotFound

__all__ = ["EXPIRES_AT_HEADER", "SOURCE_HEADER", "ExecutionController"]

SOURCE_HEADER = "X-Hookline-Source"
EXPIRES_AT_HEADER = "X-Hookline-Expires-At"


class ExecutionController(Controller):
    path = "/executions"
    tags = ("executions",)

    @get(
        "/",
        operation_id="listExecutions",
        summary="List saved executions, newest first",
        responses={
            **documented(200, ExecutionPage, "One page of saved executions"),
            **error_responses(400, 401),
        },
    )
    async def list_executions(
        self,
        executions: NamedDependency[SavedExecutions],
        workflow_id: Annotated[
            str | None,
            QueryParameter(name="workflowId", pattern=ID_PATTERN, max_length=MAX_ID_LENGTH),
        ] = None,
        status: Annotated[
            Literal["running", "success", "error"] | None,
            QueryParameter(description="Only executions with this status"),
        ] = None,
        limit: Annotated[int | None, QueryParameter(ge=1, le=100, description="Page size")] = None,
        cursor: Annotated[
            str | None,
            QueryParameter(
                description="From nextCursor (opaque; one not issued by this API is 400)",
                pattern=CURSOR_PATTERN,
                max_length=MAX_CURSOR_LENGTH,
            ),
        ] = None,
    ) -> Response[bytes]:
        query = ExecutionQuery(
            workflow_id=workflow_id or "",
            status=status or "",
            limit=limit or 0,
            cursor=cursor or "",
        )
        with upstream_errors("execution"):
            page = await executions.list(query)
        return json_response(page_json(page.items, page.next_cursor))

    @get(
        "/{execution_id:str}",
        operation_id="getExecution",
        summary="Get an execution record",
        description="From the database when it was saved, else from the result cache while "
        "its TTL lasts (headers X-Hookline-Source and X-Hookline-Expires-At say which).",
        responses={
            **documented(200, ExecutionRecord, "The execution record"),
            **error_responses(400, 401, 404),
        },
    )
    async def get_execution(
        self,
        execution_id: Annotated[
            str, Parameter(pattern=ID_PATTERN, min_length=1, max_length=MAX_ID_LENGTH)
        ],
        executions: NamedDependency[SavedExecutions],
        cached_results: NamedDependency[CachedResults],
    ) -> Response[bytes]:
        return await _find_record(executions, cached_results, execution_id)


async def _find_record(
    executions: SavedExecutions, cached_results: CachedResults, execution_id: str
) -> Response[bytes]:
    """The saved record when it is final; else the cached one while its TTL lasts; else
    the saved "running" row; else 404."""
    with upstream_errors("execution"):
        try:
            saved: bytes | None = await executions.get(execution_id)
        except NotFound:
            saved = None
    if saved is not None and not _still_running(saved):
        return json_response(saved, headers={SOURCE_HEADER: "database"})
    # Not saved, or saved as running: the final record reaches the cache before the
    # database, so the cache may already have it.
    with upstream_errors("cache"):
        try:
            cached = await cached_results.get(execution_id)
        except NotFound:
            if saved is None:
                raise
            return json_response(saved, headers={SOURCE_HEADER: "database"})
    headers = {SOURCE_HEADER: "cache"}
    if cached.expires_at is not None:
        headers[EXPIRES_AT_HEADER] = to_iso(cached.expires_at)
    return json_response(cached.record_json, headers=headers)


def _still_running(record_json: bytes) -> bool:
    """Whether a saved record is the "running" row of a run in progress."""
    try:
        return bool(json.loads(record_json).get("status") == "running")
    except (ValueError, AttributeError):
        return False
