"""The OpenAPI document at ``/schema/openapi.json``, made to say what the API does.

Litestar writes the document from the handlers. Three things it cannot be told there
are finished here, once, for every operation (the console's and the credentials'
included):

- every error answer (status 400 and up) is ``ErrorBody`` ``{error, message, ...}``,
  the shape ``hookline_edge.exception_handlers`` renders; Litestar would document its own
  ``{status_code, detail}`` for the 400s its validation raises;
- a ``503`` carries ``Retry-After`` and a ``405`` carries ``Allow``;
- with an API key configured, ``/api/v1`` declares the ``X-API-Key`` security scheme.

Request bodies the handlers read as raw bytes (workflow documents, run inputs,
webhook payloads) and the ``Idempotency-Key`` request header are declared per
handler with ``operation_class=body_operation(...)``; a body schema named with
``body_schema_ref(Struct)`` (one of ``hookline_edge.schemas.REQUEST_BODIES``) is added to the components here (msgspec writes it).

``OpenAPIJson`` is the render plugin that serves the finished document.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType

from hookline_edge.auth import API_KEY_HEADER
from hookline_edge.errors import EXECUTION_ID_HEADER
from hookline_edge.idempotency import MAX_KEY_LENGTH, REPLAYED_HEADER
from hookline_edge.schemas import REQUEST_BODIES

__all__ = [
    "ANY_JSON",
    "IDEMPOTENCY_KEY_PATTERN",
    "OpenAPIJson",
    "body_operation",
    "body_schema_ref",
    "finish_document",
]

ERROR_BODY_REF = "#/components/schemas/ErrorBody"
API_PREFIX = "/api/v1"
SECURITY_SCHEME = "apiKey"

COMPONENT_REF = "#/components/schemas/{name}"

ANY_JSON = Schema(description="Any JSON value")

IDEMPOTENCY_KEY_PATTERN = rf"^[!-~][ -~]{{0,{MAX_KEY_LENGTH - 1}}}$"
"""1..255 visible ASCII characters, first not a space (DESIGN.md section 8). The edge
also takes the key as a quoted string (``"abc"``), the draft's structured-field form."""

_IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    description="Makes a repeat of this request (same method, path, query, Content-Type "
    "and body, within HOOKLINE_IDEMPOTENCY_TTL_SECONDS) answer with the first one's "
    "execution and response, with Idempotent-Replayed: true, instead of starting a run. "
    "The same key with another request is 422 idempotency_key_reused; a malformed key "
    "is 400.",
    schema=Schema(
        type=OpenAPIType.STRING,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=IDEMPOTENCY_KEY_PATTERN,
    ),
)

_SUCCESS_HEADERS = {
    EXECUTION_ID_HEADER: OpenAPIHeader(
        description="The execution this call started (or replayed).",
        schema=Schema(type=OpenAPIType.STRING),
    ),
    REPLAYED_HEADER: OpenAPIHeader(
        description="`true` when the answer repeats an earlier request's (same Idempotency-Key).",
        schema=Schema(type=OpenAPIType.STRING, enum=["true"]),
    ),
}

_ERROR_HEADERS: dict[str, dict[str, dict[str, Any]]] = {
    "405": {
        "Allow": {
            "description": "The methods this path accepts.",
            "schema": {"type": "string"},
        }
    },
    "503": {
        "Retry-After": {
            "description": "Seconds to wait before trying again; nothing was started.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}


def body_operation(
    body: Mapping[str, Schema | Reference],
    *,
    required: bool,
    description: str,
    idempotent: bool = False,
    other_answers: str | None = None,
) -> type[Operation]:
    """An ``operation_class`` for a handler that reads its body raw: the body's media
    types and schemas; with ``idempotent`` the ``Idempotency-Key`` header and the
    headers of a started or replayed run on the success answers; with
    ``other_answers`` a ``default`` response of any status and content so described."""

    @dataclass
    class RawBodyOperation(Operation):
        def __post_init__(self) -> None:
            if other_answers is not None:
                self.responses = {
                    **(self.responses or {}),
                    "default": OpenAPIResponse(
                        description=other_answers,
                        content={"*/*": OpenAPIMediaType(schema=Schema())},
                        headers=dict(_SUCCESS_HEADERS),
                    ),
                }
            self.request_body = RequestBody(
                content={media: OpenAPIMediaType(schema=schema) for media, schema in body.items()},
                required=required,
                description=description,
            )
            if not idempotent:
                return
            self.parameters = [*(self.parameters or []), _IDEMPOTENCY_KEY]
            for status, response in (self.responses or {}).items():
                if status[0] in "2d" and not isinstance(response, Reference):
                    response.headers = {**(response.headers or {}), **_SUCCESS_HEADERS}

    return RawBodyOperation


def body_schema_ref(struct: type[msgspec.Struct]) -> Reference:
    """A reference to the schema of ``struct``, one of ``REQUEST_BODIES`` (which
    ``finish_document`` adds to the components)."""
    if struct not in REQUEST_BODIES:
        raise ValueError(f"{struct.__name__} is not in hookline_edge.schemas.REQUEST_BODIES")
    return Reference(COMPONENT_REF.format(name=struct.__name__))


def _add_body_schemas(components: dict[str, Any]) -> None:
    _, schemas = msgspec.json.schema_components(REQUEST_BODIES, ref_template=COMPONENT_REF)
    stored = components.setdefault("schemas", {})
    for name, schema in schemas.items():
        stored.setdefault(name, schema)  # Litestar's own wins for shared parts


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}}


def _finish_operation(path: str, operation: dict[str, Any], *, secured: bool) -> None:
    for status, response in operation.get("responses", {}).items():
        if not status.isdigit() or int(status) < 400 or "$ref" in response:
            continue
        response["content"] = _error_content()
        if status in _ERROR_HEADERS:
            response["headers"] = {**response.get("headers", {}), **_ERROR_HEADERS[status]}
    if secured and path.startswith(API_PREFIX):
        operation["security"] = [{SECURITY_SCHEME: []}]
        operation["responses"].setdefault(
            "401",
            {"description": f"Missing or wrong {API_KEY_HEADER}", "content": _error_content()},
        )


def finish_document(document: Mapping[str, Any], *, api_key_required: bool) -> dict[str, Any]:
    """A copy of Litestar's ``document`` with the module docstring's rules applied."""
    finished = copy.deepcopy(dict(document))
    _add_body_schemas(finished.setdefault("components", {}))
    for path, item in finished.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch", "options", "head"):
                _finish_operation(path, operation, secured=api_key_required)
    if api_key_required:
        components = finished.setdefault("components", {})
        components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
            "type": "apiKey",
            "in": "header",
            "name": API_KEY_HEADER,
            "description": "HOOKLINE_API_KEY; required on /api/v1.",
        }
    return finished


class OpenAPIJson(JsonRenderPlugin):
    """Serves ``finish_document`` of the app's document at ``/schema/openapi.json``."""

    def __init__(self, *, api_key_required: bool) -> None:
        super().__init__()
        self._api_key_required = api_key_required
        self._rendered: tuple[int, bytes] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        # Litestar builds the document once and hands the same dict every time.
        if self._rendered is None or self._rendered[0] != id(openapi_schema):
            finished = finish_document(openapi_schema, api_key_required=self._api_key_required)
            self._rendered = (id(openapi_schema), self.render_json(request, finished))
        return self._rendered[1]
