"""The ``executeWorkflow`` node: starts another workflow as a run of its own and, with
``wait`` (default true), gives that run's result (``domain.subworkflows``)."""

from __future__ import annotations

from typing import Any

from hookline_execution.domain.nodes.base import NodeContext, NodeError, NodeResult

__all__ = ["execute_workflow_node"]


async def execute_workflow_node(params: dict[str, Any], input: Any, ctx: NodeContext) -> NodeResult:
    if ctx.calls is None:
        raise NodeError("this execution service cannot start other workflows")
    return await ctx.calls.call(
        ctx.call_key, params, input, input_given="input" in ctx.raw_parameters
    )
