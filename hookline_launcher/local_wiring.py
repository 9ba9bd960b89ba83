"""In-process adapters of the webhook path's ports, for the four services in one
process (``hookline_launcher.stack.LocalStack``, which ``hookline dev`` runs).

Each adapter implements a port one service already calls and calls the other
service's domain directly: no gRPC, no serialisation on the way.

- ``LocalWebhookGateway``: the edge's ``WebhookGateway`` → the trigger's webhook
  handler (the same ``CountedWebhooks`` its ``HandleWebhook`` method calls);
- ``LocalResultWaiter``: the edge's ``ResultWaiter`` → ``ResultDelivery.watch``;
- ``LocalResultSink``: the execution service's ``ResultSink`` →
  ``ResultDelivery.store``;
- ``LocalExecutionStarter``: the trigger's direct ``ExecutionStarter`` (used when the
  run queue is absent or down) → the execution service's ``RunIntake``.

Errors are the domains' own ``hookline_runtime.errors`` exceptions, translated only where the
port promises others (``ResultTooLarge``, ``WatchCut``), as the gRPC adapters do.
"""

from __future__ import annotations

import asyncio
import json

from hookline_cache.domain.delivery import ResultDelivery
from hookline_cache.domain.model import Delivered, Subscribed, WatchEvent, WatchRequest
from hookline_cache.storage.base import Kind
from hookline_edge.clients.upstreams import CALL_TIMEOUT_SECONDS, WATCH_MARGIN_SECONDS
from hookline_edge.ports import (
    OutcomeKind,
    WaitRequest,
    WatchCut,
    WatchOutcome,
    WebhookCall,
    WebhookReply,
)
from hookline_execution.domain.intake import RunIntake
from hookline_execution.domain.ports import ResultTooLarge
from hookline_execution.domain.service import StartRequest as RunRequest
from hookline_runtime.errors import HooklineError, ResourceExhausted, StartUncertain, Unavailable
from hookline_runtime.transport.status import grpc_code_for
from hookline_trigger.domain import webhook_request
from hookline_trigger.domain.records import StartRequest
from hookline_trigger.metrics import CountedWebhooks

__all__ = [
    "LocalExecutionStarter",
    "LocalResultSink",
    "LocalResultWaiter",
    "LocalWebhookGateway",
]


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
        outcome: WatchOutcome | None = None
        try:
            async with asyncio.timeout(request.timeout_seconds + WATCH_MARGIN_SECONDS):
                # Run the watch to its end, as the gRPC servicer does: it logs the
                # delivery after handing the outcome over.
                async for event in self._delivery.watch(watch):
                    if not isinstance(event, Subscribed):
                        outcome = _outcome(event)
        except TimeoutError:
            return WatchOutcome(OutcomeKind.TIMED_OUT)
        except Unavailable as exc:
            raise WatchCut(exc.message) from None
        if outcome is None:
            raise WatchCut("the watch ended without a result")
        return outcome


def _outcome(event: WatchEvent) -> WatchOutcome:
    if not isinstance(event, Delivered):
        return WatchOutcome(OutcomeKind.TIMED_OUT)
    if event.kind is Kind.RESPONSE:
        return WatchOutcome(OutcomeKind.RESPONSE, event.payload)
    if event.kind is Kind.KEPT:
        return WatchOutcome(OutcomeKind.NOT_KEPT)
    return WatchOutcome(OutcomeKind.RESULT, event.payload)


class LocalResultSink:
    """``hookline_execution.domain.ports.ResultSink`` storing through
    ``ResultDelivery`` (errors as the gRPC sink reports them)."""

    def __init__(self, delivery: ResultDelivery) -> None:
        self._delivery = delivery

    async def store_result(
        self, execution_id: str, record_json: bytes, ttl_seconds: int, keep_seconds: int = 0
    ) -> None:
        try:
            await self._delivery.store(
                Kind.RESULT, execution_id, record_json, ttl_seconds, keep_seconds
            )
        except ResourceExhausted as exc:
            raise ResultTooLarge(exc.message) from exc
        except HooklineError as exc:
            raise Unavailable(f"cache service: {grpc_code_for(exc).name}: {exc.message}") from exc

    async def store_response(
        self, execution_id: str, response_json: bytes, ttl_seconds: int
    ) -> None:
        try:
            await self._delivery.store(Kind.RESPONSE, execution_id, response_json, ttl_seconds)
        except HooklineError as exc:
            raise Unavailable(f"cache service: {grpc_code_for(exc).name}: {exc.message}") from exc


class LocalExecutionStarter:
    """The trigger's direct ``ExecutionStarter``: hands runs to this process's
    execution service intake, which runs them here (not durable, as over gRPC)."""

    def __init__(self, intake: RunIntake) -> None:
        self._intake = intake

    async def start(self, request: StartRequest) -> None:
        await self._intake.submit(
            RunRequest(
                execution_id=request.execution_id,
                workflow=json.loads(request.workflow_json),
                trigger_output=request.trigger_output,
                mode=request.mode.value,
                publish_early_response=request.publish_early_response,
                keep_result_seconds=request.keep_result_seconds,
            ),
            direct=True,
        )
