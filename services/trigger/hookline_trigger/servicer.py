"""``hookline.trigger.v1.TriggerService``: proto messages in, domain calls, proto
messages out. Domain errors propagate as ``hookline_runtime.errors`` exceptions, which the
server's interceptor turns into status codes; on the ``HandleWebhooks`` stream each
call runs the same domain call as ``HandleWebhook`` and fails alone, with the same
code (``hookline_runtime.transport.item_streams``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc.status_pb2 import Status
from hookline.trigger.v1 import trigger_service_pb2 as pb
from hookline.trigger.v1 import trigger_service_pb2_grpc as pb_grpc

from hookline_runtime.transport.item_streams import StreamDrain, serve_items
from hookline_runtime.transport.trace_context import incoming
from hookline_trigger.credential_servicer import CredentialMethods
from hookline_trigger.domain.credentials import CredentialManager
from hookline_trigger.domain.manual_runs import ManualRunner
from hookline_trigger.domain.records import WorkflowRecord
from hookline_trigger.domain.webhook_request import WebhookCall
from hookline_trigger.domain.webhooks import Rejection, WebhookOutcome
from hookline_trigger.domain.workflows import WorkflowManager
from hookline_trigger.metrics import CountedWebhooks

__all__ = ["SERVICE_NAME", "TriggerServicer"]

SERVICE_NAME = "hookline.trigger.v1.TriggerService"

_REJECTIONS: dict[Rejection | None, pb.WebhookRejection.ValueType] = {
    None: pb.WEBHOOK_REJECTION_UNSPECIFIED,
    Rejection.NOT_FOUND: pb.WEBHOOK_REJECTION_NOT_FOUND,
    Rejection.METHOD_NOT_ALLOWED: pb.WEBHOOK_REJECTION_METHOD_NOT_ALLOWED,
    Rejection.UNAUTHORIZED: pb.WEBHOOK_REJECTION_UNAUTHORIZED,
    Rejection.INVALID_BODY: pb.WEBHOOK_REJECTION_INVALID_BODY,
    Rejection.IDEMPOTENCY_KEY_REUSED: pb.WEBHOOK_REJECTION_IDEMPOTENCY_KEY_REUSED,
    Rejection.PAYLOAD_TOO_LARGE: pb.WEBHOOK_REJECTION_PAYLOAD_TOO_LARGE,
}

_RESPONSE_MODES: dict[str, pb.ResponseMode.ValueType] = {
    "onReceived": pb.RESPONSE_MODE_ON_RECEIVED,
    "lastNode": pb.RESPONSE_MODE_LAST_NODE,
    "responseNode": pb.RESPONSE_MODE_RESPONSE_NODE,
}


def _workflow_message(record: WorkflowRecord) -> pb.Workflow:
    create_time, update_time = Timestamp(), Timestamp()
    create_time.FromDatetime(record.created_at)
    update_time.FromDatetime(record.updated_at)
    return pb.Workflow(
        id=record.id,
        name=record.name,
        active=record.active,
        workflow_json=record.public_definition_bytes,  # webhook secrets masked
        create_time=create_time,
        update_time=update_time,
    )


def webhook_call(request: pb.HandleWebhookRequest) -> WebhookCall:
    """The domain's webhook call for a request message."""
    return WebhookCall(
        method=request.method,
        path=request.path,
        headers=tuple((h.name, h.value) for h in request.headers),
        query=tuple((q.name, q.value) for q in request.query),
        body=request.body,
        execution_id=request.execution_id,
        idempotency_key=request.idempotency_key,
        fingerprint=request.request_fingerprint.hex(),
    )


def _failed_item(item: pb.HandleWebhooksItem, error: Status) -> pb.HandleWebhooksReply:
    return pb.HandleWebhooksReply(execution_id=item.call.execution_id, error=error)


def _webhook_items(message: pb.HandleWebhooksRequest) -> Iterable[pb.HandleWebhooksItem]:
    return message.items


def _webhook_replies(replies: list[pb.HandleWebhooksReply]) -> pb.HandleWebhooksResponse:
    return pb.HandleWebhooksResponse(replies=replies)


