"""Parsed workflows, cached: the same workflow runs again and again, and
validating it is the costly part of starting a run."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from hookline_runtime.workflow import Workflow, parse_workflow

__all__ = ["WorkflowCache"]


class WorkflowCache:
    """An LRU of parsed workflows keyed by (id, updatedAt). A workflow without both
    (not stored by the trigger service) is parsed every time."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str], Workflow] = OrderedDict()

    def parse(self, data: Mapping[str, Any]) -> Workflow:
        """The parsed workflow; InvalidArgument when it is not valid."""
        workflow_id, updated_at = data.get("id"), data.get("updatedAt")
        if not (isinstance(workflow_id, str) and isinstance(updated_at, str)):
            return parse_workflow(data)
        key = (workflow_id, updated_at)
        workflow = self._entries.get(key)
        if workflow is not None:
            self._entries.move_to_end(key)
            return workflow
        workflow = parse_workflow(data)
        self._entries[key] = workflow
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return workflow

    def __len__(self) -> int:
        return len(self._entries)
