"""Manual runs: start any workflow (active or not, whatever its trigger) with a given
input as its trigger node's output."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from hookline_runtime.errors import InvalidArgument, NotFound
from hookline_runtime.ids import new_id
from hookline_runtime.logs import bind_execution, get_logger
from hookline_runtime.strict_json import loads_strict
from hookline_runtime.workflow import WorkflowSettings
from hookline_trigger.domain.idempotency import Idempotency, RequestKey
from hookline_trigger.domain.ports import ExecutionStarter, WorkflowStore
from hookline_trigger.domain.records import ExecutionMode, StartRequest

__all__ = ["ManualRun", "ManualRunner"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ManualRun:
    execution_id: str
    response_timeout_seconds: int
    save_execution: bool
    replayed: bool = False
    idempotency_key_reused: bool = False


class ManualRunner:
    def __init__(
        self, store: WorkflowStore, starter: ExecutionStarter, idempotency: Idempotency
    ) -> None:
        self._store = store
        self._starter = starter
        self._idempotency = idempotency

    async def run(
        self,
        workflow_id: str,
        input_json: bytes,
        execution_id: str = "",
        *,
        idempotency_key: str = "",
        fingerprint: str = "",
    ) -> ManualRun:
        try:
            trigger_output = loads_strict(input_json) if input_json else {}
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidArgument(
                f"the run input is not valid JSON: {exc}", field="input"
            ) from None
        record = await self._store.get(workflow_id)
        if record is None:
            raise NotFound(f"no workflow with id {workflow_id!r}")
        settings = WorkflowSettings.model_validate(json.loads(record.definition)["settings"])
        execution_id = execution_id or new_id()
        run = ManualRun(
            execution_id=execution_id,
            response_timeout_seconds=settings.responseTimeoutSeconds,
            save_execution=settings.saveExecutionToDatabase,
        )
        bind_execution(execution_id)
        key = RequestKey(workflow_id, idempotency_key, fingerprint) if idempotency_key else None
        request = StartRequest(
            execution_id=execution_id,
            workflow_json=record.definition_bytes,
            mode=ExecutionMode.MANUAL,
            trigger_output=trigger_output,
        )
        decision = await self._idempotency.start_once(request, key, self._starter)
        if decision.execution_id == execution_id:
            log.info("Started manual run", workflow_id=workflow_id)
        return replace(
            run,
            execution_id=decision.execution_id,
            replayed=decision.replayed,
            idempotency_key_reused=decision.reused,
        )
