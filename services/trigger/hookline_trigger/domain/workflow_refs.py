"""Save-time check of the workflows a workflow names (``hookline_runtime.workflow.calls``):
every ``executeWorkflow`` target and the ``errorWorkflow`` setting must exist, or the
save is refused with ``InvalidArgument`` naming the node (or setting) and the field.
A workflow may name itself — by its own id once it has one, or by its own name.
``errorWorkflow`` holds a workflow id, or a workflow's name (as files applied with
``hookline apply`` can only know it)."""

from __future__ import annotations

from typing import Protocol

from hookline_runtime.errors import InvalidArgument
from hookline_runtime.workflow import Workflow
from hookline_runtime.workflow.calls import workflow_refs
from hookline_trigger.domain.records import WorkflowRecord

__all__ = ["check_workflow_refs"]


class WorkflowFinder(Protocol):
    async def get(self, workflow_id: str) -> WorkflowRecord | None: ...

    async def by_name(self, name: str) -> WorkflowRecord | None: ...


async def check_workflow_refs(
    workflow: Workflow, own_id: str | None, store: WorkflowFinder
) -> None:
    """InvalidArgument for the first workflow ``workflow`` names that does not exist
    (``own_id``: the id it is saved under, None for a new workflow)."""
    for ref in workflow_refs(workflow.to_json()):
        if ref.field == "workflowName":
            if ref.value == workflow.name or await store.by_name(ref.value) is not None:
                continue
            missing = f'no workflow named "{ref.value}"'
        elif ref.field == "errorWorkflow":
            if ref.value in (own_id, workflow.name) or await store.get(ref.value) is not None:
                continue
            if await store.by_name(ref.value) is not None:
                continue
            missing = f'no workflow with id or name "{ref.value}"'
        else:
            if ref.value == own_id or await store.get(ref.value) is not None:
                continue
            missing = f'no workflow with id "{ref.value}"'
        raise InvalidArgument(
            f"{ref.where}: {missing}", field=ref.node if ref.node is not None else "settings"
        )
