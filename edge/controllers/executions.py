"""``/api/v1/executions``: saved executions (execution service) and, for runs that were
not saved, the result cache while its TTL lasts (cache service)."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import grpc
from hookline.cache.v1 import cache_service_pb2
from hookline.execution.v1 import execution_service_pb2 as pb
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from edge.errors import EdgeError, from_rpc_error, upstream_errors
from edge.paging import page_json
from edge.rendering import json_response
from edge.schemas import ExecutionPage, ExecutionRecord, documented, error_responses
from edge.upstreams import CALL_TIMEOUT_SECONDS, Upstreams
from runtime.clock import to_iso

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
        workflow_id: Annotated[str | None, QueryParameter(name="workflowId")] = None,
        status: Annotated[
            str | None, QueryParameter(description="running, success or error")
        ] = None,
        limit: Annotated[int | None, QueryParameter(ge=1, le=100, description="Page size")] = None,
        cursor: Annotated[str | None, QueryParameter(description="From nextCursor")] = None,
    ) -> Response[bytes]:
        status_filter = pb.EXECUTION_STATUS_UNSPECIFIED
        if status:
            if status not in _STATUS_FILTER:
                raise EdgeError(
                    400,
                    f"status must be one of {', '.join(_STATUS_FILTER)}, not {status!r}",
                    error="invalid_parameter",
                )
            status_filter = _STATUS_FILTER[status]
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
            **error_responses(401, 404),
        },
    )
    async def get_execution(
        self, execution_id: FromPath[str], upstreams: NamedDependency[Upstreams]
    ) -> Response[bytes]:
        try:
            saved = await upstreams.execution.stub.GetExecution(
                pb.GetExecutionRequest(execution_id=execution_id), timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.NOT_FOUND:
                raise from_rpc_error(exc, upstream="execution") from None
        else:
            return json_response(saved.record_json, headers={SOURCE_HEADER: "database"})
        with upstream_errors("cache"):
            cached = await upstreams.cache.stub.GetResult(
                cache_service_pb2.GetResultRequest(execution_id=execution_id),
                timeout=CALL_TIMEOUT_SECONDS,
            )
        headers = {SOURCE_HEADER: "cache"}
        if cached.HasField("expire_time"):
            headers[EXPIRES_AT_HEADER] = to_iso(cached.expire_time.ToDatetime(tzinfo=UTC))
        return json_response(cached.record_json, headers=headers)
