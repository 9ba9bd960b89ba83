"""Nodes that split and join branches: switch and merge.

A ``switch`` emits its input on the outputs its rules choose; a ``merge`` outputs
what ``merge_input`` combined from every parent whose branch was not skipped (the
engine builds that input, since only it knows which branches ran).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hookline_execution.domain.nodes.base import NodeContext, NodeError, NodeResult
from hookline_execution.domain.nodes.flow import truthy
from hookline_runtime.workflow.routing import MergeParameters

__all__ = ["merge_input", "merge_node", "switch_node"]


async def switch_node(params: dict[str, Any], input: Any, ctx: NodeContext) -> NodeResult:
    rules = params.get("rules")
    if not isinstance(rules, list):
        raise NodeError("rules must be a list")
    every = params.get("mode", "first") == "all"
    chosen: list[str] = []
    for rule in rules:
        if isinstance(rule, dict) and truthy(rule.get("condition")):
            chosen.append(str(rule.get("output")))
            if not every:
                break
    fallback = params.get("fallback")
    if not chosen and isinstance(fallback, str):
        chosen.append(fallback)
    return NodeResult(input, emit=frozenset(chosen))


def merge_input(params: object, arrived: Sequence[tuple[str, Any]]) -> Any:
    """What a merge outputs, from ``(parent, output)`` pairs in connection order
    (skipped branches are not among them)."""
    mode = params.mode if isinstance(params, MergeParameters) else "byName"
    if mode == "append":
        return [output for _, output in arrived]
    return {parent: output for parent, output in arrived}


async def merge_node(params: dict[str, Any], input: Any, ctx: NodeContext) -> NodeResult:
    return NodeResult(input)
