"""A ``RunJournal`` in a dict, for engine- and service-level tests of resumed runs."""

from __future__ import annotations

from collections.abc import Sequence

from hookline_execution.domain.journal import JournaledNode

__all__ = ["MemoryJournal"]


class MemoryJournal:
    """``entries`` maps node name → (output, metadata), as the Redis adapter keeps them;
    ``writes`` counts the writes."""

    def __init__(self, nodes: dict[str, JournaledNode] | None = None) -> None:
        self.entries: dict[str, tuple[bytes, bytes]] = {
            name: node.encode_parts() for name, node in (nodes or {}).items()
        }
        self.writes = 0
        """How many writes (round trips, in Redis) ``record`` took."""

    async def record(self, execution_id: str, entries: Sequence[tuple[str, bytes, bytes]]) -> None:
        self.writes += 1
        for node, output, meta in entries:
            self.entries[node] = (output, meta)

    async def load(self, execution_id: str) -> dict[str, tuple[bytes, bytes | None]]:
        return dict(self.entries)
