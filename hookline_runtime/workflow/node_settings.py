"""Node settings of the workflow language (DESIGN.md section 2, "Node settings").

Beside ``name``, ``type`` and ``parameters``, any non-trigger node may carry:

- ``retry``: ``{"maxTries", "waitSeconds", "backoff"}``: how often a failing node is
  tried and how long the engine waits between tries (``RetrySettings.wait_after``);
- ``onError``: ``stop`` (the run fails), ``continue`` (the node outputs
  ``{"error": {"message", "node"}}`` on ``main``) or ``errorOutput`` (the same output,
  on the output named ``error``);
- ``forEach`` / ``forEachConcurrency``: a template giving a list; the node runs once
  per element, at most that many at once.

``parse_node_settings`` validates them for one node; the engine reads the result from
``Node.settings``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hookline_runtime.errors import InvalidArgument

__all__ = [
    "ERROR_OUTPUT",
    "SETTING_FIELDS",
    "NodeSettings",
    "OnError",
    "RetrySettings",
    "parse_node_settings",
]

ERROR_OUTPUT = "error"
"""The output a node with ``onError: errorOutput`` emits on when it fails."""

OnError = Literal["stop", "continue", "errorOutput"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RetrySettings(_Strict):
    """``maxTries`` tries at most; between them ``waitSeconds``, doubled after each
    failed try when ``backoff`` is ``exponential``."""

    maxTries: int = Field(default=1, ge=1, le=10)
    waitSeconds: float = Field(default=1, ge=0, le=300)
    backoff: Literal["fixed", "exponential"] = "fixed"

    def wait_after(self, failed_tries: int) -> float:
        """Seconds to wait after try number ``failed_tries`` failed, before the next
        one: ``waitSeconds``, or ``waitSeconds × 2^(n-1)`` with exponential backoff."""
        if self.backoff == "exponential":
            return float(self.waitSeconds * 2 ** (failed_tries - 1))
        return float(self.waitSeconds)

    def schedule(self) -> list[float]:
        """Every wait a node that always fails goes through, in order."""
        return [self.wait_after(n) for n in range(1, self.maxTries)]


class NodeSettings(_Strict):
    """A node's settings, defaults filled in; ``model_fields_set`` tells what the
    user wrote (``to_json`` echoes only that)."""

    retry: RetrySettings | None = None
    onError: OnError = "stop"
    forEach: str | list[Any] | None = None
    forEachConcurrency: int = Field(default=1, ge=1, le=100)

    @field_validator("forEach")
    @classmethod
    def _for_each(cls, value: str | list[Any] | None) -> str | list[Any] | None:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must be a template giving a list, or a list")
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(include=set(self.model_fields_set), exclude_none=True)


SETTING_FIELDS = frozenset(NodeSettings.model_fields)
"""The node keys that are settings (beside name, type, parameters, position)."""


def parse_node_settings(
    label: str, raw: dict[str, Any], *, is_trigger: bool
) -> NodeSettings:
    """The settings among a node's keys; InvalidArgument names the node and field."""
    present = {key: value for key, value in raw.items() if key in SETTING_FIELDS}
    if is_trigger and present:
        field = min(present)
        raise InvalidArgument(
            f"{label} {field}: node settings are for non-trigger nodes only", field=field
        )
    try:
        settings = NodeSettings.model_validate(present)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"] if part not in ("str", "list[any]"))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "is not a known field"
        raise InvalidArgument(f"{label} {where}: {message}", field=where) from None
    if settings.forEachConcurrency != 1 and settings.forEach is None:
        raise InvalidArgument(
            f"{label} forEachConcurrency: needs forEach", field="forEachConcurrency"
        )
    return settings
