"""The run journal: what a run has finished so far, so that a run taken over from a
dead worker resumes after its last finished node (DESIGN.md section 8).

Each node that succeeds becomes one ``JournaledNode`` under its name (the Redis
adapter keeps them in the hash ``hookline:journal:{executionId}``). A resumed run
takes a journaled node's output, emitted output and response from here instead of
running it again: every node runs at least once, and a node with effects that
finished never runs again — only the node that was running when its worker died
runs a second time.

When entries are written is the whole cost of the journal, so it follows what the
nodes do. A node with effects (``wait``, ``httpRequest``, ``executeWorkflow``) starts
only once the journal holds everything finished before it, and its own entry is
written as soon as it ends, before the next node starts; an ``httpResponse``
answering early (``responseNode``) is written with everything before it in one round
trip, before its answer goes out. The entries of replayable nodes (``REPLAYABLE``: ``set``, ``if``,
``switch``, ``merge``, a ``lastNode`` ``httpResponse``) are held in memory until
then and go in the same round trip; a run that ends first writes none of them, and
a resumed run replays them — the same inputs give the same outputs, and nothing
outside the run saw them. This is the replay of deterministic steps that Temporal
and Restate use, at node granularity: a workflow of replayable nodes only writes
no journal at all. The journal is deleted with the queue entry when the run ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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

    async def record(self, execution_id: str, entries: Sequence[tuple[str, bytes, bytes]]) -> None:
        """Add (or replace) entries, each (node name, its output as JSON, the rest),
        in one write."""

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
    """One run's journal: the nodes it finished before (after ``load``); ``hold`` for
    each replayable node it finishes now, ``save`` to write what is held (and a node
    with effects that just finished). A journal that cannot be written does not fail
    the run; it only means the run would start over if its worker died (logged
    once)."""

    def __init__(self, journal: RunJournal, execution_id: str, *, resume: bool) -> None:
        self._journal = journal
        self._execution_id = execution_id
        self._resume = resume
        self._warned = False
        self._held: list[tuple[str, JournaledNode]] = []
        self._tried = False
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

    @property
    def started_at(self) -> datetime | None:
        """When the run's first delivery started, as far as its journal shows: the start
        of its earliest finished node (None without a journal)."""
        return min((entry.started_at for entry in self.done.values()), default=None)

    @property
    def may_exist(self) -> bool:
        """Whether this run may have a journal to delete: it was taken over (an earlier
        delivery may have written one), or a write was tried here."""
        return self._resume or self._tried

    def hold(self, node: str, entry: JournaledNode) -> None:
        """Keep a replayable node's entry for the next ``save`` (none if the run ends
        first: a resumed run runs that node again)."""
        self._held.append((node, entry))

    async def save(self, node: str | None = None, entry: JournaledNode | None = None) -> None:
        """Write every held entry, and ``node``'s when given, in one round trip."""
        entries = self._held
        self._held = []
        if node is not None and entry is not None:
            entries.append((node, entry))
        if not entries:
            return
        self._tried = True
        try:
            await self._journal.record(
                self._execution_id, [(name, *one.encode_parts()) for name, one in entries]
            )
        except Unavailable as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "Run journal write failed: this run would start over if its worker died",
                    node=entries[-1][0],
                    error=exc.message,
                )
