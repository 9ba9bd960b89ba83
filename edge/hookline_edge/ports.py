"""What the edge needs from the services, as small ports.

The webhook path: ``WebhookGateway`` hands a webhook call to the trigger service and
returns how to answer it; ``ResultWaiter`` waits once for an execution's response or
result. The management API: ``WorkflowAdmin`` and ``CredentialAdmin`` (the trigger
service), ``SavedExecutions`` (the execution service) and ``CachedResults`` (the
cache service). Messages are small frozen dataclasses, or JSON documents as bytes,
never protobuf. The management ports are ``runtime_checkable``: handlers receive them
by dependency injection, and Litestar checks what it injects against the annotation.

The gRPC adapters (``hookline_edge.clients.stream_ports`` for the webhook path, long-lived
streams; ``hookline_edge.clients.management``, unary calls) are what ``hookline serve``
uses; in one process (``hookline dev``) the launcher plugs in adapters that call the
services' domain directly. All raise ``hookline_runtime.errors`` exceptions
(``Unavailable`` when the service cannot be reached, ``NotFound``, ``InvalidArgument``,
... as the service's domain raised them); a wait that the service cut short raises
``WatchCut``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar, runtime_checkable

__all__ = [
    "CachedRecord",
    "CachedResults",
    "CredentialAdmin",
    "CredentialInfo",
    "EdgePorts",
    "ExecutionQuery",
    "OutcomeKind",
    "Page",
    "ResultWaiter",
    "RunCall",
    "RunReply",
    "SavedExecutions",
    "WaitRequest",
    "WatchCut",
    "WatchOutcome",
    "WebhookCall",
    "WebhookGateway",
    "WebhookReply",
    "WorkflowAdmin",
]

ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """One HTTP call to ``/webhook/{path}``, as the trigger service needs it."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...]
    body: bytes
    execution_id: str
    idempotency_key: str
    fingerprint: bytes
    """Digest of what makes two calls "the same" for the Idempotency-Key (or empty)."""


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """A started (or replayed) run, or the rejection that started nothing."""

    rejection: str | None = None
    """not_found, method_not_allowed, unauthorized, invalid_body,
    idempotency_key_reused, payload_too_large; None when a run started."""
    message: str = ""
    allowed_methods: tuple[str, ...] = ()
    execution_id: str = ""
    workflow_id: str = ""
    response_mode: str = "onReceived"
    """onReceived, lastNode or responseNode."""
    response_timeout_seconds: int = 0
    save_execution: bool = False
    replayed: bool = False


class WebhookGateway(Protocol):
    async def handle(self, call: WebhookCall) -> WebhookReply:
        """Resolve, authenticate and start the call's run (within the gateway's own
        deadline); rejections are replies, failures ``hookline_runtime.errors``."""


class OutcomeKind(enum.Enum):
    RESPONSE = "response"
    RESULT = "result"
    TIMED_OUT = "timed_out"
    NOT_KEPT = "not_kept"
    """The run ended long ago, and its record was too large to keep for repeats."""


@dataclass(frozen=True)
class WatchOutcome:
    """How a watch ended; ``payload`` is the response JSON or the record JSON."""

    kind: OutcomeKind
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class WaitRequest:
    """What to wait for, and for how long."""

    execution_id: str
    timeout_seconds: float
    accept_early_response: bool
    saved_to_database: bool
    replayed: bool = False


class WatchCut(Exception):
    """The cache service ended the wait without an outcome (it is shutting down, or
    the stream broke): wait again, elsewhere, for the time left."""


class ResultWaiter(Protocol):
    async def wait(self, request: WaitRequest) -> WatchOutcome:
        """The first response (when accepted) or the result, TIMED_OUT past the
        timeout (give or take a margin), NOT_KEPT; ``WatchCut`` or a
        ``hookline_runtime.errors`` exception otherwise."""


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One page of a list; ``next_cursor`` (opaque) is empty on the last page."""

    items: tuple[ItemT, ...]
    next_cursor: str = ""


@dataclass(frozen=True, slots=True)
class RunCall:
    """A manual run: ``POST /api/v1/workflows/{id}/run``."""

    workflow_id: str
    input_json: bytes
    """The manual node's output, as JSON."""
    execution_id: str
    """The id to give the run (a repeat under the same Idempotency-Key gets the first's)."""
    idempotency_key: str = ""
    fingerprint: bytes = b""
    """Digest of what makes two calls "the same" for the Idempotency-Key (or empty)."""


