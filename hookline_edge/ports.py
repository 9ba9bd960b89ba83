"""What the edge needs from the services on the webhook path, as two small ports.

``WebhookGateway`` hands a webhook call to the trigger service and returns how to
answer it; ``ResultWaiter`` waits once for an execution's response or result. The
gRPC adapters (``hookline_edge.clients.stream_ports``) carry them on long-lived streams; in one
process (``hookline dev``) the launcher plugs in adapters that call the services'
domain directly. Both raise ``hookline_runtime.errors`` exceptions (``Unavailable`` when the
service cannot be reached); a wait that the service cut short raises ``WatchCut``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "EdgePorts",
    "OutcomeKind",
    "ResultWaiter",
    "WaitRequest",
    "WatchCut",
    "WatchOutcome",
    "WebhookCall",
    "WebhookGateway",
    "WebhookReply",
]


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
class EdgePorts:
    """The webhook path's two ports, as the launcher hands them to ``create_app``."""

    webhooks: WebhookGateway
    results: ResultWaiter
