"""``/api/v1/executions``: saved executions (execution service) and, for runs that were
not saved, the result cache while its TTL lasts (cache service)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Annotated, Literal

import grpc
from hookline.cache.v1 import cache_service_pb2
from hookline.execution.v1 import execution_service_pb2 as pb
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter

from hookline_edge.clients.upstreams import CALL_TIMEOUT_SECONDS, Upstreams
from hookline_edge.errors import EdgeError, from_rpc_error, upstream_errors
from hookline_edge.paging import (
    CURSOR_PATTERN,
    ID_PATTERN,
    MAX_CURSOR_LENGTH,
    MAX_ID_LENGTH,
    page_json,
)
from hookline_edge.rendering import json_response
from hookline_edge.schemas import ExecutionPage, ExecutionRecord, documented, error_responses
from hookline_runtime.clock import to_iso

__all__ = ["EXPIRES_AT_HEADER", "SOURCE_HEADER", "ExecutionController"]

SOURCE_HEADER = "X-Hookline-Source"
EXPIRES_AT_HEADER = "X-Hookline-Expires-At"

_STATUS_FILTER = {
    "running": pb.EXECUTION_STATUS_RUNNING,
    "success": pb.EXECUTION_STATUS_SUCCESS,
    "error": pb.EXECUTION_STATUS_ERROR,
}


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
        upstreams: NamedDependency[Upstreams],
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
        status_filter = _STATUS_FILTER[status] if status else pb.EXECUTION_STATUS_UNSPECIFIED
        with upstream_errors("execution"):
            reply = await upstreams.execution.stub.ListExecutions(
                pb.ListExecutionsRequest(
                    workflow_id=workflow_id or "",
                    status=status_filter,
                    limit=limit or 0,
                    cursor=cursor or "",
                ),
                timeout=CALL_TIMEOUT_SECONDS,
            )
        body = page_json(list(reply.records_json), reply.next_cursor)
        return json_response(body)

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
        upstreams: NamedDependency[Upstreams],
    ) -> Response[bytes]:
        saved: pb.GetExecutionResponse | None = None
        try:
            saved = await upstreams.execution.stub.GetExecution(
                pb.GetExecutionRequest(execution_id=execution_id), timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.NOT_FOUND:
                raise from_rpc_error(exc, upstream="execution") from None
        else:
            if not _still_running(saved.record_json):
                return json_response(saved.record_json, headers={SOURCE_HEADER: "database"})
        # Not saved, or saved as running: the final record reaches the cache before the
        # database, so the cache may already have it.
        try:
            with upstream_errors("cache"):
                cached = await upstreams.cache.stub.GetResult(
                    cache_service_pb2.GetResultRequest(execution_id=execution_id),
                    timeout=CALL_TIMEOUT_SECONDS,
                )
        except EdgeError as exc:
            if saved is None or exc.status != 404:
                raise
            return json_response(saved.record_json, headers={SOURCE_HEADER: "database"})
        headers = {SOURCE_HEADER: "cache"}
        if cached.HasField("expire_time"):
            headers[EXPIRES_AT_HEADER] = to_iso(cached.expire_time.ToDatetime(tzinfo=UTC))
        return json_response(cached.record_json, headers=headers)


def _still_running(record_json: bytes) -> bool:
    """Whether a saved record is the "running" row of a run in progress."""
    try:
        return bool(json.loads(record_json).get("status") == "running")
    except (ValueError, AttributeError):
        return False
