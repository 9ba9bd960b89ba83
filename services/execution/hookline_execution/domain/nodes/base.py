"""What every node handler receives and returns.

A handler is ``async (params, input, ctx) -> NodeResult``: ``params`` are the node's
parameters with templates rendered, ``input`` is its ``json``. A handler that cannot
do its job raises ``NodeError``; the engine records it against the node.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from hookline_execution.domain.credentials import CredentialSource

__all__ = [
    "Handler",
    "NodeContext",
    "NodeError",
    "NodeResult",
    "WorkflowCaller",
    "header_value",
    "number",
]


class NodeError(Exception):
    """A node failed. The engine prefixes ``node "Name": `` unless ``bare`` is set
    (stopAndError's message is the user's own, shown as written)."""

    def __init__(self, message: str, *, bare: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.bare = bare


@dataclass(frozen=True, slots=True)
class NodeResult:
    """A node's output, the output(s) it emitted on, and the HTTP response it marks.

    ``emit`` is one output name or a set of them (a switch in mode ``all``); an empty
    set emits on nothing, so every node after it is skipped."""

    output: Any
    emit: str | frozenset[str] = "main"
    response: dict[str, Any] | None = None

    @property
    def emitted(self) -> frozenset[str]:
        """Every output this result activates."""
        return frozenset((self.emit,)) if isinstance(self.emit, str) else self.emit


@dataclass(frozen=True, slots=True)
class NodeContext:
    """Process-wide resources handlers use."""

    http: httpx.AsyncClient
    max_response_bytes: int
    raw_parameters: Mapping[str, Any]
    """The node's parameters as written, to tell an absent parameter from a null one."""
    credentials: CredentialSource | None = None
    """Where httpRequest finds the credential it names (None: none can be had)."""
    calls: WorkflowCaller | None = None
    """How executeWorkflow starts and waits for other workflows (None: it cannot)."""
    call_key: str = ""
    """Names this node run within its run (node, forEach element, try), so that a
    child it starts has an id of its own that a repeat of the same run finds again."""


class WorkflowCaller(Protocol):
    """Runs other workflows on behalf of one run (``domain.subworkflows``)."""

    async def call(
        self, key: str, params: Mapping[str, Any], input: Any, *, input_given: bool
    ) -> NodeResult:
        """Start the workflow ``params`` name with ``input`` and, unless ``wait`` is
        false, wait for its result; ``NodeError`` when it cannot start or failed."""


Handler = Callable[[dict[str, Any], Any, NodeContext], Awaitable[NodeResult]]


def number(value: Any, name: str, *, low: float, high: float) -> float:
    """``value`` as a number within [low, high]; templates may give numeric strings."""
    if isinstance(value, bool):
        raise NodeError(f"{name} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise NodeError(f"{name} must be a number, got {value!r}") from None
    if not isinstance(value, (int, float)):
        raise NodeError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise NodeError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return float(value)


def header_value(value: Any) -> str:
    """A rendered header value as text: objects, lists and booleans as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
