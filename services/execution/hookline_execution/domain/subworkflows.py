"""Runs that start runs: ``executeWorkflow`` children and ``errorWorkflow`` runs
(DESIGN.md section 2).

A child is a run of its own: mode ``subworkflow``, its trigger node outputs the
input it is given (as a manual run's does), it keeps its own settings, and it goes
through the run queue like any run, so any execution replica may run it. The parent
waits for it as a webhook caller does, through the cache service's watch, at most
the child's ``responseTimeoutSeconds``; meanwhile it gives its execution slot up
(``waiting``), so that parents waiting on one process never starve their children.

Ids are derived, not drawn: a child's id from its parent's id and the node run
(node, forEach element, try), an error run's from the failed run's id. A parent that
resumes after its worker died therefore finds the same child again and waits for it,
and a failed run that ends twice (its end was redelivered) starts one error run:
``ChildStarter.start_once`` starts a given id at most once.

Depth: a top run has depth 1; a child one more than its parent. A child that would
start deeper than ``max_depth`` (``HOOKLINE_MAX_WORKFLOW_DEPTH``) fails its node.
An error run is a top run (depth 1), and a failed error run starts nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from hookline_execution.domain.nodes import NodeError, NodeResult, truthy
from hookline_execution.domain.record import ERROR, ExecutionRecord
from hookline_runtime.errors import InvalidArgument, NotFound, QueueFull, Unavailable
from hookline_runtime.ids import derived_id
from hookline_runtime.logs import get_logger
from hookline_runtime.workflow import Workflow, WorkflowSettings
from hookline_runtime.workflow.calls import ERROR_MODE, SUBWORKFLOW_MODE

__all__ = [
    "ChildStart",
    "ChildStarter",
    "ResultWatcher",
    "RunCalls",
    "Subworkflows",
    "WorkflowLookup",
]

log = get_logger(__name__)

Waiting = Callable[[], AbstractAsyncContextManager[Any]]


class WorkflowLookup(Protocol):
    """Stored workflows (the trigger service owns them); ``Unavailable`` when they
    cannot be read."""

    async def by_id(self, workflow_id: str) -> Mapping[str, Any] | None:
        """The workflow's JSON, or None when there is none with that id."""

    async def by_name(self, name: str) -> Mapping[str, Any] | None:
        """The workflow's JSON (the oldest of that name), or None."""


@dataclass(frozen=True, slots=True)
class ChildStart:
    """A run another run starts."""

    execution_id: str
    workflow: Mapping[str, Any]
    input: Any
    mode: str
    depth: int


class ChildStarter(Protocol):
    async def start_once(self, child: ChildStart) -> bool:
        """Start the run unless one with its id was started before (False then).
        ``QueueFull`` when the run queue takes no more runs."""


class ResultWatcher(Protocol):
    async def wait(self, execution_id: str, *, timeout_seconds: float, saved: bool) -> bytes | None:
        """The run's record (JSON) once it has ended, None when it has not within
        ``timeout_seconds``; ``Unavailable`` when the wait cannot be had."""


