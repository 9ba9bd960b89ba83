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

from hookline_execution.domain.nodes import NodeResult
from hookline_execution.domain.record import SUCCESS, NodeRun, TryRun, encode_json
from hookline_runtime.errors import Unavailable
from hookline_runtime.logs import get_logger

__all__ = ["Checkpoint", "JournaledNode", "RunJournal"]

log = get_logger(__name__)


class RunJournal(Protocol):
    """Where journals live; adapters raise ``Unavailable`` when they cannot answer."""

    async def record(self, execution_id: str, node: str, output: bytes, meta: bytes) -> None:
        """Add (or replace) one node's entry: its output (JSON) and the rest."""

    async def load(self, execution_id: str) -> dict[str, tuple[bytes, bytes | None]]:
        """Every entry of a run's journal, node name → (output, the rest or None);
        empty when there is none."""


@dataclass(frozen=True, slots=True)
class JournaledNode:
    """A finished node, as a resumed run needs it.

    ``emit`` is one output name or a set (a switch in mode ``all``; an empty set
    emits nothing); ``error`` and ``tries`` are those of its record (a node whose
    ``onError`` let the run go on, a retried node). Entries written before those
    existed (``emit`` a string, no ``error``/``tries``) still decode."""

    started_at: datetime
    duration_ms: float
    output: Any
    emit: str | frozenset[str]
    response: dict[str, Any] | None = None
    error: str | None = None
    tries: tuple[TryRun, ...] | None = None

    @classmethod
    def of(cls, run: NodeRun, result: NodeResult) -> JournaledNode:
        """The entry for a node that finished with this record and result."""
        tries = tuple(run.tries) if run.tries is not None else None
        return cls(
            run.started_at,
            run.duration_ms,
            result.output,
            result.emit,
            result.response,
            run.error,
            tries,
        )

    def encode(self) -> bytes:
        """The whole entry as one JSON document."""
        return encode_json({**self._meta(), "output": self.output})

    def encode_parts(self) -> tuple[bytes, bytes]:
        """The output (JSON, as the journal hash keeps it) and everything else."""
        return encode_json(self.output), encode_json(self._meta())

    def _meta(self) -> dict[str, Any]:
        emit = self.emit if isinstance(self.emit, str) else sorted(self.emit)
        value: dict[str, Any] = {
            "startedAt": self.started_at.isoformat(),
            "durationMs": self.duration_ms,
            "emit": emit,
            "response": self.response,
        }
        if self.error is not None:
            value["error"] = self.error
        if self.tries is not None:
            value["tries"] = [one.to_json() for one in self.tries]
        return value

    @classmethod
    def decode_parts(cls, output: bytes, meta: bytes) -> JournaledNode:
        return cls._from({**json.loads(meta), "output": json.loads(output)})

    @classmethod
    def decode(cls, data: bytes) -> JournaledNode:
        return cls._from(json.loads(data))

    @classmethod
    def _from(cls, value: dict[str, Any]) -> JournaledNode:
        emit = value["emit"]
        tries = value.get("tries")
        return cls(
            started_at=datetime.fromisoformat(value["startedAt"]),
            duration_ms=float(value["durationMs"]),
            output=value["output"],
            emit=str(emit) if isinstance(emit, str) else frozenset(str(e) for e in emit),
            response=value.get("response"),
            error=value.get("error"),
            tries=tuple(TryRun.from_json(one) for one in tries) if tries is not None else None,
        )

    def result(self) -> NodeResult:
        return NodeResult(self.output, self.emit, self.response)

    def node_run(self) -> NodeRun:
        tries = list(self.tries) if self.tries is not None else None
        return NodeRun(SUCCESS, self.started_at, self.duration_ms, self.output, self.error, tries)


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
        for name, (output, meta) in entries.items():
            try:
                if meta is None:
                    raise KeyError("its metadata is missing")
                done[name] = JournaledNode.decode_parts(output, meta)
            except (ValueError, KeyError, TypeError) as exc:
                log.error(
                    "Run journal entry unreadable: the node runs again", node=name, error=str(exc)
                )
        self.done = done

    async def save(self, node: str, entry: JournaledNode) -> None:
        try:
            await self._journal.record(self._execution_id, node, *entry.encode_parts())
        except Unavailable as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "Run journal write failed: this run would start over if its worker died",
                    node=node,
                    error=exc.message,
                )
