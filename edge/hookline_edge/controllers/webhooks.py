"""``{GET,POST,PUT,PATCH,DELETE} /webhook/{path}``: hand the call to the trigger service,
then answer at once (onReceived) or wait for the run's response or result through the
cache service (lastNode, responseNode) — both through the ports of ``hookline_edge.ports``
(``state.webhooks``, ``state.results``), never through stubs."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from litestar import Controller, Request, Response, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath

from hookline_edge.clients.watch import wait_for_caller, watch_result
from hookline_edge.errors import (
    CLIENT_CLOSED_REQUEST,
    EXECUTION_ID_HEADER,
    EdgeError,
    timeout_error,
    upstream_errors,
)
from hookline_edge.idempotency import (
    REPLAYED_HEADER,
    fingerprint,
    idempotency_key,
    not_kept,
)
from hookline_edge.metrics import EdgeMetrics
from hookline_edge.openapi import ANY_JSON, body_operation
from hookline_edge.ports import (
    OutcomeKind,
    ResultWaiter,
    WatchOutcome,
    WebhookCall,
    WebhookGateway,
    WebhookReply,
)
from hookline_edge.rendering import render_node_response, render_record
from hookline_edge.schemas import WebhookStarted, documented, error_responses
from hookline_edge.wait_plans import WaitPlan, WaitPlans, discard
from hookline_runtime.ids import new_id
from hookline_runtime.logs import bind_execution, get_logger
from hookline_runtime.strict_json import MAX_JSON_DEPTH

__all__ = ["WebhookController"]

log = get_logger(__name__)

WEBHOOK_METHODS = [
    HttpMethod.GET,
    HttpMethod.POST,
    HttpMethod.PUT,
    HttpMethod.PATCH,
    HttpMethod.DELETE,
]

_WAITING_MODES = frozenset({"lastNode", "responseNode"})

DEFAULT_RESPONSE_TIMEOUT_SECONDS = 30

_REJECTIONS: dict[str, tuple[int, str, str]] = {
    "not_found": (404, "not_found", "no active workflow has this webhook path"),
    "method_not_allowed": (
        405,
        "method_not_allowed",
        "this webhook path does not accept this method",
    ),
    "unauthorized": (401, "unauthorized", "webhook authentication failed"),
    "invalid_body": (400, "invalid_body", "the request body cannot be parsed"),
    "idempotency_key_reused": (
        422,
        "idempotency_key_reused",
        "this Idempotency-Key was already used with a different request",
    ),
    "payload_too_large": (
        413,
        "payload_too_large",
        "the request would make an execution record over the record size limit",
    ),
}


_WEBHOOK_OPERATION = body_operation(
    {
        "application/json": ANY_JSON,
        "application/x-www-form-urlencoded": Schema(
            type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING)
        ),
        "text/plain": Schema(type=OpenAPIType.STRING),
    },
    required=False,
    description="The payload: JSON is parsed (strictly: at most "
    f"{MAX_JSON_DEPTH} levels deep, no NaN "
    "or out-of-range numbers, no lone surrogates; else 400), a form becomes an object, "
    "other text stays a string.",
    idempotent=True,
    other_answers="lastNode and responseNode: the workflow's own answer (status, "
    "headers and body from its httpResponse node), or 200 with the last node's output",
)


def _operation_id(
    handler: HTTPRouteHandler, method: HttpMethod | str, components: list[Any]
) -> str:
    name = method.value if isinstance(method, HttpMethod) else method
    return f"webhook{name.capitalize()}"


def _to_call(
    request: Request[Any, Any, Any],
    webhook_path: str,
    body: bytes,
    execution_id: str,
    idempotency_key: str,
) -> WebhookCall:
    raw_headers = request.scope["headers"]
    query_string: bytes = request.scope.get("query_string", b"")
    return WebhookCall(
        method=request.method.upper(),
        path=webhook_path.strip("/"),
        headers=tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers
        ),
        query=tuple(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)),
        body=body,
        execution_id=execution_id,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint(request, body) if idempotency_key else b"",
    )


def _wait_plan(reply: WebhookReply) -> WaitPlan | None:
    """How this call waits for its run; None when it answers at once."""
    if reply.response_mode not in _WAITING_MODES:
        return None
    return WaitPlan(
        timeout_seconds=reply.response_timeout_seconds or DEFAULT_RESPONSE_TIMEOUT_SECONDS,
        accept_early_response=reply.response_mode == "responseNode",
        saved_to_database=reply.save_execution,
    )


def _rejected(reply: WebhookReply) -> EdgeError:
    status, error, default_message = _REJECTIONS.get(
        reply.rejection or "", (400, "bad_request", "the webhook call was rejected")
    )
    headers = {}
    extra = {}
    if reply.rejection == "method_not_allowed":
        headers["Allow"] = ", ".join(reply.allowed_methods)
    if reply.rejection == "idempotency_key_reused" and reply.execution_id:
        extra["executionId"] = reply.execution_id
    return EdgeError(
        status,
        reply.message or default_message,
        error=error,
        headers=headers,
        extra=extra,
    )


class WebhookController(Controller):
    """Webhook calls. Mounted by ``create_app`` on a router with the body limit."""

    path = "/webhook"
    tags = ("webhooks",)

    @route(
        "/{webhook_path:path}",
        http_method=WEBHOOK_METHODS,
        operation_id=_operation_id,
        operation_class=_WEBHOOK_OPERATION,
        status_code=200,
        summary="Call a webhook",
        description="Starts the active workflow whose webhook node owns this path and "
        "method; answers at once or with the run's response, per the node's responseMode.",
        responses={
            **documented(200, WebhookStarted, "onReceived: the run started"),
            **error_responses(400, 401, 404, 405, 409, 413, 422, 500, 503, 504),
        },
    )
    async def call_webhook(
        self,
        request: Request[Any, Any, Any],
        webhook_path: FromPath[str],
        state: State,
    ) -> Response[Any]:
        # Read from the app state rather than injected: Litestar resolves several
        # dependencies of one handler in an anyio task group, a cost on every call.
        started = time.perf_counter()
        webhooks: WebhookGateway = state.webhooks
        results: ResultWaiter = state.results
        metrics: EdgeMetrics = state.metrics
        wait_plans: WaitPlans = state.wait_plans
        mode = "none"
        status = 500
        try:
            reply, early_watch = await self._start(
                request, webhook_path, webhooks, results, wait_plans
            )
            mode = reply.response_mode
            response = await self._answer(request, reply, results, early_watch)
            status = response.status_code or 200
            return response
        except EdgeError as exc:
            status = exc.status
            raise
        finally:
            metrics.observe_webhook(mode, status, time.perf_counter() - started)

    async def _start(
        self,
        request: Request[Any, Any, Any],
        webhook_path: str,
        webhooks: WebhookGateway,
        results: ResultWaiter,
        wait_plans: WaitPlans,
    ) -> tuple[WebhookReply, asyncio.Future[WatchOutcome] | None]:
        """Start the run; when this path's last call waited, open the result watch
        at the same time (``hookline_edge.wait_plans``) and return it if it still fits."""
        repeat_key = idempotency_key(request)
        body = await request.body()
        execution_id = new_id()
        key = (request.method.upper(), webhook_path.strip("/"))
        plan = wait_plans.get(key)
        early: asyncio.Future[WatchOutcome] | None = None
        if plan is not None:
            early = asyncio.ensure_future(
                watch_result(
                    results,
                    execution_id,
                    timeout_seconds=plan.timeout_seconds,
                    accept_early_response=plan.accept_early_response,
                    saved_to_database=plan.saved_to_database,
                )
            )
        try:
            with upstream_errors("trigger"):
                reply = await webhooks.handle(
                    _to_call(request, webhook_path, body, execution_id, repeat_key)
                )
        except BaseException:
            discard(early)
            raise
        if reply.rejection is not None:
            discard(early)
            wait_plans.remember(key, None)
            raise _rejected(reply)
        if not reply.execution_id:
            reply = replace(reply, execution_id=execution_id)
        bind_execution(reply.execution_id)
        actual = _wait_plan(reply)
        wait_plans.remember(key, actual)
        if early is not None and (actual != plan or reply.execution_id != execution_id):
            discard(early)
            early = None
        return reply, early

    async def _answer(
        self,
        request: Request[Any, Any, Any],
        reply: WebhookReply,
        results: ResultWaiter,
        early_watch: asyncio.Future[WatchOutcome] | None,
    ) -> Response[Any]:
        execution_id = reply.execution_id
        headers = {EXECUTION_ID_HEADER: execution_id}
        if reply.replayed:
            headers[REPLAYED_HEADER] = "true"
        mode = reply.response_mode
        if mode not in _WAITING_MODES:
            return Response(
                WebhookStarted(execution_id=execution_id), status_code=200, headers=headers
            )
        timeout = reply.response_timeout_seconds or DEFAULT_RESPONSE_TIMEOUT_SECONDS
        outcome = await wait_for_caller(
            request.receive,
            results,
            execution_id,
            timeout_seconds=timeout,
            accept_early_response=mode == "responseNode",
            saved_to_database=reply.save_execution,
            started=early_watch,
            replayed=reply.replayed,
        )
        if outcome is None:
            return Response(b"", status_code=CLIENT_CLOSED_REQUEST, headers=headers)
        if outcome.kind is OutcomeKind.TIMED_OUT:
            raise timeout_error(execution_id, timeout)
        if outcome.kind is OutcomeKind.NOT_KEPT:
            raise not_kept(execution_id)
        try:
            response = self._render(outcome, execution_id, headers)
        except EdgeError as exc:
            exc.headers.update(headers)
            raise
        response.headers.update(headers)
        return response

    @staticmethod
    def _render(outcome: WatchOutcome, execution_id: str, headers: dict[str, str]) -> Response[Any]:
        try:
            document = json.loads(outcome.payload)
        except ValueError:
            log.error("Unreadable result from the cache service", execution_id=execution_id)
            raise EdgeError(
                500,
                "the execution's result could not be read",
                extra={"executionId": execution_id},
                headers=headers,
            ) from None
        if outcome.kind is OutcomeKind.RESPONSE:
            return render_node_response(document, execution_id)
        return render_record(document, execution_id)