@dataclass(frozen=True, slots=True)
class RunReply:
    """A started (or repeated) manual run, with what waiting for it takes."""

    execution_id: str
    response_timeout_seconds: int
    save_execution: bool
    replayed: bool = False
    idempotency_key_reused: bool = False
    """The key came with another request: nothing was started."""


@runtime_checkable
class WorkflowAdmin(Protocol):
    """Workflows, owned by the trigger service. Documents are the workflow JSON as the
    service stores and answers it (id, timestamps and every setting filled in, webhook
    secrets masked); the edge passes them on as they are. ``InvalidArgument`` names the
    bad node or field; ``AlreadyExists`` is a webhook path another workflow owns."""

    async def create(self, document: bytes) -> bytes:
        """Store a new workflow; the stored document."""

    async def list(self, *, limit: int, cursor: str) -> Page[bytes]:
        """One page, oldest first (``limit`` 0: the default size)."""

    async def get(self, workflow_id: str) -> bytes:
        """The stored document; ``NotFound``."""

    async def replace(self, workflow_id: str, document: bytes) -> bytes:
        """Replace the whole definition; the stored document."""

    async def patch(self, workflow_id: str, patch: bytes) -> bytes:
        """Merge ``name``, ``active`` and ``settings``; the stored document."""

    async def delete(self, workflow_id: str) -> None:
        """Delete it; ``NotFound``."""

    async def run(self, call: RunCall) -> RunReply:
        """Start a manual run (or find the one its Idempotency-Key started)."""


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """A stored credential's metadata; its values never leave the trigger service."""

    id: str
    name: str
    type: str
    created_at: datetime
    updated_at: datetime


@runtime_checkable
class CredentialAdmin(Protocol):
    """Credentials, owned by the trigger service. Documents are ``{name, type, data}``
    JSON; answers are metadata. ``InvalidArgument`` names the bad field (or the bad
    cursor), ``AlreadyExists`` is a taken name or a credential active workflows use,
    ``FailedPrecondition`` a service without its encryption key."""

    async def create(self, document: bytes) -> CredentialInfo: ...

    async def list(self, *, limit: int, cursor: str) -> Page[CredentialInfo]:
        """One page, oldest first (``limit`` 0: the default size)."""

    async def get(self, credential_id: str) -> CredentialInfo: ...

    async def replace(self, credential_id: str, document: bytes) -> CredentialInfo: ...

    async def delete(self, credential_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ExecutionQuery:
    """Which saved executions to list; empty strings and 0 mean "any" and "default"."""

    workflow_id: str = ""
    status: str = ""
    """running, success or error."""
    limit: int = 0
    cursor: str = ""


@runtime_checkable
class SavedExecutions(Protocol):
    """Execution records saved to the database, read through the execution service."""

    async def list(self, query: ExecutionQuery) -> Page[bytes]:
        """Saved records (JSON), newest first; ``InvalidArgument`` for a bad cursor."""

    async def get(self, execution_id: str) -> bytes:
        """The saved record (JSON; it may still be ``running``); ``NotFound``."""


@dataclass(frozen=True, slots=True)
class CachedRecord:
    """A record in the result cache, and when it leaves it (None: no expiry)."""

    record_json: bytes
    expires_at: datetime | None


@runtime_checkable
class CachedResults(Protocol):
    """Finished records in the cache service's result cache."""

    async def get(self, execution_id: str) -> CachedRecord:
        """The cached record; ``NotFound`` once its TTL has passed (or never stored)."""


@dataclass(frozen=True, slots=True)
class EdgePorts:
    """Every port of the edge, as the launcher hands them to ``create_app``."""

    webhooks: WebhookGateway
    results: ResultWaiter
    workflows: WorkflowAdmin
    credentials: CredentialAdmin
    executions: SavedExecutions
    cached_results: CachedResults
