"""``{GET,POST,PUT,PATCH,DELETE} /webhook/{path}``: hand the call to the trigger service,
then answer at once (onReceived) or wait for the run's response or result through the
cache service (lastNode, responseNode)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from hookline.trigger.v1 import trigger_service_pb2 as pb
from litestar import Controller, Request, Response, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath

from edge.errors import (
    CLIENT_CLOSED_REQUEST,
    EXECUTION_ID_HEADER,
    EdgeError,
    timeout_error,
    upstream_errors,
)
from edge.idempotency import (
    REPLAYED_HEADER,
    fingerprint,
    idempotency_key,
    not_kept,
)
from edge.metrics import EdgeMetrics
from edge.openapi import ANY_JSON, body_operation
from edge.rendering import render_node_response, render_record
from edge.schemas import WebhookStarted, documented, error_responses
from edge.upstreams import CALL_TIMEOUT_SECONDS, Upstreams
from edge.wait_plans import WaitPlan, WaitPlans, discard
from edge.watch import OutcomeKind, WatchOutcome, wait_for_caller, watch_result
from runtime.ids import new_id
from runtime.logs import bind_execution, get_logger
from runtime.strict_json import MAX_JSON_DEPTH

__all__ = ["WebhookController"]

log = get_logger(__name__)

WEBHOOK_METHODS = [
    HttpMethod.GET,
    HttpMethod.POST,
    HttpMethod.PUT,
    HttpMethod.PATCH,
    HttpMethod.DELETE,
]

MODE_NAMES = {
    pb.RESPONSE_MODE_UNSPECIFIED: "onReceived",
    pb.RESPONSE_MODE_ON_RECEIVED: "onReceived",
    pb.RESPONSE_MODE_LAST_NODE: "lastNode",
    pb.RESPONSE_MODE_RESPONSE_NODE: "responseNode",
}

DEFAULT_RESPONSE_TIMEOUT_SECONDS = 30

_REJECTIONS: dict[int, tuple[int, str, str]] = {
    pb.WEBHOOK_REJECTION_NOT_FOUND: (404, "not_found", "no active workflow has this webhook path"),
    pb.WEBHOOK_REJECTION_METHOD_NOT_ALLOWED: (
        405,
        "method_not_allowed",
        "this webhook path does not accept this method",
    ),
    pb.WEBHOOK_REJECTION_UNAUTHORIZED: (401, "unauthorized", "webhook authentication failed"),
    pb.WEBHOOK_REJECTION_INVALID_BODY: (400, "invalid_body", "the request body cannot be parsed"),
    pb.WEBHOOK_REJECTION_IDEMPOTENCY_KEY_REUSED: (
        422,
        "idempotency_key_reused",
        "this Idempotency-Key was already used with a different request",
    ),
    pb.WEBHOOK_REJECTION_PAYLOAD_TOO_LARGE: (
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


def _to_request(
    request: Request[Any, Any, Any],
    webhook_path: str,
    body: bytes,
    execution_id: str,
    idempotency_key: str,
) -> pb.HandleWebhookRequest:
    raw_headers = request.scope["headers"]
    query_string: bytes = request.scope.get("query_string", b"")
    return pb.HandleWebhookRequest(
        method=request.method.upper(),
        path=webhook_path.strip("/"),
        headers=[
            pb.HttpHeader(name=name.decode("latin-1"), value=value.decode("latin-1"))
            for name, value in raw_headers
        ],
        query=[
            pb.QueryParameter(name=name, value=value)
            for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        ],
        body=body,
        execution_id=execution_id,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint(request, body) if idempotency_key else b"",
    )


def _wait_plan(reply: pb.HandleWebhookResponse) -> WaitPlan | None:
    """How this call waits for its run; None when it answers at once."""
    if reply.response_mode not in (pb.RESPONSE_MODE_LAST_NODE, pb.RESPONSE_MODE_RESPONSE_NODE):
        return None
    return WaitPlan(
        timeout_seconds=reply.response_timeout_seconds or DEFAULT_RESPONSE_TIMEOUT_SECONDS,
        accept_early_response=reply.response_mode == pb.RESPONSE_MODE_RESPONSE_NODE,
        saved_to_database=reply.save_execution,
    )


def _rejected(reply: pb.HandleWebhookResponse) -> EdgeError:
    status, error, default_message = _REJECTIONS.get(
        reply.rejection, (400, "bad_request", "the webhook call was rejected")
    )
    headers = {}
    extra = {}
    if reply.rejection == pb.WEBHOOK_REJECTION_METHOD_NOT_ALLOWED:
        headers["Allow"] = ", ".join(reply.allowed_methods)
    if reply.rejection == pb.WEBHOOK_REJECTION_IDEMPOTENCY_KEY_REUSED and reply.execution_id:
        extra["executionId"] = reply.execution_id
    return EdgeError(
        status,
        reply.rejection_message or default_message,
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
        upstreams: Upstreams = state.upstreams
        metrics: EdgeMetrics = state.metrics
        wait_plans: WaitPlans = state.wait_plans
        mode = "none"
        status = 500
        try:
            reply, early_watch = await self._start(request, webhook_path, upstreams, wait_plans)
            mode = MODE_NAMES.get(reply.response_mode, "onReceived")
            response = await self._answer(request, reply, upstreams, early_watch)
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
        upstreams: Upstreams,
        wait_plans: WaitPlans,
    ) -> tuple[pb.HandleWebhookResponse, asyncio.Future[WatchOutcome] | None]:
        """Start the run; when this path's last call waited, open the result watch
        at the same time (``edge.wait_plans``) and return it if it still fits."""
        repeat_key = idempotency_key(request)
        body = await request.body()
        execution_id = new_id()
        key = (request.method.upper(), webhook_path.strip("/"))
        plan = wait_plans.get(key)
        early: asyncio.Future[WatchOutcome] | None = None
        if plan is not None:
            early = asyncio.ensure_future(
                watch_result(
                    upstreams.cache,
                    execution_id,
                    timeout_seconds=plan.timeout_seconds,
                    accept_early_response=plan.accept_early_response,
                    saved_to_database=plan.saved_to_database,
                )
            )
        try:
            with upstream_errors("trigger"):
                reply: pb.HandleWebhookResponse = await upstreams.trigger.stub.HandleWebhook(
                    _to_request(request, webhook_path, body, execution_id, repeat_key),
                    timeout=CALL_TIMEOUT_SECONDS,
                )
        except BaseException:
            discard(early)
            raise
        if reply.rejection != pb.WEBHOOK_REJECTION_UNSPECIFIED:
            discard(early)
            wait_plans.remember(key, None)
            raise _rejected(reply)
        if not reply.execution_id:
            reply.execution_id = execution_id
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
        reply: pb.HandleWebhookResponse,
        upstreams: Upstreams,
        early_watch: asyncio.Future[WatchOutcome] | None,
    ) -> Response[Any]:
        execution_id = reply.execution_id
        headers = {EXECUTION_ID_HEADER: execution_id}
        if reply.replayed:
            headers[REPLAYED_HEADER] = "true"
        mode = reply.response_mode
        if mode in (pb.RESPONSE_MODE_UNSPECIFIED, pb.RESPONSE_MODE_ON_RECEIVED):
            return Response(
                WebhookStarted(execution_id=execution_id), status_code=200, headers=headers
            )
        timeout = reply.response_timeout_seconds or DEFAULT_RESPONSE_TIMEOUT_SECONDS
        outcome = await wait_for_caller(
            request.receive,
            upstreams.cache,
            execution_id,
            timeout_seconds=timeout,
            accept_early_response=mode == pb.RESPONSE_MODE_RESPONSE_NODE,
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
