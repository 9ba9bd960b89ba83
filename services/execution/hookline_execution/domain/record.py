"""The execution record (DESIGN.md section 3) while it is built, and its JSON.

``ExecutionRecord`` is filled in by the engine node by node; ``to_json`` gives the
public shape and ``encode`` the UTF-8 JSON bytes that go, unchanged, to the
database and to the cache service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hookline_runtime.clock import from_iso, to_iso

__all__ = ["ExecutionRecord", "NodeRun", "TryRun", "encode_json"]

RUNNING = "running"
SUCCESS = "success"
ERROR = "error"
SKIPPED = "skipped"


def _json_fallback(value: object) -> Any:
    """Values templates can produce that JSON has no word for."""
    if isinstance(value, (set, frozenset, tuple, range)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON; anything not JSON-native becomes a list or a string."""
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), default=_json_fallback
    ).encode("utf-8")


@dataclass(frozen=True, slots=True)
class TryRun:
    """One try of a node with a ``retry`` setting; ``index`` is the forEach element."""

    status: str
    started_at: datetime
    duration_ms: float
    error: str | None = None
    index: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "error": self.error,
            "startedAt": to_iso(self.started_at),
            "durationMs": round(self.duration_ms, 3),
        }
        if self.index is not None:
            out["index"] = self.index
        return out

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> TryRun:
        index = value.get("index")
        return cls(
            status=str(value["status"]),
            started_at=from_iso(str(value["startedAt"])),
            duration_ms=float(value["durationMs"]),
            error=value.get("error"),
            index=int(index) if index is not None else None,
        )


@dataclass(slots=True)
class NodeRun:
    """What happened to one node. ``error`` is set on a failed node, and on a node
    whose ``onError`` let the run go on (its status stays success); ``tries`` lists
    the tries of a node with a ``retry`` setting."""

    status: str
    started_at: datetime
    duration_ms: float = 0.0
    output: Any = None
    error: str | None = None
    tries: list[TryRun] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "output": self.output,
            "startedAt": to_iso(self.started_at),
            "durationMs": round(self.duration_ms, 3),
        }
        if self.error is not None:
            out["error"] = self.error
        if self.tries is not None:
            out["tries"] = [one.to_json() for one in self.tries]
        return out


@dataclass(slots=True)
class ExecutionRecord:
    """One execution, from its start to its end."""

    id: str
    workflow_id: str
    workflow_name: str
    mode: str
    started_at: datetime
    status: str = RUNNING
    finished_at: datetime | None = None
    nodes: dict[str, NodeRun] = field(default_factory=dict)
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status != RUNNING

    @property
    def last_node(self) -> str | None:
        """The node decided last (ran, failed or was skipped), if any."""
        return next(reversed(self.nodes), None)

    def succeed(self, at: datetime) -> None:
        self.status = SUCCESS
        self.finished_at = at

    def fail(self, node: str | None, message: str, at: datetime) -> None:
        self.status = ERROR
        self.error = {"node": node, "message": message}
        self.finished_at = at

    def stripped(self, message: str) -> ExecutionRecord:
        """A small error record standing in for this one when it cannot be delivered:
        node statuses are kept, outputs and the response are dropped, and ``error``
        names the last node with ``message``."""
        small = ExecutionRecord(
            id=self.id,
            workflow_id=self.workflow_id,
            workflow_name=self.workflow_name,
            mode=self.mode,
            started_at=self.started_at,
            nodes={
                name: NodeRun(
                    run.status, run.started_at, run.duration_ms, None, run.error, run.tries
                )
                for name, run in self.nodes.items()
            },
        )
        small.fail(self.last_node, message, self.finished_at or self.started_at)
        return small

    def too_large(self, size: int, limit: int) -> ExecutionRecord:
        """``stripped`` with a message giving the record's size and the limit."""
        return self.stripped(
            f"the execution result is too large to deliver ({size} bytes; the limit is "
            f"{limit} bytes)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflowId": self.workflow_id,
            "workflowName": self.workflow_name,
            "mode": self.mode,
            "status": self.status,
            "startedAt": to_iso(self.started_at),
            "finishedAt": to_iso(self.finished_at) if self.finished_at else None,
            "nodes": {name: run.to_json() for name, run in self.nodes.items()},
            "response": self.response,
            "error": self.error,
        }

    def encode(self) -> bytes:
        return encode_json(self.to_json())
