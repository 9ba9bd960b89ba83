"""Minimal fake gRPC servicers for the edge's HTTP-mapping tests.

Each fake records the requests it got and answers as the test configures it; they run
on a real grpc.aio server on 127.0.0.1:0 (``FakeUpstreams``), with the stock health
service and the project's error-mapping interceptor, so the edge talks real gRPC. The
item streams (``HandleWebhooks``, ``WatchResults``) serve each item with the fake's
unary method, through the project's own ``hookline_runtime.transport.item_streams``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from hookline.cache.v1 import cache_service_pb2 as cache_pb
from hookline.cache.v1 import cache_service_pb2_grpc as cache_grpc
from hookline.execution.v1 import execution_service_pb2 as exec_pb
from hookline.execution.v1 import execution_service_pb2_grpc as exec_grpc
from hookline.trigger.v1 import trigger_service_pb2 as trig_pb
from hookline.trigger.v1 import trigger_service_pb2_grpc as trig_grpc

from hookline_edge.clients.upstreams import SERVICE_NAMES
from hookline_runtime.errors import AlreadyExists, InvalidArgument, NotFound
from hookline_runtime.settings import Settings
from hookline_runtime.transport.item_streams import serve_items, serve_watches
from hookline_runtime.transport.server import ErrorMappingInterceptor


def workflow_json(workflow_id: str, name: str) -> bytes:
    # Odd spacing on purpose: the edge must pass these bytes on untouched.
    return f'{{"id": "{workflow_id}",  "name": "{name}"}}'.encode()


class FakeTrigger(trig_grpc.TriggerServiceServicer):
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget what was received and answer as configured by default."""
        self.webhook_requests: list[trig_pb.HandleWebhookRequest] = []
        self.webhook_reply = trig_pb.HandleWebhookResponse(
            response_mode=trig_pb.RESPONSE_MODE_ON_RECEIVED
        )
        self.workflows: dict[str, bytes] = {}
        self.received: list[Any] = []
        self.run_requests: list[trig_pb.RunWorkflowRequest] = []
        self.run_timeout_seconds = 2
        self.fail_with: Exception | None = None
        self.next_cursor = ""
        # Awaited by HandleWebhook before it answers (to observe what the edge does
        # while the trigger call is in flight).
        self.before_webhook_reply: Callable[[], Awaitable[None]] | None = None

    def _check(self, request: Any) -> None:
        self.received.append(request)
        if self.fail_with is not None:
            raise self.fail_with

    def _stored(self, workflow_id: str) -> trig_pb.Workflow:
        if workflow_id not in self.workflows:
            raise NotFound(f"no workflow {workflow_id}")
        return trig_pb.Workflow(id=workflow_id, workflow_json=self.workflows[workflow_id])

    def _validated(self, body: bytes) -> dict[str, Any]:
        document = json.loads(body)
        if not isinstance(document, dict) or "nodes" not in document:
            raise InvalidArgument("nodes: field required", field="nodes")
        if document.get("name") == "taken":
            raise AlreadyExists("an active workflow already owns POST /taken")
        return document

    async def CreateWorkflow(self, request: Any, context: Any) -> Any:
        self._check(request)
        document = self._validated(request.workflow_json)
        workflow_id = f"wf-{len(self.workflows) + 1}"
        self.workflows[workflow_id] = workflow_json(workflow_id, document["name"])
        return trig_pb.CreateWorkflowResponse(workflow=self._stored(workflow_id))

    async def GetWorkflow(self, request: Any, context: Any) -> Any:
        self._check(request)
        return trig_pb.GetWorkflowResponse(workflow=self._stored(request.id))

    async def GetWorkflowByName(self, request: Any, context: Any) -> Any:
        self._check(request)
        for workflow_id, stored in self.workflows.items():
            if json.loads(stored).get("name") == request.name:
                return trig_pb.GetWorkflowByNameResponse(workflow=self._stored(workflow_id))
        raise NotFound(f"no workflow named {request.name}")

    async def ListWorkflows(self, request: Any, context: Any) -> Any:
        self._check(request)
        workflows = [self._stored(wid) for wid in self.workflows]
        return trig_pb.ListWorkflowsResponse(workflows=workflows, next_cursor=self.next_cursor)

    async def ReplaceWorkflow(self, request: Any, context: Any) -> Any:
        self._check(request)
        self._stored(request.id)
        document = self._validated(request.workflow_json)
        self.workflows[request.id] = workflow_json(request.id, document["name"])
        return trig_pb.ReplaceWorkflowResponse(workflow=self._stored(request.id))

    async def PatchWorkflow(self, request: Any, context: Any) -> Any:
        self._check(request)
        self._stored(request.id)
        patch = json.loads(request.patch_json)
        if "nodes" in patch:
            raise InvalidArgument("nodes cannot be patched", field="nodes")
        self.workflows[request.id] = workflow_json(request.id, patch.get("name", "patched"))
        return trig_pb.PatchWorkflowResponse(workflow=self._stored(request.id))

    async def DeleteWorkflow(self, request: Any, context: Any) -> Any:
        self._check(request)
        self._stored(request.id)
        del self.workflows[request.id]
        return trig_pb.DeleteWorkflowResponse()

    async def HandleWebhook(self, request: Any, context: Any) -> Any:
        self._check(request)
        self.webhook_requests.append(request)
        if self.before_webhook_reply is not None:
            await self.before_webhook_reply()
        reply = trig_pb.HandleWebhookResponse()
        reply.CopyFrom(self.webhook_reply)
        if reply.rejection == trig_pb.WEBHOOK_REJECTION_UNSPECIFIED:
            reply.execution_id = request.execution_id
        return reply

    async def HandleWebhooks(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:
        async def one(item: Any) -> Any:
            reply = await self.HandleWebhook(item.call, context)
            return trig_pb.HandleWebhooksReply(execution_id=item.call.execution_id, reply=reply)

        def failed(item: Any, error: Any) -> Any:
            return trig_pb.HandleWebhooksReply(execution_id=item.call.execution_id, error=error)

        def batch(replies: list[Any]) -> Any:
            return trig_pb.HandleWebhooksResponse(replies=replies)

        async for answer in serve_items(
            request_iterator, lambda message: message.items, one, failed, batch
        ):
            yield answer

    async def RunWorkflow(self, request: Any, context: Any) -> Any:
        self._check(request)
        self._stored(request.workflow_id)
        self.run_requests.append(request)
        return trig_pb.RunWorkflowResponse(
            execution_id=request.execution_id,
            response_timeout_seconds=self.run_timeout_seconds,
            save_execution=True,
        )

    # Credentials are tested against the real trigger service (tests/stack).
    async def _not_faked(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not faked")

    CreateCredential = GetCredential = ListCredentials = _not_faked
    ReplaceCredential = DeleteCredential = ResolveCredential = _not_faked


class FakeExecution(exec_grpc.ExecutionServiceServicer):
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget what was received and answer as configured by default."""
        self.records: dict[str, bytes] = {}
        self.list_requests: list[exec_pb.ListExecutionsRequest] = []
        self.next_cursor = ""

    async def StartExecution(self, request: Any, context: Any) -> Any:
        raise NotImplementedError

    async def GetExecution(self, request: Any, context: Any) -> Any:
        if request.execution_id not in self.records:
            raise NotFound(f"no saved execution {request.execution_id}")
        return exec_pb.GetExecutionResponse(record_json=self.records[request.execution_id])

    async def ListExecutions(self, request: Any, context: Any) -> Any:
        self.list_requests.append(request)
        return exec_pb.ListExecutionsResponse(
            records_json=list(self.records.values()), next_cursor=self.next_cursor
        )


WatchScript = Callable[[cache_pb.WatchResultRequest], list[cache_pb.WatchResultResponse] | None]


def result_event(record: dict[str, Any]) -> cache_pb.WatchResultResponse:
    return cache_pb.WatchResultResponse(
        event=cache_pb.WATCH_EVENT_RESULT, record_json=json.dumps(record).encode()
    )


def response_event(response: dict[str, Any]) -> cache_pb.WatchResultResponse:
    return cache_pb.WatchResultResponse(
        event=cache_pb.WATCH_EVENT_RESPONSE, response_json=json.dumps(response).encode()
    )


TIMED_OUT = cache_pb.WatchResultResponse(event=cache_pb.WATCH_EVENT_TIMED_OUT)


class FakeCache(cache_grpc.CacheServiceServicer):
    """``events`` are sent after SUBSCRIBED; with ``hang`` only once ``release`` is set."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget what was received and answer as configured by default."""
        self.watch_requests: list[cache_pb.WatchResultRequest] = []
        self.events: list[cache_pb.WatchResultResponse] = [TIMED_OUT]
        self.hang = False
        self.release = asyncio.Event()
        self.watching = asyncio.Event()
        self.watch_cancelled = asyncio.Event()
        self.results: dict[str, tuple[bytes, datetime]] = {}

    async def StoreResult(self, request: Any, context: Any) -> Any:
        raise NotImplementedError

    async def StoreResponse(self, request: Any, context: Any) -> Any:
        raise NotImplementedError

    async def StoreResults(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of the fake")
        yield cache_pb.StoreResultsResponse()  # makes this a stream handler

    async def GetResult(self, request: Any, context: Any) -> Any:
        if request.execution_id not in self.results:
            raise NotFound(f"no cached result for {request.execution_id}")
        record, expires = self.results[request.execution_id]
        stamp = Timestamp()
        stamp.FromDatetime(expires)
        return cache_pb.GetResultResponse(record_json=record, expire_time=stamp)

    async def WatchResult(
        self, request: Any, context: Any
    ) -> AsyncIterator[cache_pb.WatchResultResponse]:
        self.watch_requests.append(request)
        yield cache_pb.WatchResultResponse(event=cache_pb.WATCH_EVENT_SUBSCRIBED)
        self.watching.set()
        try:
            if self.hang:
                await self.release.wait()
            for event in self.events:
                yield event
        except asyncio.CancelledError:
            self.watch_cancelled.set()
            raise

    async def WatchResults(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:
        async def events(item: Any) -> AsyncIterator[Any]:
            async for event in self.WatchResult(item.subscribe, context):
                yield cache_pb.WatchResultsEvent(
                    watch_id=item.watch_id, execution_id=item.subscribe.execution_id, event=event
                )

        def watch(item: Any) -> AsyncIterator[Any] | None:
            return events(item) if item.WhichOneof("action") == "subscribe" else None

        def failed(item: Any, error: Any) -> Any:
            return cache_pb.WatchResultsEvent(watch_id=item.watch_id, error=error)

        def batch(events: list[Any]) -> Any:
            return cache_pb.WatchResultsResponse(events=events)

        async for answer in serve_watches(
            request_iterator,
            lambda message: message.items,
            lambda item: item.watch_id,
            watch,
            failed,
            batch,
        ):
            yield answer


@dataclass
class FakeServer:
    """One grpc.aio server on 127.0.0.1:0 hosting some fakes and a health service."""

    servicers: list[Any]
    health: health.aio.HealthServicer = field(default_factory=health.aio.HealthServicer)
    address: str = ""
    _server: grpc.aio.Server | None = None

    async def start(self) -> None:
        server = grpc.aio.server(interceptors=[ErrorMappingInterceptor()])
        for servicer in self.servicers:
            if isinstance(servicer, FakeTrigger):
                trig_grpc.add_TriggerServiceServicer_to_server(servicer, server)
                await self.health.set(SERVICE_NAMES["trigger"], _SERVING)
            elif isinstance(servicer, FakeExecution):
                exec_grpc.add_ExecutionServiceServicer_to_server(servicer, server)
                await self.health.set(SERVICE_NAMES["execution"], _SERVING)
            else:
                cache_grpc.add_CacheServiceServicer_to_server(servicer, server)
                await self.health.set(SERVICE_NAMES["cache"], _SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server
        self.address = f"127.0.0.1:{port}"

    async def stop(self, grace: float | None = None) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop(grace)


_SERVING = health_pb2.HealthCheckResponse.SERVING


class FakeUpstreams:
    """The three fakes: trigger and execution on one server, the cache on another
    (so that a test can stop the cache alone)."""

    def __init__(self) -> None:
        self.trigger = FakeTrigger()
        self.execution = FakeExecution()
        self.cache = FakeCache()
        self.main = FakeServer([self.trigger, self.execution])
        self.cache_server = FakeServer([self.cache])

    async def __aenter__(self) -> Self:
        await self.main.start()
        await self.cache_server.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cache_server.stop(0)
        await self.main.stop(0)

    def reset(self) -> None:
        for fake in (self.trigger, self.execution, self.cache):
            fake.reset()

    def edge_settings(self, **overrides: Any) -> Settings:
        """Settings of an edge on 127.0.0.1:0 in front of these fakes."""
        values: dict[str, Any] = {
            "edge_addr": "127.0.0.1:0",
            "shutdown_grace_seconds": 1.0,
            "log_format": "console",
            **self.settings_overrides(),
            **overrides,
        }
        return Settings(**values)

    def settings_overrides(self) -> dict[str, str]:
        return {
            "trigger_addr": self.main.address,
            "execution_addr": self.main.address,
            "cache_addr": self.cache_server.address,
        }
