"""An immutable view of every active trigger: webhook routes by path and method,
and schedule entries by workflow id."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hookline_runtime.errors import InvalidArgument
from hookline_runtime.logs import get_logger
from hookline_runtime.workflow import ScheduleParameters, Workflow, parse_workflow
from hookline_trigger.domain.records import ScheduleEntry, WebhookRoute, WorkflowRecord

__all__ = ["MethodNotAllowed", "Snapshot"]

log = get_logger(__name__)

_Parsed = tuple[str, WebhookRoute | ScheduleEntry | None]


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    """The path exists, but only for ``allowed`` methods."""

    allowed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    routes: Mapping[str, Mapping[str, WebhookRoute]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    schedules: Mapping[str, ScheduleEntry] = field(default_factory=lambda: MappingProxyType({}))
    parsed: Mapping[str, _Parsed] = field(default_factory=lambda: MappingProxyType({}))
    """workflow id -> (definition, what it became), reused by the next build."""

    def resolve(self, method: str, path: str) -> WebhookRoute | MethodNotAllowed | None:
        """The route for ``method`` ``path``; MethodNotAllowed when only other methods
        have that path; None when no active workflow has it."""
        by_method = self.routes.get(path)
        if not by_method:
            return None
        route = by_method.get(method)
        if route is not None:
            return route
        return MethodNotAllowed(tuple(sorted(by_method)))

    def build_next(self, records: Iterable[WorkflowRecord]) -> Snapshot:
        """A snapshot of ``records``; workflows unchanged since this one are not parsed
        again."""
        routes: dict[str, dict[str, WebhookRoute]] = {}
        schedules: dict[str, ScheduleEntry] = {}
        parsed: dict[str, _Parsed] = {}
        for record in records:
            previous = self.parsed.get(record.id)
            if previous is not None and previous[0] == record.definition:
                item = previous[1]
            else:
                item = _parse(record)
            parsed[record.id] = (record.definition, item)
            if isinstance(item, WebhookRoute):
                routes.setdefault(item.path, {})[item.method] = item
            elif isinstance(item, ScheduleEntry):
                schedules[item.workflow_id] = item
        return Snapshot(
            routes=MappingProxyType({p: MappingProxyType(m) for p, m in routes.items()}),
            schedules=MappingProxyType(schedules),
            parsed=MappingProxyType(parsed),
        )


_CARRIERS = frozenset({"if", "switch", "wait", "merge", "httpResponse", "executeWorkflow"})
"""Node types whose output holds their input as it is (executeWorkflow: its default
input is its own)."""


def input_copies(workflow: Workflow) -> int:
    """How many times a webhook's input can appear in a run's record: the trigger's
    output, plus each node that carries it on whole — one whose output holds its
    input (a ``set`` merging into it, ``if``, ``wait``, an ``httpResponse`` …) fed by
    a node that carries it. An upper bound for the record size check of
    ``WebhookHandler``: nodes that replace their input (an ``httpRequest``, a ``set``
    with ``keepOnlySet``) end the chain."""
    carries: dict[str, bool] = {}
    for name in workflow.order:
        node = workflow.nodes[name]
        if node.is_trigger:
            carries[name] = True
            continue
        keeps_input = node.type in _CARRIERS or (
            node.type == "set" and not node.parameters.get("keepOnlySet", False)
        )
        carries[name] = keeps_input and any(
            carries.get(c.source, False) for c in workflow.incoming.get(name, ())
        )
    return sum(carries.values())


def _parse(record: WorkflowRecord) -> WebhookRoute | ScheduleEntry | None:
    document = json.loads(record.definition)
    try:
        workflow = parse_workflow(document)
    except InvalidArgument as exc:  # stored before a stricter release; never serve it
        log.error("Stored workflow no longer validates", workflow_id=record.id, error=exc.message)
        return None
    hook = workflow.webhook
    if hook is not None:
        return WebhookRoute(
            workflow_id=record.id,
            method=hook.method,
            path=hook.path,
            params=hook,
            settings=workflow.settings,
            definition=record.definition_bytes,
            input_copies=input_copies(workflow),
            document=document,
        )
    params = workflow.trigger.params
    if isinstance(params, ScheduleParameters):
        return ScheduleEntry(
            workflow_id=record.id,
            params=params,
            definition=record.definition_bytes,
            updated_at=record.updated_at,
        )
    return None