class Subworkflows:
    """One per execution process: starts children and error runs."""

    def __init__(
        self,
        lookup: WorkflowLookup,
        starter: ChildStarter,
        watcher: ResultWatcher,
        *,
        max_depth: int,
    ) -> None:
        self._lookup = lookup
        self._starter = starter
        self._watcher = watcher
        self._max_depth = max_depth

    def for_run(self, execution_id: str, depth: int, waiting: Waiting = nullcontext) -> RunCalls:
        """What the executeWorkflow nodes of one run call; ``waiting`` wraps each wait
        for a child (the run gives its execution slot up meanwhile)."""
        return RunCalls(self, execution_id, depth, waiting)

    async def after_failure(self, record: ExecutionRecord, workflow: Workflow, depth: int) -> None:
        """Start the failed run's ``errorWorkflow`` (once), unless the run is itself an
        error run or names none. Problems are logged: the failed run's end goes on."""
        target = workflow.settings.errorWorkflow
        if record.status != ERROR or record.mode == ERROR_MODE or target is None:
            return
        error = record.error or {}
        input = {
            "execution": {
                "id": record.id,
                "workflowId": record.workflow_id,
                "mode": record.mode,
                "node": error.get("node"),
                "message": error.get("message"),
            },
            "workflow": {"id": record.workflow_id, "name": record.workflow_name},
        }
        error_run_id = derived_id(record.id, "errorWorkflow")
        try:
            found = await self._lookup.by_id(target) or await self._lookup.by_name(target)
            if found is None:
                log.error("The error workflow does not exist", error_workflow=target)
                return
            started = await self._starter.start_once(
                ChildStart(error_run_id, found, input, ERROR_MODE, 1)
            )
        except (Unavailable, QueueFull, InvalidArgument) as exc:
            log.error(
                "Could not start the error workflow", error_workflow=target, error=exc.message
            )
            return
        if started:
            log.info("Started the error workflow", error_workflow=target, error_run=error_run_id)

    async def call(
        self,
        parent: RunCalls,
        key: str,
        params: Mapping[str, Any],
        input: Any,
        *,
        input_given: bool,
    ) -> NodeResult:
        depth = parent.depth + 1
        workflow = await self._target(params)
        name = str(workflow.get("name", ""))
        if depth > self._max_depth:
            raise NodeError(
                f'cannot start workflow "{name}": it would run at depth {depth}, over the '
                f"limit of {self._max_depth} (HOOKLINE_MAX_WORKFLOW_DEPTH)"
            )
        child_id = derived_id(parent.execution_id, key)
        child_input = params.get("input") if input_given else input
        try:
            started = await self._starter.start_once(
                ChildStart(child_id, workflow, child_input, SUBWORKFLOW_MODE, depth)
            )
        except (QueueFull, Unavailable, InvalidArgument) as exc:
            raise NodeError(f'cannot start workflow "{name}": {exc.message}') from None
        log.info(
            "Started a sub-workflow run" if started else "Waiting again for a sub-workflow run",
            child_execution_id=child_id,
            workflow=name,
            depth=depth,
        )
        if not truthy(params.get("wait", True)):
            return NodeResult({"executionId": child_id})
        async with parent.waiting():
            result = await self._result(child_id, workflow, name)
        return NodeResult(result)

    async def _target(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        by_id, by_name = params.get("workflowId"), params.get("workflowName")
        try:
            if by_id is not None:
                found = await self._lookup.by_id(str(by_id))
                missing = f'no workflow with id "{by_id}"'
            elif by_name is not None:
                found = await self._lookup.by_name(str(by_name))
                missing = f'no workflow named "{by_name}"'
            else:
                raise NodeError("give one of workflowId or workflowName")
        except NotFound:
            found = None
        except Unavailable as exc:
            raise NodeError(f"cannot look the workflow up: {exc.message}") from None
        if found is None:
            raise NodeError(missing)
        return found

    async def _result(self, child_id: str, workflow: Mapping[str, Any], name: str) -> Any:
        """The child's result: its httpResponse body if one ran, else the output of
        its last node that ran; NodeError when it failed or gave none in time."""
        settings = _settings(workflow)
        timeout = settings.responseTimeoutSeconds
        try:
            data = await self._watcher.wait(
                child_id, timeout_seconds=timeout, saved=settings.saveExecutionToDatabase
            )
        except Unavailable as exc:
            raise NodeError(
                f'cannot wait for workflow "{name}" (execution {child_id}): {exc.message}'
            ) from None
        if data is None:
            raise NodeError(
                f'workflow "{name}" (execution {child_id}) gave no result within {timeout} s '
                "(its responseTimeoutSeconds)"
            )
        record = json.loads(data)
        if record.get("status") == ERROR:
            error = record.get("error") or {}
            node = error.get("node")
            where = f' at node "{node}"' if node else ""
            raise NodeError(
                f'workflow "{name}" failed{where} (execution {child_id}): '
                f"{error.get('message') or 'the execution failed'}"
            )
        response = record.get("response")
        if isinstance(response, Mapping):
            return response.get("body")
        return _last_output(record)


@dataclass(frozen=True, slots=True)
class RunCalls:
    """``Subworkflows`` bound to one run: its id and depth."""

    subworkflows: Subworkflows
    execution_id: str
    depth: int
    waiting: Waiting = nullcontext

    async def call(
        self, key: str, params: Mapping[str, Any], input: Any, *, input_given: bool
    ) -> NodeResult:
        return await self.subworkflows.call(self, key, params, input, input_given=input_given)


def _settings(workflow: Mapping[str, Any]) -> WorkflowSettings:
    raw = workflow.get("settings")
    try:
        return WorkflowSettings.model_validate(dict(raw) if isinstance(raw, Mapping) else {})
    except ValueError:
        return WorkflowSettings()


def _last_output(record: Mapping[str, Any]) -> Any:
    """The output of the last node that ran (as a lastNode webhook answers)."""
    output: Any = None
    for node in (record.get("nodes") or {}).values():
        if isinstance(node, Mapping) and node.get("status") == "success":
            output = node.get("output")
    return output
