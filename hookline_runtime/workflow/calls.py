"""Workflows that start workflows (DESIGN.md section 2): the ``executeWorkflow`` node's
parameters, the modes of the runs they start, and where a workflow names another one.

``workflow_refs`` lists every other workflow a definition names — an
``executeWorkflow`` target (by id or by name) and the ``errorWorkflow`` setting — so
the trigger service can refuse, when the workflow is saved, a name or id that leads
nowhere. Targets written as templates are only known when the node runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ERROR_MODE",
    "SUBWORKFLOW_MODE",
    "ExecuteWorkflowParameters",
    "WorkflowRef",
    "is_template",
    "workflow_refs",
]

SUBWORKFLOW_MODE = "subworkflow"
"""The ``mode`` of a run an ``executeWorkflow`` node started."""

ERROR_MODE = "error"
"""The ``mode`` of a run of a failed run's ``errorWorkflow``."""


class ExecuteWorkflowParameters(BaseModel):
    """``workflowId`` or ``workflowName`` (one of them), ``input`` (a template; absent:
    the node's input) and ``wait`` (default true)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workflowId: str | None = Field(default=None, min_length=1, max_length=255)
    workflowName: str | None = Field(default=None, min_length=1, max_length=255)
    input: Any = None
    wait: bool | str = True

    @model_validator(mode="after")
    def _one_target(self) -> ExecuteWorkflowParameters:
        if (self.workflowId is None) == (self.workflowName is None):
            raise ValueError("give one of workflowId or workflowName")
        return self


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


@dataclass(frozen=True, slots=True)
class WorkflowRef:
    """One workflow a definition names: by ``id`` or by ``name``; ``node`` is None
    for the ``errorWorkflow`` setting."""

    node: str | None
    field: Literal["workflowId", "workflowName", "errorWorkflow"]
    value: str

    @property
    def where(self) -> str:
        if self.node is None:
            return "settings.errorWorkflow"
        return f'node "{self.node}" parameter {self.field}'


def workflow_refs(definition: Mapping[str, Any]) -> list[WorkflowRef]:
    """Every other workflow a (valid) workflow JSON document names, templates left out."""
    refs: list[WorkflowRef] = []
    settings = definition.get("settings")
    if isinstance(settings, Mapping):
        target = settings.get("errorWorkflow")
        if isinstance(target, str):
            refs.append(WorkflowRef(None, "errorWorkflow", target))
    nodes = definition.get("nodes")
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, Mapping) or node.get("type") != "executeWorkflow":
            continue
        params = node.get("parameters")
        if not isinstance(params, Mapping):
            continue
        name = str(node.get("name", ""))
        by_id, by_name = params.get("workflowId"), params.get("workflowName")
        if isinstance(by_id, str) and not is_template(by_id):
            refs.append(WorkflowRef(name, "workflowId", by_id))
        if isinstance(by_name, str) and not is_template(by_name):
            refs.append(WorkflowRef(name, "workflowName", by_name))
    return refs
