"""The ports the trigger, execution and cache services call in one another, in one
process: each adapter calls the domain object the matching gRPC servicer calls.

The execution service's ports (``hookline_execution.domain``):

- ``LocalResultSink`` (``ResultSink``) → ``ResultDelivery.store`` (``StoreResult``);
- ``LocalResultWatcher`` (``subworkflows.ResultWatcher``) → ``ResultDelivery.watch``
  (``WatchResult``), for parents waiting on their children;
- ``LocalWorkflowLookup`` (``subworkflows.WorkflowLookup``) → the trigger's
  ``WorkflowManager`` (``GetWorkflow``, ``GetWorkflowByName``);
- ``LocalCredentialSource`` (``credentials.CredentialSource``) → the trigger's
  ``CredentialManager.resolve`` (``ResolveCredential``).

The trigger's: ``LocalExecutionStarter`` (its direct ``ExecutionStarter``, used when the
run queue is absent or down) → the execution service's ``RunIntake``
(``StartExecution``). The cache's: ``LocalSavedRecords`` (``SavedRecords``, read during a
Redis outage) → ``ExecutionService.get`` (``GetExecution``).

Each answers as the gRPC adapter of the same port does: the same values, and failures
translated the same way (``Unavailable`` naming the service and the code,
``ResultTooLarge``, ``CredentialUnavailable``, None for "not there"). The trigger and
execution parts that start after their callers come through ``calls.Later``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from hookline_cache.domain.delivery import ResultDelivery
from hookline_cache.domain.model import Delivered, WatchRequest
from hookline_cache.storage.base import Kind
from hookline_execution.clients.child_runs import CALL_TIMEOUT_SECONDS, WATCH_MARGIN_SECONDS
from hookline_execution.clients.trigger_credentials import credential_unavailable
from hookline_execution.domain.credentials import Credential
from hookline_execution.domain.intake import RunIntake
from hookline_execution.domain.ports import ResultTooLarge
from hookline_execution.domain.service import ExecutionService
from hookline_execution.domain.service import StartRequest as RunRequest
from hookline_launcher.local_wiring.calls import Later, deadline, last_event, unavailable
from hookline_runtime.errors import (
    HooklineError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from hookline_runtime.logs import get_logger
from hookline_runtime.transport.status import grpc_code_for
from hookline_trigger.domain.credentials import CredentialManager
from hookline_trigger.domain.records import StartRequest, WorkflowRecord
from hookline_trigger.domain.workflows import WorkflowManager

__all__ = [
    "LocalCredentialSource",
    "LocalExecutionStarter",
    "LocalResultSink",
    "LocalResultWatcher",
    "LocalSavedRecords",
    "LocalWorkflowLookup",
]

log = get_logger(__name__)

_TRIGGER = "trigger service"
_CACHE = "cache service"


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
            raise unavailable(_CACHE, exc) from exc

    async def store_response(
        self, execution_id: str, response_json: bytes, ttl_seconds: int
    ) -> None:
        try:
            await self._delivery.store(Kind.RESPONSE, execution_id, response_json, ttl_seconds)
        except HooklineError as exc:
            raise unavailable(_CACHE, exc) from exc


class LocalResultWatcher:
    """``hookline_execution.domain.subworkflows.ResultWatcher`` iterating
    ``ResultDelivery.watch``: the record, or None when the child has not ended in time
    (or its record was too large to keep)."""

    def __init__(self, delivery: ResultDelivery) -> None:
        self._delivery = delivery

    async def wait(self, execution_id: str, *, timeout_seconds: float, saved: bool) -> bytes | None:
        request = WatchRequest(
            execution_id=execution_id,
            timeout_seconds=timeout_seconds,
            accept_response=False,
            saved_to_database=saved,
        )
        try:
            async with asyncio.timeout(timeout_seconds + WATCH_MARGIN_SECONDS):
                event = await last_event(self._delivery, request)
        except TimeoutError:
            return None
        except HooklineError as exc:
            raise unavailable(_CACHE, exc) from None
        if event is None:
            raise Unavailable("cache service: the watch ended without a result")
        if isinstance(event, Delivered) and event.kind is Kind.RESULT:
            return event.payload
        return None


def _definition(record: WorkflowRecord) -> Mapping[str, Any]:
    """The workflow as ``GetWorkflow`` answers it (webhook secrets masked)."""
    value = json.loads(record.public_definition_bytes)
    if not isinstance(value, dict):
        raise Unavailable("trigger service: a workflow that is not a JSON object")
    return value


class LocalWorkflowLookup:
    """``hookline_execution.domain.subworkflows.WorkflowLookup`` reading the trigger's
    ``WorkflowManager``."""

    def __init__(
        self, workflows: Later[WorkflowManager], *, timeout: float = CALL_TIMEOUT_SECONDS
    ) -> None:
        self._workflows = workflows
        self._timeout = timeout

    async def by_id(self, workflow_id: str) -> Mapping[str, Any] | None:
        try:
            async with deadline(self._timeout, _TRIGGER):
                workflows = await self._workflows.get()
                record = await workflows.get(workflow_id)
        except (NotFound, InvalidArgument):
            return None
        except HooklineError as exc:
            raise unavailable(_TRIGGER, exc) from None
        return _definition(record)

    async def by_name(self, name: str) -> Mapping[str, Any] | None:
        try:
            async with deadline(self._timeout, _TRIGGER):
                workflows = await self._workflows.get()
                record = await workflows.get_by_name(name)
        except NotFound:
            return None
        except HooklineError as exc:
            raise unavailable(_TRIGGER, exc) from None
        return _definition(record)


class LocalCredentialSource:
    """``hookline_execution.domain.credentials.CredentialSource`` resolving through the
    trigger's ``CredentialManager``."""

    def __init__(
        self, credentials: Later[CredentialManager], *, timeout: float = CALL_TIMEOUT_SECONDS
    ) -> None:
        self._credentials = credentials
        self._timeout = timeout

    async def get(self, name: str) -> Credential:
        try:
            async with deadline(self._timeout, _TRIGGER):
                credentials = await self._credentials.get()
                resolved = await credentials.resolve(name)
        except HooklineError as exc:
            raise credential_unavailable(name, exc) from None
        return Credential(name=name, type=resolved.type, data=dict(resolved.data))


class LocalExecutionStarter:
    """The trigger's direct ``ExecutionStarter``: hands runs to this process's
    execution service intake, which runs them here (not durable, as over gRPC)."""

    def __init__(self, intake: RunIntake) -> None:
        self._intake = intake

    async def start(self, request: StartRequest) -> None:
        await self._intake.submit(
            RunRequest(
                execution_id=request.execution_id,
                workflow=request.workflow or json.loads(request.workflow_json),
                trigger_output=request.trigger_output,
                mode=request.mode.value,
                publish_early_response=request.publish_early_response,
                keep_result_seconds=request.keep_result_seconds,
            ),
            direct=True,
        )


class LocalSavedRecords:
    """``hookline_cache.storage.base.SavedRecords`` reading ``ExecutionService.get``:
    None when the record is not saved (yet), or cannot be read in time."""

    def __init__(self, service: Later[ExecutionService]) -> None:
        self._service = service

    async def fetch(self, execution_id: str, timeout: float) -> bytes | None:
        try:
            async with asyncio.timeout(timeout):
                service = await self._service.get()
                return await service.get(execution_id)
        except TimeoutError:
            return None
        except NotFound:
            return None
        except HooklineError as exc:
            log.debug(
                "Saved execution record unreadable",
                execution_id=execution_id,
                code=grpc_code_for(exc).name,
            )
            return None
