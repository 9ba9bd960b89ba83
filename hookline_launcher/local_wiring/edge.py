"""The edge's ports (``hookline_edge.ports``) in one process: each adapter calls the
domain object the matching gRPC servicer calls, with the same deadline.

- ``LocalWebhookGateway`` → the trigger's webhook handler (``CountedWebhooks``, what
  ``HandleWebhook`` calls);
- ``LocalResultWaiter`` → ``ResultDelivery.watch`` (``WatchResult``);
- ``LocalWorkflowAdmin`` → ``WorkflowManager`` and ``ManualRunner`` (the workflow
  methods and ``RunWorkflow``);
- ``LocalCredentialAdmin`` → ``CredentialManager`` (the credential methods);
- ``LocalSavedExecutions`` → ``ExecutionService.get`` / ``.list``
  (``GetExecution``, ``ListExecutions``);
- ``LocalCachedResults`` → ``ResultDelivery.get_result`` (``GetResult``).

Errors are the domains' own ``hookline_runtime.errors`` exceptions, the ones the servicers
turn into status codes and the gRPC adapters turn back: the edge answers the same
status and body either way. Where the port promises another (``WatchCut``), it is
raised as the gRPC adapter does.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from hookline_cache.domain.delivery import ResultDelivery
from hookline_cache.domain.model import Delivered, WatchEvent, WatchRequest
from hookline_cache.storage.base import Kind
from hookline_edge.clients.upstreams import CALL_TIMEOUT_SECONDS, WATCH_MARGIN_SECONDS
from hookline_edge.ports import (
    CachedRecord,
    CredentialInfo,
    ExecutionQuery,
    OutcomeKind,
    Page,
    RunCall,
    RunReply,
    WaitRequest,
    WatchCut,
    WatchOutcome,
    WebhookCall,
    WebhookReply,
)
from hookline_execution.domain.service import ExecutionService
from hookline_launcher.local_wiring.calls import deadline, last_event
from hookline_runtime.errors import StartUncertain, Unavailable
from hookline_trigger.domain import webhook_request
from hookline_trigger.domain.credential_types import CredentialRecord
from hookline_trigger.domain.credentials import CredentialManager
from hookline_trigger.domain.manual_runs import ManualRunner
from hookline_trigger.domain.workflows import WorkflowManager
from hookline_trigger.metrics import CountedWebhooks

__all__ = [
    "LocalCachedResults",
    "LocalCredentialAdmin",
    "LocalResultWaiter",
    "LocalSavedExecutions",
    "LocalWebhookGateway",
    "LocalWorkflowAdmin",
]

_TRIGGER = "the trigger service"
_EXECUTION = "the execution service"
_CACHE = "the cache service"


class LocalWebhookGateway:
    """``hookline_edge.ports.WebhookGateway`` calling the trigger's webhook handler."""

    def __init__(self, webhooks: CountedWebhooks, *, timeout: float = CALL_TIMEOUT_SECONDS):
        self._webhooks = webhooks
        self._timeout = timeout

    async def handle(self, call: WebhookCall) -> WebhookReply:
        try:
            async with asyncio.timeout(self._timeout):
                outcome = await self._webhooks.handle(
                    webhook_request.WebhookCall(
                        method=call.method,
                        path=call.path,
                        headers=call.headers,
                        query=call.query,
                        body=call.body,
                        execution_id=call.execution_id,
                        idempotency_key=call.idempotency_key,
                        fingerprint=call.fingerprint.hex(),
                    )
                )
        except TimeoutError:
            raise StartUncertain("the trigger service did not answer in time") from None
        return WebhookReply(
            rejection=outcome.rejection.value if outcome.rejection is not None else None,
            message=outcome.message,
            allowed_methods=tuple(outcome.allowed_methods),
            execution_id=outcome.execution_id,
            workflow_id=outcome.workflow_id,
            response_mode=outcome.response_mode or "onReceived",
            response_timeout_seconds=outcome.response_timeout_seconds,
            save_execution=outcome.save_execution,
            replayed=outcome.replayed,
        )


class LocalResultWaiter:
    """``hookline_edge.ports.ResultWaiter`` iterating ``ResultDelivery.watch``."""

    def __init__(self, delivery: ResultDelivery) -> None:
        self._delivery = delivery

    async def wait(self, request: WaitRequest) -> WatchOutcome:
        watch = WatchRequest(
            execution_id=request.execution_id,
            timeout_seconds=request.timeout_seconds,
            accept_response=request.accept_early_response,
            saved_to_database=request.saved_to_database,
            replayed=request.replayed,
        )
        try:
            async with asyncio.timeout(request.timeout_seconds + WATCH_MARGIN_SECONDS):
                event = await last_event(self._delivery, watch)
        except TimeoutError:
            return WatchOutcome(OutcomeKind.TIMED_OUT)
        except Unavailable as exc:
            raise WatchCut(exc.message) from None
        if event is None:
            raise WatchCut("the watch ended without a result")
        return _outcome(event)


def _outcome(event: WatchEvent) -> WatchOutcome:
    if not isinstance(event, Delivered):
        return WatchOutcome(OutcomeKind.TIMED_OUT)
    if event.kind is Kind.RESPONSE:
        return WatchOutcome(OutcomeKind.RESPONSE, event.payload)
    if event.kind is Kind.KEPT:
        return WatchOutcome(OutcomeKind.NOT_KEPT)
    return WatchOutcome(OutcomeKind.RESULT, event.payload)


