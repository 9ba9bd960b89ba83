"""Answering a webhook call: resolve the route, authenticate, parse the body, start
the execution. Rejections are outcomes, not errors; only a failure to start the run
(``Unavailable`` and friends) raises."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from hookline_runtime.ids import new_id
from hookline_runtime.logs import bind_execution, get_logger
from hookline_trigger.domain.idempotency import Idempotency, RequestKey
from hookline_trigger.domain.ports import ExecutionStarter
from hookline_trigger.domain.records import (
    ExecutionMode,
    StartRequest,
    WebhookRoute,
    encode_trigger_output,
)
from hookline_trigger.domain.snapshot import MethodNotAllowed
from hookline_trigger.domain.trigger_index import TriggerIndex
from hookline_trigger.domain.webhook_auth import authenticate, secret_headers
from hookline_trigger.domain.webhook_credentials import (
    AuthUnresolvable,
    CredentialResolver,
    resolve_auth,
)
from hookline_trigger.domain.webhook_request import (
    InvalidBody,
    WebhookCall,
    parse_body,
    trigger_output,
)

__all__ = ["Rejection", "WebhookHandler", "WebhookOutcome"]

log = get_logger(__name__)


class Rejection(enum.Enum):
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNAUTHORIZED = "unauthorized"
    INVALID_BODY = "invalid_body"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    PAYLOAD_TOO_LARGE = "payload_too_large"


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """Either a rejection (with its message) or the started execution."""

    rejection: Rejection | None = None
    message: str = ""
    allowed_methods: tuple[str, ...] = ()
    execution_id: str = ""
    workflow_id: str = ""
    response_mode: str = ""
    response_timeout_seconds: int = 0
    save_execution: bool = False
    replayed: bool = False


class WebhookHandler:
    def __init__(
        self,
        index: TriggerIndex,
        starter: ExecutionStarter,
        idempotency: Idempotency,
        *,
        credentials: CredentialResolver | None = None,
        max_record_bytes: int = 48 * 1024 * 1024,
    ) -> None:
        """``credentials`` resolves webhook auth that names a credential;
        ``max_record_bytes`` is the cap on execution records (HOOKLINE_MAX_RESULT_BYTES)."""
        self._index = index
        self._starter = starter
        self._idempotency = idempotency
        self._credentials = credentials
        self._max_record_bytes = max_record_bytes

    async def _resolve(self, method: str, path: str) -> WebhookRoute | WebhookOutcome:
        found = self._index.snapshot.resolve(method, path)
        if not isinstance(found, WebhookRoute):
            found = (await self._index.reload_after_miss()).resolve(method, path)
        if isinstance(found, WebhookRoute):
            return found
        if isinstance(found, MethodNotAllowed):
            return WebhookOutcome(
                Rejection.METHOD_NOT_ALLOWED,
                f"/webhook/{path} does not accept {method}; it accepts {', '.join(found.allowed)}",
                allowed_methods=found.allowed,
            )
        return WebhookOutcome(
            Rejection.NOT_FOUND, f"no active workflow has webhook /webhook/{path}"
        )

    async def handle(self, call: WebhookCall) -> WebhookOutcome:
        method, path = call.method.upper(), call.path.strip("/")
        route = await self._resolve(method, path)
        if isinstance(route, WebhookOutcome):
            return route
        headers = call.header_values
        try:
            auth = await resolve_auth(route.params.auth, self._credentials)
        except AuthUnresolvable as exc:
            log.warning(
                "Webhook auth credential unusable", workflow_id=route.workflow_id, reason=exc.reason
            )
            return WebhookOutcome(Rejection.UNAUTHORIZED, "authentication failed")
        if not authenticate(auth, headers, call.body):
            log.info(
                "Webhook call failed authentication",
                workflow_id=route.workflow_id,
                path=path,
                auth=auth.type if auth else None,
            )
            return WebhookOutcome(Rejection.UNAUTHORIZED, "authentication failed")
        try:
            body = parse_body(headers, call.body)
        except InvalidBody as exc:
            return WebhookOutcome(Rejection.INVALID_BODY, str(exc))

        execution_id = call.execution_id or new_id()
        response_mode = route.params.responseMode
        started = WebhookOutcome(
            execution_id=execution_id,
            workflow_id=route.workflow_id,
            response_mode=response_mode,
            response_timeout_seconds=route.settings.responseTimeoutSeconds,
            save_execution=route.settings.saveExecutionToDatabase,
        )
        output = trigger_output(
            method=method,
            path=path,
            headers=headers,
            query=call.query,
            body=body,
            hidden_headers=secret_headers(auth),
        )
        output_json = encode_trigger_output(output)
        if too_large := self._too_large(len(output_json), route.input_copies):
            return WebhookOutcome(Rejection.PAYLOAD_TOO_LARGE, too_large)
        bind_execution(execution_id)
        key = (
            RequestKey(route.workflow_id, call.idempotency_key, call.fingerprint)
            if call.idempotency_key
            else None
        )
        request = StartRequest(
            execution_id=execution_id,
            workflow_json=route.definition,
            workflow=route.document,
            mode=ExecutionMode.WEBHOOK,
            trigger_output=output,
            trigger_output_json=output_json,
            publish_early_response=response_mode == "responseNode",
        )
        decision = await self._idempotency.start_once(request, key, self._starter)
        if decision.reused:
            return WebhookOutcome(
                Rejection.IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was already used with a different request",
                execution_id=decision.execution_id,
            )
        return replace(started, execution_id=decision.execution_id, replayed=decision.replayed)

    def _too_large(self, output_bytes: int, copies: int) -> str:
        """Why this call's record could not be delivered, or "" when it fits: the
        record holds the trigger output up to ``copies`` times (the workflow carries
        it on), and records are capped at ``max_record_bytes``."""
        if output_bytes * copies <= self._max_record_bytes:
            return ""
        fits = self._max_record_bytes // copies
        return (
            f"the request makes a {output_bytes}-byte trigger output, which this workflow "
            f"carries into {copies} places of its execution record: over the record limit "
            f"of {self._max_record_bytes} bytes (HOOKLINE_MAX_RESULT_BYTES). This webhook "
            f"takes up to about {fits} bytes"
        )
