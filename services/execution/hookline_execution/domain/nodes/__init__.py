"""Node handlers by node type (triggers are handled by the engine itself)."""

from __future__ import annotations

from hookline_execution.domain.nodes.base import (
    Handler,
    NodeContext,
    NodeError,
    NodeResult,
    WorkflowCaller,
)
from hookline_execution.domain.nodes.branching import merge_input, merge_node, switch_node
from hookline_execution.domain.nodes.flow import (
    if_node,
    set_node,
    stop_and_error_node,
    truthy,
    wait_node,
)
from hookline_execution.domain.nodes.http_request import http_request_node
from hookline_execution.domain.nodes.http_response import http_response_node
from hookline_execution.domain.nodes.subworkflow import execute_workflow_node

__all__ = [
    "HANDLERS",
    "REPLAYABLE",
    "Handler",
    "NodeContext",
    "NodeError",
    "NodeResult",
    "WorkflowCaller",
    "merge_input",
    "truthy",
]

HANDLERS: dict[str, Handler] = {
    "set": set_node,
    "if": if_node,
    "switch": switch_node,
    "merge": merge_node,
    "wait": wait_node,
    "httpRequest": http_request_node,
    "httpResponse": http_response_node,
    "stopAndError": stop_and_error_node,
    "executeWorkflow": execute_workflow_node,
}

REPLAYABLE: frozenset[str] = frozenset(
    {"set", "if", "switch", "merge", "httpResponse", "stopAndError"}
)
"""Node types whose run changes nothing outside the run: running one again from the
same input gives the run what it gave before, and nobody else sees a difference
(an ``httpResponse`` whose answer goes out early, in ``responseNode`` mode, is the
exception the engine makes). ``wait``, ``httpRequest`` and ``executeWorkflow`` have
effects — time spent, a call made, a child run — and are not replayed after they
finished (DESIGN.md section 8, the run journal)."""
