"""HTTP bodies, for the OpenAPI document.

The small answers the edge composes itself (errors, started runs, health) are built
from these. Workflow documents and execution records are passed through as the
services' JSON bytes; their classes here only describe them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec

__all__ = [
    "REQUEST_BODIES",
    "ErrorBody",
    "ExecutionPage",
    "ExecutionRecord",
    "Liveness",
    "Readiness",
    "RunStarted",
    "WebhookStarted",
    "WorkflowDocument",
    "WorkflowInput",
    "WorkflowPage",
    "WorkflowPatch",
    "documented",
    "error_responses",
]


class ErrorBody(msgspec.Struct, rename="camel"):
    """Every error answer: a short code and a message, plus context fields (such as
    ``executionId``, ``node``, ``details``) that depend on the error."""

    error: str
    message: str
    execution_id: str | None = None


class WebhookStarted(msgspec.Struct, rename="camel"):
    """A webhook in ``onReceived`` mode: the run started."""

    execution_id: str
    status: Literal["started"] = "started"


class RunStarted(msgspec.Struct, rename="camel"):
    """A manual run started (without ``?wait=true``)."""

    execution_id: str


class Liveness(msgspec.Struct):
    status: Literal["ok"] = "ok"


class Readiness(msgspec.Struct, omit_defaults=True):
    """``checks`` maps trigger/execution/cache to ok|down, and redis and queue (the run
    queue) to ok|down|not_configured|unknown. A ``not_ready`` answer (503) is also an
    error body: it carries ``error`` and ``message``."""

    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, str]
    error: str | None = None
    message: str | None = None


class WorkflowSettings(msgspec.Struct, rename="camel"):
    save_execution_to_database: bool
    result_ttl_seconds: int
    response_timeout_seconds: int


class WorkflowNode(msgspec.Struct):
    name: str
    type: str
    parameters: dict[str, Any]


class WorkflowConnection(msgspec.Struct, rename={"source": "from", "target": "to"}):
    source: str
    target: str
    output: str = "main"


class WorkflowInput(msgspec.Struct, rename="camel"):
    """A workflow to store (DESIGN.md section 2): ``id``, ``createdAt`` and ``updatedAt``
    are the server's. What JSON Schema cannot say (one trigger node, known node types
    and parameters, an acyclic graph) is checked by the trigger service: 422."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    nodes: Annotated[list[WorkflowNode], msgspec.Meta(min_length=1)]
    connections: list[WorkflowConnection] = []
    active: bool = True
    settings: dict[str, Any] = {}
    id: str | None = None
    """Ignored (the server's); accepted so that a fetched workflow can be sent back."""
    created_at: str | None = None
    updated_at: str | None = None


class WorkflowPatch(msgspec.Struct, rename="camel"):
    """The fields a PATCH merges: ``name``, ``active``, and ``settings`` key by key."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    active: bool | None = None
    settings: dict[str, Any] | None = None


REQUEST_BODIES: tuple[type[msgspec.Struct], ...] = (WorkflowInput, WorkflowPatch)
"""Bodies read raw by their handlers; ``hookline_edge.openapi`` documents them."""


class WorkflowDocument(msgspec.Struct, rename="camel"):
    """A stored workflow (DESIGN.md section 2); passed through from the trigger service."""

    id: str
    name: str
    active: bool
    settings: WorkflowSettings
    nodes: list[WorkflowNode]
    connections: list[WorkflowConnection]
    created_at: str
    updated_at: str


class NodeRun(msgspec.Struct, rename="camel"):
    status: Literal["success", "error", "skipped"]
    output: Any
    started_at: str
    duration_ms: float


class HttpAnswer(msgspec.Struct, rename="camel"):
    status_code: int
    headers: dict[str, str]
    body: Any


class ExecutionRecord(msgspec.Struct, rename="camel"):
    """An execution record (DESIGN.md section 3); passed through from the services."""

    id: str
    workflow_id: str
    mode: Literal["webhook", "manual", "schedule", "subworkflow", "error"]
    status: Literal["running", "success", "error"]
    started_at: str
    finished_at: str | None
    nodes: dict[str, NodeRun]
    response: HttpAnswer | None
    error: dict[str, Any] | None


class WorkflowPage(msgspec.Struct, rename="camel"):
    data: list[WorkflowDocument]
    next_cursor: str | None


class ExecutionPage(msgspec.Struct, rename="camel"):
    data: list[ExecutionRecord]
    next_cursor: str | None


def documented(
    status: int, container: type[msgspec.Struct], description: str
) -> dict[int, ResponseSpec]:
    """The OpenAPI entry of a success answer whose body the edge passes through as bytes."""
    return {
        status: ResponseSpec(
            data_container=container, description=description, generate_examples=False
        )
    }


_ERROR_DESCRIPTIONS = {
    400: "Bad request (invalid JSON, bad parameter, unparseable body)",
    401: "Missing or wrong credentials",
    404: "Not found",
    405: "Method not allowed (see the Allow header)",
    409: "Conflict",
    413: "Request body over the limit",
    422: "The document is invalid (the message names the bad node or field), or an "
    "Idempotency-Key was reused with another request",
    500: "The execution failed, or an internal error",
    503: "An upstream service is unavailable",
    504: "No result in time",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error answers a handler may give."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            description=_ERROR_DESCRIPTIONS.get(status, "Error"),
            generate_examples=False,
        )
        for status in statuses
    }
