"""``/api/v1/workflows``: workflow CRUD and manual runs, through the ``WorkflowAdmin``
port (the trigger service; ``hookline_edge.ports``), one call per request; ``?wait=true``
then waits on the ``ResultWaiter``.

Workflow documents are the trigger service's JSON bytes, sent on as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

import grpc
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED

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
from hookline_edge.ports import RunCall, WorkflowAdmin
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


async def _store(
    request: Request[Any, Any, Any],
    send: Callable[[bytes], Awaitable[bytes]],
    *,
    status: int = 200,
) -> Response[bytes]:
    """Read the JSON body, ``send`` it to the trigger service (one call) and answer the
    stored workflow; an invalid workflow is 422."""
    body = await read_json_body(request)
    with upstream_errors("trigger", status_override=_INVALID_WORKFLOW):
        stored = await send(body)
    return json_response(stored, status=status)


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
        self, request: Request[Any, Any, Any], workflows: NamedDependency[WorkflowAdmin]
    ) -> Response[bytes]:
        return await _store(request, workflows.create, status=201)

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
        workflows: NamedDependency[WorkflowAdmin],
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
            page = await workflows.list(limit=limit or 0, cursor=cursor or "")
        return json_response(page_json(page.items, page.next_cursor))

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
        self, workflow_id: WorkflowId, workflows: NamedDependency[WorkflowAdmin]
    ) -> Response[bytes]:
        with upstream_errors("trigger"):
            stored = await workflows.get(workflow_id)
        return json_response(stored)

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
        workflows: NamedDependency[WorkflowAdmin],
    ) -> Response[bytes]:
        return await _store(request, partial(workflows.replace, workflow_id))

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
        workflows: NamedDependency[WorkflowAdmin],
    ) -> Response[bytes]:
        return await _store(request, partial(workflows.patch, workflow_id))

    @delete(
        "/{workflow_id:str}",
        operation_id="deleteWorkflow",
        summary="Delete a workflow",
        responses=error_responses(400, 401, 404),
    )
    async def delete_workflow(
        self, workflow_id: WorkflowId, workflows: NamedDependency[WorkflowAdmin]
    ) -> None:
        with upstream_errors("trigger"):
            await workflows.delete(workflow_id)

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
        workflows: NamedDependency[WorkflowAdmin],
        state: State,
        wait: Annotated[bool, QueryParameter(description="Wait for the execution record")] = False,
    ) -> Response[Any]:
        key = idempotency_key(request)
        body = await read_json_body(request, empty=b"{}")
        execution_id = new_id()
        call = RunCall(
            workflow_id=workflow_id,
            input_json=body,
            execution_id=execution_id,
            idempotency_key=key,
            fingerprint=fingerprint(request, await request.body()) if key else b"",
        )
        with upstream_errors("trigger"):
            reply = await workflows.run(call)
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
