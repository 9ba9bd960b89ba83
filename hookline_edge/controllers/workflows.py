"""``/api/v1/workflows``: workflow CRUD and manual runs, through the trigger service.

Workflow documents are the trigger service's JSON bytes, sent on as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeAlias

import grpc
from hookline.trigger.v1 import trigger_service_pb2 as pb
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED

from hookline_edge.clients.upstreams import CALL_TIMEOUT_SECONDS, Upstreams
from hookline_edge.clients.watch import OutcomeKind, wait_for_caller
from hookline_edge.errors import (
    CLIENT_CLOSED_REQUEST,
    EXECUTION_ID_HEADER,
    timeout_error,
    upstream_errors,
)
from hookline_edge.idempotency import (
    REPLAYED_HEADER,
    fingerprint,
    idempotency_key,
    not_kept,
    reused,
)
from hookline_edge.json_body import read_json_body
from hookline_edge.openapi import ANY_JSON, body_operation, body_schema_ref
from hookline_edge.paging import (
    CURSOR_PATTERN,
    ID_PATTERN,
    MAX_CURSOR_LENGTH,
    MAX_ID_LENGTH,
    page_json,
)
from hookline_edge.rendering import json_response
from hookline_edge.schemas import (
    ExecutionRecord,
    RunStarted,
    WorkflowDocument,
    WorkflowInput,
    WorkflowPage,
    WorkflowPatch,
    documented,
    error_responses,
)
from hookline_runtime.ids import new_id
from hookline_runtime.logs import bind_execution

__all__ = ["WorkflowController"]

# An invalid workflow definition is 422, not the generic 400 of INVALID_ARGUMENT.
_INVALID_WORKFLOW = {grpc.StatusCode.INVALID_ARGUMENT: 422}

DEFAULT_RUN_TIMEOUT_SECONDS = 30

WorkflowId = Annotated[
    str,
    Parameter(
        description="A workflow id",
        pattern=ID_PATTERN,
        min_length=1,
        max_length=MAX_ID_LENGTH,
    ),
]

_WORKFLOW_REF = body_schema_ref(WorkflowInput)
_PATCH_REF = body_schema_ref(WorkflowPatch)
_WORKFLOW_BODY = body_operation(
    {"application/json": _WORKFLOW_REF},
    required=True,
    description="The workflow (DESIGN.md section 2)",
)
_PATCH_BODY = body_operation(
    {"application/json": _PATCH_REF},
    required=True,
    description="The fields to merge",
)
_RUN_BODY = body_operation(
    {"application/json": ANY_JSON},
    required=False,
    description="The manual node's output; empty means {}",
    idempotent=True,
)
_STORED_ANSWERS = {
    **documented(200, WorkflowDocument, "The stored workflow"),
    **error_responses(400, 401, 404, 409, 422),
}
"""What a change to one workflow (replace, patch) answers."""

_StoredReply: TypeAlias = (
    pb.CreateWorkflowResponse | pb.ReplaceWorkflowResponse | pb.PatchWorkflowResponse
)


async def _store(
    request: Request[Any, Any, Any],
    send: Callable[[bytes], Awaitable[_StoredReply]],
    *,
    status: int = 200,
) -> Response[bytes]:
    """Read the JSON body, ``send`` it to the trigger service (one call, with its
    deadline) and answer the stored workflow; an invalid workflow is 422."""
    body = await read_json_body(request)
    with upstream_errors("trigger", status_override=_INVALID_WORKFLOW):
        reply = await send(body)
    return json_response(reply.workflow.workflow_json, status=status)


class WorkflowController(Controller):
    path = "/workflows"
    tags = ("workflows",)

    @post(
        "/",
        operation_id="createWorkflow",
        operation_class=_WORKFLOW_BODY,
        summary="Create a workflow",
        status_code=201,
        responses={
            **documented(201, WorkflowDocument, "The stored workflow"),
            **error_responses(400, 401, 409, 422),
        },
    )
    async def create_workflow(
        self, request: Request[Any, Any, Any], upstreams: NamedDependency[Upstreams]
    ) -> Response[bytes]:
        stub = upstreams.trigger.stub
        return await _store(
            request,
            lambda body: stub.CreateWorkflow(
                pb.CreateWorkflowRequest(workflow_json=body), timeout=CALL_TIMEOUT_SECONDS
            ),
            status=201,
        )

    @get(
        "/",
        operation_id="listWorkflows",
        summary="List workflows",
        responses={
            **documented(200, WorkflowPage, "One page of workflows, oldest first"),
            **error_responses(400, 401),
        },
    )
    async def list_workflows(
        self,
        upstreams: NamedDependency[Upstreams],
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
        with upstream_errors("trigger"):
            reply = await upstreams.trigger.stub.ListWorkflows(
                pb.ListWorkflowsRequest(limit=limit or 0, cursor=cursor or ""),
                timeout=CALL_TIMEOUT_SECONDS,
            )
        items = [workflow.workflow_json for workflow in reply.workflows]
        return json_response(page_json(items, reply.next_cursor))

    @get(
        "/{workflow_id:str}",
        operation_id="getWorkflow",
        summary="Get a workflow",
        responses={
            **documented(200, WorkflowDocument, "The stored workflow"),
            **error_responses(400, 401, 404),
        },
    )
    async def get_workflow(
        self, workflow_id: WorkflowId, upstreams: NamedDependency[Upstreams]
    ) -> Response[bytes]:
        with upstream_errors("trigger"):
            reply = await upstreams.trigger.stub.GetWorkflow(
                pb.GetWorkflowRequest(id=workflow_id), timeout=CALL_TIMEOUT_SECONDS
            )
        return json_response(reply.workflow.workflow_json)

    @put(
        "/{workflow_id:str}",
        operation_id="replaceWorkflow",
        operation_class=_WORKFLOW_BODY,
        summary="Replace a workflow",
        responses=_STORED_ANSWERS,
    )
    async def replace_workflow(
        self,
        workflow_id: WorkflowId,
        request: Request[Any, Any, Any],
        upstreams: NamedDependency[Upstreams],
    ) -> Response[bytes]:
        stub = upstreams.trigger.stub
        return await _store(
            request,
            lambda body: stub.ReplaceWorkflow(
                pb.ReplaceWorkflowRequest(id=workflow_id, workflow_json=body),
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )

    @patch(
        "/{workflow_id:str}",
        operation_id="patchWorkflow",
        operation_class=_PATCH_BODY,
        summary="Merge name, active and settings into a workflow",
        responses=_STORED_ANSWERS,
    )
    async def patch_workflow(
        self,
        workflow_id: WorkflowId,
        request: Request[Any, Any, Any],
        upstreams: NamedDependency[Upstreams],
    ) -> Response[bytes]:
        stub = upstreams.trigger.stub
        return await _store(
            request,
            lambda body: stub.PatchWorkflow(
                pb.PatchWorkflowRequest(id=workflow_id, patch_json=body),
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )

    @delete(
        "/{workflow_id:str}",
        operation_id="deleteWorkflow",
        summary="Delete a workflow",
        responses=error_responses(400, 401, 404),
    )
    async def delete_workflow(
        self, workflow_id: WorkflowId, upstreams: NamedDependency[Upstreams]
    ) -> None:
        with upstream_errors("trigger"):
            await upstreams.trigger.stub.DeleteWorkflow(
                pb.DeleteWorkflowRequest(id=workflow_id), timeout=CALL_TIMEOUT_SECONDS
            )

    @post(
        "/{workflow_id:str}/run",
        operation_id="runWorkflow",
        operation_class=_RUN_BODY,
        summary="Run a workflow manually",
        description="The body is the manual node's output (empty: {}). Answers 202 at once, "
        "or with ?wait=true the execution record when the run ends (504 on timeout).",
        status_code=HTTP_202_ACCEPTED,
        responses={
            **documented(202, RunStarted, "The run started (or, with Idempotency-Key, repeated)"),
            **documented(200, ExecutionRecord, "With ?wait=true: the finished record"),
            **error_responses(400, 401, 404, 409, 413, 422, 503, 504),
        },
    )
    async def run_workflow(
        self,
        workflow_id: WorkflowId,
        request: Request[Any, Any, Any],
        upstreams: NamedDependency[Upstreams],
        state: State,
        wait: Annotated[bool, QueryParameter(description="Wait for the execution record")] = False,
    ) -> Response[Any]:
        key = idempotency_key(request)
        body = await read_json_body(request, empty=b"{}")
        execution_id = new_id()
        with upstream_errors("trigger"):
            reply = await upstreams.trigger.stub.RunWorkflow(
                pb.RunWorkflowRequest(
                    workflow_id=workflow_id,
                    input_json=body,
                    execution_id=execution_id,
                    idempotency_key=key,
                    request_fingerprint=fingerprint(request, await request.body()) if key else b"",
                ),
                timeout=CALL_TIMEOUT_SECONDS,
            )
        if reply.idempotency_key_reused:
            raise reused(reply.execution_id)
        execution_id = reply.execution_id or execution_id
        bind_execution(execution_id)
        headers = {EXECUTION_ID_HEADER: execution_id}
        if reply.replayed:
            headers[REPLAYED_HEADER] = "true"
        if not wait:
            return Response(RunStarted(execution_id=execution_id), status_code=202, headers=headers)
        timeout = reply.response_timeout_seconds or DEFAULT_RUN_TIMEOUT_SECONDS
        outcome = await wait_for_caller(
            request.receive,
            state.results,
            execution_id,
            timeout_seconds=timeout,
            accept_early_response=False,
            saved_to_database=reply.save_execution,
            replayed=reply.replayed,
        )
        if outcome is None:
            return Response(b"", status_code=CLIENT_CLOSED_REQUEST, headers=headers)
        if outcome.kind is OutcomeKind.NOT_KEPT:
            raise not_kept(execution_id)
        if outcome.kind is not OutcomeKind.RESULT:
            raise timeout_error(execution_id, timeout)
        return json_response(outcome.payload, headers=headers)
