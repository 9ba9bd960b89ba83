"""``/api/v1/credentials``: credentials through the ``CredentialAdmin`` port (the
trigger service; ``hookline_edge.ports``), one call per request, metadata only.

POST and PUT bodies are ``{name, type, data}`` (the values, write-only); every answer
is metadata ``{id, name, type, createdAt, updatedAt}``. Bodies are checked for JSON
here and validated by the trigger service: a bad field is 422 naming it (no value is
ever repeated). Deleting, renaming or retyping a credential that active workflows use
is 409 naming them. Without HOOKLINE_ENCRYPTION_KEY on the trigger service, storing
one is 503 ``encryption_key_missing``: the server is not set up to keep credentials,
and the message says which variable to set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import grpc
from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath, QueryParameter

from hookline_edge.credential_schemas import CredentialMetadata, CredentialPage, metadata_of
from hookline_edge.errors import EdgeError, from_status
from hookline_edge.json_body import read_json_body
from hookline_edge.ports import CredentialAdmin, CredentialInfo
from hookline_edge.schemas import error_responses
from hookline_runtime.errors import FailedPrecondition, HooklineError
from hookline_runtime.transport.status import grpc_code_for

__all__ = ["CredentialController"]

ENCRYPTION_KEY_MISSING = "encryption_key_missing"


_BODY_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["name", "type"],
    properties={
        "name": Schema(type=OpenAPIType.STRING, description="Unique; workflows use it."),
        "type": Schema(type=OpenAPIType.STRING, enum=["httpHeader", "httpBasic", "bearer", "hmac"]),
        "data": Schema(
            type=OpenAPIType.OBJECT,
            description="The values (write-only), by type: httpHeader {name, value}, "
            "httpBasic {username, password}, bearer {token}, hmac {secret}. Required on "
            "POST; on PUT, leave it out to keep the stored values (same type only).",
            additional_properties=Schema(type=OpenAPIType.STRING),
        ),
    },
)


@dataclass
class _CredentialBodyOperation(Operation):
    """The OpenAPI operation of a handler that reads ``{name, type, data}`` raw."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={"application/json": OpenAPIMediaType(schema=_BODY_SCHEMA)},
            required=True,
        )


@contextmanager
def _trigger_errors(invalid_status: int = 422) -> Iterator[None]:
    """Failed trigger calls as ``EdgeError``s; a missing key keeps its message. Invalid
    credentials are 422 (``invalid_status``); a bad query (a cursor) is 400."""
    try:
        yield
    except FailedPrecondition as exc:
        raise EdgeError(
            503,
            exc.message or "credentials cannot be stored: set HOOKLINE_ENCRYPTION_KEY",
            error=ENCRYPTION_KEY_MISSING,
        ) from None
    except HooklineError as exc:
        raise from_status(
            grpc_code_for(exc),
            exc.message,
            upstream="trigger",
            status_override={grpc.StatusCode.INVALID_ARGUMENT: invalid_status},
        ) from None


async def _store(
    request: Request[Any, Any, Any], send: Callable[[bytes], Awaitable[CredentialInfo]]
) -> CredentialMetadata:
    """Read the ``{name, type, data}`` body, ``send`` it to the trigger service (one
    call) and answer the stored credential's metadata."""
    body = await read_json_body(request)
    with _trigger_errors():
        stored = await send(body)
    return metadata_of(stored)


class CredentialController(Controller):
    path = "/credentials"
    tags = ("credentials",)

    @post(
        "/",
        operation_id="createCredential",
        operation_class=_CredentialBodyOperation,
        summary="Create a credential",
        description="Answers the metadata; the values are never returned.",
        status_code=201,
        responses=error_responses(400, 401, 409, 422, 503),
    )
    async def create_credential(
        self, request: Request[Any, Any, Any], credentials: NamedDependency[CredentialAdmin]
    ) -> CredentialMetadata:
        return await _store(request, credentials.create)

    @get(
        "/",
        operation_id="listCredentials",
        summary="List credentials (metadata only), oldest first",
        responses=error_responses(400, 401),
    )
    async def list_credentials(
        self,
        credentials: NamedDependency[CredentialAdmin],
        limit: Annotated[int | None, QueryParameter(ge=1, le=100, description="Page size")] = None,
        cursor: Annotated[str | None, QueryParameter(description="From nextCursor")] = None,
    ) -> CredentialPage:
        with _trigger_errors(invalid_status=400):
            page = await credentials.list(limit=limit or 0, cursor=cursor or "")
        return CredentialPage(
            data=[metadata_of(c) for c in page.items], next_cursor=page.next_cursor or None
        )

    @get(
        "/{credential_id:str}",
        operation_id="getCredential",
        summary="Get a credential's metadata",
        responses=error_responses(401, 404),
    )
    async def get_credential(
        self, credential_id: FromPath[str], credentials: NamedDependency[CredentialAdmin]
    ) -> CredentialMetadata:
        with _trigger_errors():
            stored = await credentials.get(credential_id)
        return metadata_of(stored)

    @put(
        "/{credential_id:str}",
        operation_id="replaceCredential",
        operation_class=_CredentialBodyOperation,
        summary="Replace a credential's name, type and values",
        responses=error_responses(400, 401, 404, 409, 422, 503),
    )
    async def replace_credential(
        self,
        credential_id: FromPath[str],
        request: Request[Any, Any, Any],
        credentials: NamedDependency[CredentialAdmin],
    ) -> CredentialMetadata:
        return await _store(request, partial(credentials.replace, credential_id))

    @delete(
        "/{credential_id:str}",
        operation_id="deleteCredential",
        summary="Delete a credential",
        description="409 naming the active workflows that use it.",
        responses=error_responses(401, 404, 409),
    )
    async def delete_credential(
        self, credential_id: FromPath[str], credentials: NamedDependency[CredentialAdmin]
    ) -> None:
        with _trigger_errors():
            await credentials.delete(credential_id)
