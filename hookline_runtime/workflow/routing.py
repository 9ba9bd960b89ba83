"""Outputs and joins in the workflow language: the ``switch`` and ``merge`` node
parameters, the output names each node may emit on, and the checks a connection's
``output`` and a merge's inputs must pass (DESIGN.md section 2).

Outputs by source node: ``true``/``false`` from ``if``; the rule outputs and the
fallback from ``switch``; ``main`` from every other node; and ``error`` as well from a
node whose ``onError`` is ``errorOutput``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hookline_runtime.errors import InvalidArgument
from hookline_runtime.workflow.node_settings import ERROR_OUTPUT, NodeSettings

__all__ = [
    "MergeParameters",
    "SwitchParameters",
    "SwitchRule",
    "check_connection_output",
    "check_merge_inputs",
    "output_names",
]

_OUTPUT_RE = re.compile(r"^[A-Za-z0-9 _.:/-]{1,64}$")
_OUTPUT_RULE = "must be 1 to 64 letters, digits, spaces or -_.:/"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _output_name(value: str) -> str:
    if not _OUTPUT_RE.match(value):
        raise ValueError(_OUTPUT_RULE)
    return value


class SwitchRule(_Strict):
    output: str
    condition: Any

    @field_validator("output")
    @classmethod
    def _name(cls, value: str) -> str:
        return _output_name(value)


class SwitchParameters(_Strict):
    """Rules in order; ``first`` takes the first true rule, ``all`` every true rule;
    ``fallback`` is taken when none is true (absent: nothing runs on)."""

    rules: list[SwitchRule] = Field(min_length=1, max_length=64)
    fallback: str | None = None
    mode: Literal["first", "all"] = "first"

    @field_validator("fallback")
    @classmethod
    def _fallback(cls, value: str | None) -> str | None:
        return None if value is None else _output_name(value)

    @model_validator(mode="after")
    def _unique(self) -> SwitchParameters:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.output in seen:
                raise ValueError(f'two rules name output "{rule.output}"')
            seen.add(rule.output)
        return self

    def outputs(self) -> list[str]:
        names = [rule.output for rule in self.rules]
        if self.fallback is not None and self.fallback not in names:
            names.append(self.fallback)
        return names


class MergeParameters(_Strict):
    """``byName``: ``{fromNode: output}``; ``append``: the outputs, in connection order."""

    mode: Literal["byName", "append"] = "byName"


class _Routable(Protocol):
    """What the checks need of a node (``hookline_runtime.workflow.Node`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def params(self) -> BaseModel: ...

    @property
    def settings(self) -> NodeSettings: ...


def output_names(node: _Routable) -> list[str]:
    """The outputs ``node`` may emit on, in the order a diagram draws them."""
    params = node.params
    if node.type == "if":
        names = ["true", "false"]
    elif isinstance(params, SwitchParameters):
        names = params.outputs()
    else:
        names = ["main"]
    if node.settings.onError == "errorOutput":
        if ERROR_OUTPUT in names:
            raise InvalidArgument(
                f'node "{node.name}" onError: output "{ERROR_OUTPUT}" is taken by a rule; '
                "rename the rule to use errorOutput",
                field=node.name,
            )
        names.append(ERROR_OUTPUT)
    return names


def check_connection_output(label: str, source: _Routable, output: str) -> None:
    """InvalidArgument naming the connection when ``source`` has no such output."""
    names = output_names(source)
    if output in names:
        return
    known = ", ".join(f'"{name}"' for name in names)
    hint = ""
    if output == ERROR_OUTPUT:
        hint = ' (an "error" output needs "onError": "errorOutput" on that node)'
    raise InvalidArgument(
        f'{label}: node "{source.name}" ({source.type}) has no output "{output}"{hint}; '
        f"its outputs: {known}",
        field="connections",
    )


def check_merge_inputs(node: _Routable, incoming: Iterable[object]) -> None:
    """A merge joins branches: it needs two incoming connections at least."""
    count = sum(1 for _ in incoming)
    if node.type == "merge" and count < 2:
        raise InvalidArgument(
            f'node "{node.name}": a merge needs at least two incoming connections, '
            f"found {count}",
            field=node.name,
        )
