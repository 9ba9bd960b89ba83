"""The run journal: what a run has finished so far, so that a run taken over from a
dead worker resumes after its last finished node (DESIGN.md section 8).

Each node that succeeds is written, before the next node starts, as one
``JournaledNode`` under its name (the Redis adapter keeps them in the hash
``hookline:journal:{executionId}``). A resumed run takes a journaled node's output,
emitted output and response from here instead of running it again: every node runs
at least once, and a finished node never runs again — only the node that was running
when its worker died runs a second time. The journal is deleted with the queue entry
when the run ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from runtime.errors import Unavailable
from runtime.logs import get_logger
from services.execution.domain.record import SUCCESS, NodeRun, encode_json

__all__ = ["Checkpoint", "JournaledNode", "RunJournal"]

log = get_logger(__name__)


class RunJournal(Protocol):
    """Where journals live; adapters raise ``Unavailable`` when they cannot answer."""

    async def record(self, execution_id: str, node: str, entry: bytes) -> None:
        """Add (or replace) one node's entry."""

    async def load(self, execution_id: str) -> dict[str, bytes]:
        """Every entry of a run's journal (empty when there is none)."""


@dataclass(frozen=True, slots=True)
class JournaledNode:
    """A finished node, as a resumed run needs it."""

    started_at: datetime
    duration_ms: float
    output: Any
    emit: str
    response: dict[str, Any] | None = None

    def encode(self) -> bytes:
        return encode_json(
            {
                "startedAt": self.started_at.isoformat(),
                "durationMs": self.duration_ms,
                "output": self.output,
                "emit": self.emit,
                "response": self.response,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> JournaledNode:
        value = json.loads(data)
        return cls(
            started_at=datetime.fromisoformat(value["startedAt"]),
            duration_ms=float(value["durationMs"]),
            output=value["output"],
            emit=str(value["emit"]),
            response=value.get("response"),
        )

    def node_run(self) -> NodeRun:
        return NodeRun(SUCCESS, self.started_at, self.duration_ms, self.output)


class Checkpoint:
    """One run's journal: the nodes it finished before (after ``load``), and ``save``
    for each node it finishes now. A journal that cannot be written does not fail the
    run; it only means the run would start over if its worker died (logged once)."""

    def __init__(self, journal: RunJournal, execution_id: str, *, resume: bool) -> None:
        self._journal = journal
        self._execution_id = execution_id
        self._resume = resume
        self._warned = False
        self.done: Mapping[str, JournaledNode] = {}

    async def load(self) -> None:
        """Read what an earlier delivery of this run finished (only for a run taken over
        from another worker: a first delivery has no journal)."""
        if not self._resume:
            return
        try:
            entries = await self._journal.load(self._execution_id)
        except Unavailable as exc:
            log.error("Run journal unreadable: the run starts over", error=exc.message)
            return
        done: dict[str, JournaledNode] = {}
        for name, data in entries.items():
            try:
                done[name] = JournaledNode.decode(data)
            except (ValueError, KeyError, TypeError) as exc:
                log.error(
                    "Run journal entry unreadable: the node runs again", node=name, error=str(exc)
                )
        self.done = done

    async def save(self, node: str, entry: JournaledNode) -> None:
        try:
            await self._journal.record(self._execution_id, node, entry.encode())
        except Unavailable as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "Run journal write failed: this run would start over if its worker died",
                    node=node,
                    error=exc.message,
                )