def _webhook_response(outcome: WebhookOutcome) -> pb.HandleWebhookResponse:
    return pb.HandleWebhookResponse(
        rejection=_REJECTIONS[outcome.rejection],
        rejection_message=outcome.message,
        allowed_methods=outcome.allowed_methods,
        execution_id=outcome.execution_id,
        workflow_id=outcome.workflow_id,
        response_mode=_RESPONSE_MODES.get(outcome.response_mode, pb.RESPONSE_MODE_UNSPECIFIED),
        response_timeout_seconds=outcome.response_timeout_seconds,
        save_execution=outcome.save_execution,
        replayed=outcome.replayed,
    )


class TriggerServicer(CredentialMethods, pb_grpc.TriggerServiceServicer):
    def __init__(
        self,
        workflows: WorkflowManager,
        webhooks: CountedWebhooks,
        runs: ManualRunner,
        credentials: CredentialManager,
        *,
        streams: StreamDrain | None = None,
    ) -> None:
        self._credentials = credentials
        self._streams = streams
        self._workflows = workflows
        self._webhooks = webhooks
        self._runs = runs

    async def CreateWorkflow(
        self, request: pb.CreateWorkflowRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CreateWorkflowResponse:
        record = await self._workflows.create(request.workflow_json)
        return pb.CreateWorkflowResponse(workflow=_workflow_message(record))

    async def GetWorkflow(
        self, request: pb.GetWorkflowRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetWorkflowResponse:
        record = await self._workflows.get(request.id)
        return pb.GetWorkflowResponse(workflow=_workflow_message(record))

    async def GetWorkflowByName(
        self, request: pb.GetWorkflowByNameRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetWorkflowByNameResponse:
        record = await self._workflows.get_by_name(request.name)
        return pb.GetWorkflowByNameResponse(workflow=_workflow_message(record))

    async def ListWorkflows(
        self, request: pb.ListWorkflowsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListWorkflowsResponse:
        page = await self._workflows.list(limit=request.limit, cursor=request.cursor)
        return pb.ListWorkflowsResponse(
            workflows=[_workflow_message(r) for r in page.workflows],
            next_cursor=page.next_cursor,
        )

    async def ReplaceWorkflow(
        self, request: pb.ReplaceWorkflowRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ReplaceWorkflowResponse:
        record = await self._workflows.replace(request.id, request.workflow_json)
        return pb.ReplaceWorkflowResponse(workflow=_workflow_message(record))

    async def PatchWorkflow(
        self, request: pb.PatchWorkflowRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.PatchWorkflowResponse:
        record = await self._workflows.patch(request.id, request.patch_json)
        return pb.PatchWorkflowResponse(workflow=_workflow_message(record))

    async def DeleteWorkflow(
        self, request: pb.DeleteWorkflowRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.DeleteWorkflowResponse:
        await self._workflows.delete(request.id)
        return pb.DeleteWorkflowResponse()

    async def HandleWebhook(
        self, request: pb.HandleWebhookRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.HandleWebhookResponse:
        return await self._handle_webhook(request)

    async def HandleWebhooks(
        self,
        request_iterator: AsyncIterator[pb.HandleWebhooksRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[pb.HandleWebhooksResponse]:
        async for message in serve_items(
            request_iterator,
            _webhook_items,
            self._handle_item,
            _failed_item,
            _webhook_replies,
            drain=self._streams,
        ):
            yield message

    async def _handle_item(self, item: pb.HandleWebhooksItem) -> pb.HandleWebhooksReply:
        with incoming(item.trace):
            reply = await self._handle_webhook(item.call)
        return pb.HandleWebhooksReply(execution_id=item.call.execution_id, reply=reply)

    async def _handle_webhook(self, request: pb.HandleWebhookRequest) -> pb.HandleWebhookResponse:
        return _webhook_response(await self._webhooks.handle(webhook_call(request)))

    async def RunWorkflow(
        self, request: pb.RunWorkflowRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RunWorkflowResponse:
        run = await self._runs.run(
            request.workflow_id,
            request.input_json,
            request.execution_id,
            idempotency_key=request.idempotency_key,
            fingerprint=request.request_fingerprint.hex(),
        )
        return pb.RunWorkflowResponse(
            execution_id=run.execution_id,
            response_timeout_seconds=run.response_timeout_seconds,
            save_execution=run.save_execution,
            replayed=run.replayed,
            idempotency_key_reused=run.idempotency_key_reused,
        )
