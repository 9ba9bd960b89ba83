"""httpResponse: marks the HTTP response the webhook caller gets."""

from __future__ import annotations

from typing import Any

from hookline_execution.domain.nodes.base import (
    NodeContext,
    NodeError,
    NodeResult,
    header_value,
    number,
)

__all__ = ["http_response_node"]


async def http_response_node(params: dict[str, Any], input: Any, ctx: NodeContext) -> NodeResult:
    status = int(number(params.get("statusCode", 200), "statusCode", low=100, high=599))
    headers = params.get("headers") or {}
    if not isinstance(headers, dict):
        raise NodeError("headers must be an object")
    # An absent body means "the node's input"; an explicit null means an empty body.
    body = params["body"] if "body" in ctx.raw_parameters else input
    response = {
        "statusCode": status,
        "headers": {str(name): header_value(value) for name, value in headers.items()},
        "body": body,
    }
    return NodeResult(input, response=response)
