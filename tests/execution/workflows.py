"""Workflow JSON builders for the execution tests."""

from __future__ import annotations

import itertools
import uuid
from typing import Any


def node(name: str, type: str, **parameters: Any) -> dict[str, Any]:
    return {"name": name, "type": type, "parameters": parameters}


def link(source: str, target: str, output: str = "main") -> dict[str, Any]:
    return {"from": source, "to": target, "output": output}


def chain(*names: str) -> list[dict[str, Any]]:
    """Connections a -> b -> c ..."""
    return [link(a, b) for a, b in itertools.pairwise(names)]


def workflow(
    nodes: list[dict[str, Any]],
    connections: list[dict[str, Any]] | None = None,
    *,
    save: bool = True,
    ttl: int = 60,
    name: str = "Test workflow",
    trigger: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A stored-looking workflow (with id and updatedAt) whose first node is a manual
    trigger named "Start" unless ``trigger`` is given."""
    start = trigger or node("Start", "manual")
    names = [n["name"] for n in nodes]
    return {
        "id": str(uuid.uuid4()),
        "updatedAt": "2026-11-28T00:00:00Z",
        "name": name,
        "active": True,
        "settings": {"saveExecutionToDatabase": save, "resultTtlSeconds": ttl},
        "nodes": [start, *nodes],
        "connections": connections if connections is not None else chain(start["name"], *names),
    }
