"""The adapters ``domain.subworkflows`` starts and waits for runs through.

- ``TriggerWorkflowLookup``: stored workflows from the trigger service
  (``GetWorkflow``, ``GetWorkflowByName``), each call with a deadline.
- ``QueuedChildStarter``: a run through ``RunIntake`` (the run queue, so any replica
  may take it); with Redis, ``SET NX`` on ``hookline:started:{id}`` first makes a
  repeated start of the same id a no-op across processes. Without Redis, the
  process's own scheduler refuses an id it already knows.
- ``CacheResultWatcher``: waits on the cache service's ``WatchResult`` stream, as
  the edge does for a webhook caller.

In one process (``hookline dev``) the launcher wires in-process adapters of the
lookup and the watcher instead (``hookline_launcher.local_wiring``), which answer alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import grpc
import redis.asyncio as aioredis
from hookline.cache.v1 import cache_service_pb2, cache_service_pb2_grpc
from hookline.trigger.v1 import trigger_service_pb2, trigger_service_pb2_grpc
from redis.exceptions import RedisError

from hookline_execution.domain.intake import RunIntake
from hookline_execution.domain.service import StartRequest
from hookline_execution.domain.subworkflows import ChildStart
from hookline_runtime.errors import InvalidArgument, QueueFull, Unavailable
from hookline_runtime.logs import get_logger
from hookline_runtime.redis.keys import started_key
from hookline_runtime.transport.client import ServiceClient

__all__ = ["CacheResultWatcher", "QueuedChildStarter", "TriggerWorkflowLookup"]

log = get_logger(__name__)

CALL_TIMEOUT_SECONDS = 5.0
WATCH_MARGIN_SECONDS = 5.0
STARTED_TTL_SECONDS = 3600
"""How long a started child's id is remembered (a parent resumes well within it)."""


def _unavailable(what: str, exc: grpc.aio.AioRpcError) -> Unavailable:
    return Unavailable(f"{what}: {exc.code().name}: {exc.details() or ''}".rstrip(": "))


class TriggerWorkflowLookup:
    def __init__(
        self,
        client: ServiceClient[trigger_service_pb2_grpc.TriggerServiceAsyncStub],
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self._timeout = timeout

    async def by_id(self, workflow_id: str) -> Mapping[str, Any] | None:
        request = trigger_service_pb2.GetWorkflowRequest(id=workflow_id)
        try:
            reply = await self._client.stub.GetWorkflow(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise _unavailable("trigger service", exc) from None
        return _definition(reply.workflow)

    async def by_name(self, name: str) -> Mapping[str, Any] | None:
        request = trigger_service_pb2.GetWorkflowByNameRequest(name=name)
        try:
            reply = await self._client.stub.GetWorkflowByName(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _unavailable("trigger service", exc) from None
        return _definition(reply.workflow)


def _definition(workflow: trigger_service_pb2.Workflow) -> Mapping[str, Any]:
    value = json.loads(workflow.workflow_json)
    if not isinstance(value, dict):
        raise Unavailable("trigger service: a workflow that is not a JSON object")
    return value


class QueuedChildStarter:
    def __init__(self, intake: RunIntake, redis: aioredis.Redis | None) -> None:
        self._intake = intake
        self._redis = redis

    async def start_once(self, child: ChildStart) -> bool:
        if self._redis is not None:
            try:
                fresh = await self._redis.set(
                    started_key(child.execution_id), b"1", nx=True, ex=STARTED_TTL_SECONDS
                )
            except (RedisError, OSError) as exc:  # cannot tell: start it (at least once)
                log.warning("Could not mark a child run as started", error=str(exc))
                fresh = True
            if not fresh:
                return False
        request = StartRequest(
            execution_id=child.execution_id,
            workflow=child.workflow,
            trigger_output=child.input,
            mode=child.mode,
            depth=child.depth,
        )
        try:
            await self._intake.submit(request)
        except (QueueFull, Unavailable, InvalidArgument):
            if self._redis is not None:  # it did not start: a repeat may start it
                try:
                    await self._redis.delete(started_key(child.execution_id))
                except (RedisError, OSError):
                    log.warning("Could not unmark a child run that did not start")
            raise
        return True


class CacheResultWatcher:
    def __init__(self, cache: ServiceClient[cache_service_pb2_grpc.CacheServiceAsyncStub]) -> None:
        self._cache = cache

    async def wait(self, execution_id: str, *, timeout_seconds: float, saved: bool) -> bytes | None:
        request = cache_service_pb2.WatchResultRequest(
            execution_id=execution_id,
            timeout_ms=int(timeout_seconds * 1000),
            accept_early_response=False,
            saved_to_database=saved,
        )
        call = self._cache.stub.WatchResult(request, timeout=timeout_seconds + WATCH_MARGIN_SECONDS)
        try:
            async for event in call:
                if event.event == cache_service_pb2.WATCH_EVENT_RESULT:
                    return bytes(event.record_json)
                if event.event in (
                    cache_service_pb2.WATCH_EVENT_TIMED_OUT,
                    cache_service_pb2.WATCH_EVENT_NOT_KEPT,
                ):
                    return None
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                return None
            raise _unavailable("cache service", exc) from None
        finally:
            call.cancel()
        raise Unavailable("cache service: the watch ended without a result")
