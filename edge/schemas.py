"""HTTP bodies the edge builds itself (documented in the OpenAPI schema).

Workflow documents and execution records are passed through as the services' JSON
bytes; these are the small answers the edge composes.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec

__all__ = [
    "ErrorBody",
    "Liveness",
    "Page",
    "Readiness",
    "RunStarted",
    "WebhookStarted",
    "error_responses",
]


class ErrorBody(msgspec.Struct, rename="camel"):
    """Every error answer: a short code and a message, plus context fields."""

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


class Readiness(msgspec.Struct):
    """``checks`` maps trigger/execution/cache to ok|down and redis to
    ok|down|not_configured|unknown."""

    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, str]


class Page(msgspec.Struct, rename="camel"):
    """One page of workflows or executions (documentation only: built from bytes)."""

    data: list[dict[str, Any]]
    next_cursor: str | None


_ERROR_DESCRIPTIONS = {
    400: "Bad request (invalid JSON, bad parameter, unparseable body)",
    401: "Missing or wrong credentials",
    404: "Not found",
    405: "Method not allowed (see the Allow header)",
    409: "Conflict",
    413: "Request body over the limit",
    422: "The workflow is invalid",
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
        )
        for status in statuses
    }
