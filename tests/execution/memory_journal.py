"""A ``RunJournal`` in a dict, for engine- and service-level tests of resumed runs."""

from __future__ import annotations

from hookline_execution.domain.journal import JournaledNode

__all__ = ["MemoryJournal"]


class MemoryJournal:
    """``entries`` maps node name → (output, metadata), as the Redis adapter keeps them."""

    def __init__(self, nodes: dict[str, JournaledNode] | None = None) -> None:
        self.entries: dict[str, tuple[bytes, bytes]] = {
            name: node.encode_parts() for name, node in (nodes or {}).items()
        }

    async def record(self, execution_id: str, node: str, output: bytes, meta: bytes) -> None:
        self.entries[node] = (output, meta)

    async def load(self, execution_id: str) -> dict[str, tuple[bytes, bytes | None]]:
        return dict(self.entries)
