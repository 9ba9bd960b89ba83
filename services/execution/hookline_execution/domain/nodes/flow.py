"""Nodes that shape data and steer the run: set, if, wait, stopAndError."""

from __future__ import annotations

import asyncio
from typing import Any

from hookline_execution.domain.nodes.base import NodeContext, NodeError, NodeResult, number

__all__ = ["if_node", "set_node", "stop_and_error_node", "truthy", "wait_node"]

_FALSE_STRINGS = frozenset({"", "false", "0", "none", "null"})


def _assign(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in ``target``, copying each nested object on the way (the
    input belongs to the previous node and must not change)."""
    *parents, last = dotted.split(".")
    current = target
    for key in parents:
        child = current.get(key)
        child = dict(child) if isinstance(child, dict) else {}
        current[key] = child
        current = child
    current[last] = value


async def set_node(params: dict[str, Any], input: Any, ctx: NodeContext) -> NodeResult:
    values = params.get("values") or {}
    if not isinstance(values, dict):
        raise NodeError("values must be an object")
    keep_only = params.get("keepOnlySet", False)
    out: dict[str, Any] = {} if truthy(keep_only) or not isinstance(input, dict) else dict(input)
    for field, value in values.items():
        _assign(out, str(field), value)
    return NodeResult(out)


def truthy(value: Any) -> bool:
    """Python truth, except that the strings "false", "0", "none", "null" and ""
    (any case, surrounding blanks ignored) are false: a rendered template is text."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_STRINGS
    return bool(value)


async def if_node(params: dict[str, Any], input: Any, ctx: NodeContext) -> NodeResult:
    return NodeResult(input, emit="true" if truthy(params.get("condition")) else "false")


async def wait_node(params: dict[str, Any], input: Any, ctx: NodeContext) -> NodeResult:
    seconds = number(params.get("seconds"), "seconds", low=0, high=86400)
    await asyncio.sleep(seconds)
    return NodeResult(input)


async def stop_and_error_node(params: dict[str, Any], input: Any, ctx: NodeContext) -> NodeResult:
    message = params.get("message", "Workflow stopped with an error")
    raise NodeError(message if isinstance(message, str) else str(message), bare=True)