class LocalWorkflowAdmin:
    """``hookline_edge.ports.WorkflowAdmin`` calling the trigger's ``WorkflowManager`` and
    ``ManualRunner``; answers show webhook secrets masked, as ``GetWorkflow``'s do."""

    def __init__(
        self,
        workflows: WorkflowManager,
        runs: ManualRunner,
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._workflows = workflows
        self._runs = runs
        self._timeout = timeout

    async def create(self, document: bytes) -> bytes:
        async with deadline(self._timeout, _TRIGGER):
            record = await self._workflows.create(document)
        return record.public_definition_bytes

    async def list(self, *, limit: int, cursor: str) -> Page[bytes]:
        async with deadline(self._timeout, _TRIGGER):
            page = await self._workflows.list(limit=limit, cursor=cursor)
        return Page(tuple(r.public_definition_bytes for r in page.workflows), page.next_cursor)

    async def get(self, workflow_id: str) -> bytes:
        async with deadline(self._timeout, _TRIGGER):
            record = await self._workflows.get(workflow_id)
        return record.public_definition_bytes

    async def replace(self, workflow_id: str, document: bytes) -> bytes:
        async with deadline(self._timeout, _TRIGGER):
            record = await self._workflows.replace(workflow_id, document)
        return record.public_definition_bytes

    async def patch(self, workflow_id: str, patch: bytes) -> bytes:
        async with deadline(self._timeout, _TRIGGER):
            record = await self._workflows.patch(workflow_id, patch)
        return record.public_definition_bytes

    async def delete(self, workflow_id: str) -> None:
        async with deadline(self._timeout, _TRIGGER):
            await self._workflows.delete(workflow_id)

    async def run(self, call: RunCall) -> RunReply:
        async with deadline(self._timeout, _TRIGGER):
            run = await self._runs.run(
                call.workflow_id,
                call.input_json,
                call.execution_id,
                idempotency_key=call.idempotency_key,
                fingerprint=call.fingerprint.hex(),
            )
        return RunReply(
            execution_id=run.execution_id,
            response_timeout_seconds=run.response_timeout_seconds,
            save_execution=run.save_execution,
            replayed=run.replayed,
            idempotency_key_reused=run.idempotency_key_reused,
        )


def _credential_info(record: CredentialRecord) -> CredentialInfo:
    """The metadata of ``record``; its sealed values stay behind."""
    return CredentialInfo(
        id=record.id,
        name=record.name,
        type=record.type,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


class LocalCredentialAdmin:
    """``hookline_edge.ports.CredentialAdmin`` calling the trigger's ``CredentialManager``."""

    def __init__(
        self, credentials: CredentialManager, *, timeout: float = CALL_TIMEOUT_SECONDS
    ) -> None:
        self._credentials = credentials
        self._timeout = timeout

    async def create(self, document: bytes) -> CredentialInfo:
        async with deadline(self._timeout, _TRIGGER):
            record = await self._credentials.create(document)
        return _credential_info(record)

    async def list(self, *, limit: int, cursor: str) -> Page[CredentialInfo]:
        async with deadline(self._timeout, _TRIGGER):
            page = await self._credentials.list(limit=limit, cursor=cursor)
        return Page(tuple(_credential_info(r) for r in page.credentials), page.next_cursor)

    async def get(self, credential_id: str) -> CredentialInfo:
        async with deadline(self._timeout, _TRIGGER):
            record = await self._credentials.get(credential_id)
        return _credential_info(record)

    async def replace(self, credential_id: str, document: bytes) -> CredentialInfo:
        async with deadline(self._timeout, _TRIGGER):
            record = await self._credentials.replace(credential_id, document)
        return _credential_info(record)

    async def delete(self, credential_id: str) -> None:
        async with deadline(self._timeout, _TRIGGER):
            await self._credentials.delete(credential_id)


class LocalSavedExecutions:
    """``hookline_edge.ports.SavedExecutions`` calling ``ExecutionService``."""

    def __init__(self, service: ExecutionService, *, timeout: float = CALL_TIMEOUT_SECONDS):
        self._service = service
        self._timeout = timeout

    async def list(self, query: ExecutionQuery) -> Page[bytes]:
        async with deadline(self._timeout, _EXECUTION):
            page = await self._service.list(
                workflow_id=query.workflow_id or None,
                status=query.status or None,
                limit=query.limit,
                cursor=query.cursor or None,
            )
        return Page(tuple(page.records), page.next_cursor or "")

    async def get(self, execution_id: str) -> bytes:
        async with deadline(self._timeout, _EXECUTION):
            return await self._service.get(execution_id)


class LocalCachedResults:
    """``hookline_edge.ports.CachedResults`` calling ``ResultDelivery.get_result``."""

    def __init__(self, delivery: ResultDelivery, *, timeout: float = CALL_TIMEOUT_SECONDS):
        self._delivery = delivery
        self._timeout = timeout

    async def get(self, execution_id: str) -> CachedRecord:
        async with deadline(self._timeout, _CACHE):
            cached = await self._delivery.get_result(execution_id)
        if cached.ttl_ms is None:
            return CachedRecord(cached.payload, None)
        # As GetResult reports it: the expiry in whole milliseconds of Unix time.
        expires_ms = time.time_ns() // 1_000_000 + cached.ttl_ms
        expires_at = datetime.fromtimestamp(expires_ms // 1000, UTC) + timedelta(
            milliseconds=expires_ms % 1000
        )
        return CachedRecord(cached.payload, expires_at)
