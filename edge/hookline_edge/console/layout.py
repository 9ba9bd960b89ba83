"""A layered left-to-right layout of a workflow graph, as plain geometry.

``layout_workflow(workflow)`` takes the workflow JSON of the public API (its
``nodes`` and ``connections``) and places every node in a column (its layer: the
longest path from a trigger), orders each column to keep edges from crossing
(barycentre sweeps, the Sugiyama method), and routes edges that skip columns
through virtual points so they pass between the nodes. ``console.svg`` draws it.
Nothing here knows about HTTP or SVG; it takes any JSON and never raises on a
graph the server would have rejected (unknown names, cycles).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Diagram", "EdgePath", "NodeBox", "layout_workflow"]

NODE_WIDTH = 168.0
NODE_HEIGHT = 56.0
COLUMN_GAP = 88.0
ROW_GAP = 36.0
MARGIN = 24.0
_SWEEPS = 6
_PORT_STEP = 24.0
"""The outputs of a node with several (if, switch, error outputs) leave it this far
apart, so that every label shows."""
_PORT_RANK = {"true": 0, "false": 1, "error": 3}


@dataclass(frozen=True, slots=True)
class NodeBox:
    """A node placed on the canvas; ``x``/``y`` is its top-left corner."""

    name: str
    type: str
    layer: int
    x: float
    y: float
    width: float = NODE_WIDTH
    height: float = NODE_HEIGHT
    marks: tuple[str, ...] = ()
    """Badges for node settings: ``forEach``, ``retry``, ``onError``."""

    @property
    def out_port(self) -> tuple[float, float]:
        return (self.x + self.width, self.y + self.height / 2)

    @property
    def in_port(self) -> tuple[float, float]:
        return (self.x, self.y + self.height / 2)


@dataclass(frozen=True, slots=True)
class EdgePath:
    """A connection: from ``source``'s out port through ``points`` to ``target``'s in port."""

    source: str
    target: str
    output: str
    points: tuple[tuple[float, float], ...]

    @property
    def label(self) -> str | None:
        """The output's name (``true``/``false``, a switch rule, ``error``); nothing on
        ``main``."""
        return None if self.output == "main" else self.output


@dataclass(frozen=True, slots=True)
class Diagram:
    width: float
    height: float
    nodes: tuple[NodeBox, ...]
    edges: tuple[EdgePath, ...]

    def node(self, name: str) -> NodeBox:
        return next(box for box in self.nodes if box.name == name)


@dataclass(slots=True)
class _Slot:
    """A real node or a virtual point of a long edge, in one layer."""

    key: str
    layer: int
    preds: list[str] = field(default_factory=list)
    succs: list[str] = field(default_factory=list)


def _graph(workflow: Mapping[str, Any]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    types: dict[str, str] = {}
    for node in workflow.get("nodes") or []:
        if isinstance(node, Mapping) and isinstance(node.get("name"), str):
            types.setdefault(node["name"], str(node.get("type", "")))
    edges: list[tuple[str, str, str]] = []
    for conn in workflow.get("connections") or []:
        if not isinstance(conn, Mapping):
            continue
        source, target = conn.get("from"), conn.get("to")
        if source in types and target in types and source != target:
            edges.append((str(source), str(target), str(conn.get("output") or "main")))
    return types, edges


def _marks(workflow: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Badges for each node's settings: ``forEach``, ``retry ×N``, ``onError``."""
    marks: dict[str, tuple[str, ...]] = {}
    for node in workflow.get("nodes") or []:
        if not isinstance(node, Mapping) or not isinstance(node.get("name"), str):
            continue
        found: list[str] = []
        if node.get("forEach") is not None:
            found.append(f"forEach ×{node.get('forEachConcurrency') or 1}")
        retry = node.get("retry")
        if isinstance(retry, Mapping) and retry.get("maxTries", 1) != 1:
            found.append(f"retry ×{retry.get('maxTries')}")
        if node.get("onError") in ("continue", "errorOutput"):
            found.append(f"onError {node.get('onError')}")
        marks[node["name"]] = tuple(found)
    return marks


def _port_offsets(edges: list[tuple[str, str, str]]) -> dict[tuple[str, str], float]:
    """Where each (source, output) leaves its node, relative to the node's middle."""
    outputs: dict[str, list[str]] = {}
    for source, _, output in edges:
        names = outputs.setdefault(source, [])
        if output not in names:
            names.append(output)
    offsets: dict[tuple[str, str], float] = {}
    for source, names in outputs.items():
        names.sort(key=lambda name: _PORT_RANK.get(name, 2))
        step = min(_PORT_STEP, (NODE_HEIGHT - 12) / max(len(names) - 1, 1))
        for index, name in enumerate(names):
            offsets[source, name] = (index - (len(names) - 1) / 2) * step
    return offsets


def _layers(names: list[str], edges: list[tuple[str, str, str]]) -> dict[str, int]:
    """Longest path from a source (Kahn's order); nodes on a cycle go after the rest."""
    indegree = {name: 0 for name in names}
    succs: dict[str, list[str]] = {name: [] for name in names}
    for source, target, _ in edges:
        indegree[target] += 1
        succs[source].append(target)
    layer = {name: 0 for name in names}
    ready = [name for name in names if indegree[name] == 0]
    done: set[str] = set()
    while ready:
        name = ready.pop(0)
        done.add(name)
        for target in succs[name]:
            layer[target] = max(layer[target], layer[name] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    deepest = max(layer.values(), default=0)
    for name in names:
        if name not in done:
            deepest += 1
            layer[name] = deepest
    return layer


def _order(columns: list[list[str]], slots: dict[str, _Slot]) -> None:
    """Reorder each column by the barycentre of its neighbours, sweeping both ways."""

    def barycentre(key: str, neighbours: str, position: dict[str, int]) -> float:
        linked: list[str] = getattr(slots[key], neighbours)
        if not linked:
            return float(position[key])
        return sum(position[other] for other in linked) / len(linked)

    def sweep(indices: range, neighbours: str) -> None:
        for i in indices:
            position = {key: idx for col in columns for idx, key in enumerate(col)}
            columns[i].sort(key=lambda key: barycentre(key, neighbours, position))

    for _ in range(_SWEEPS // 2):
        sweep(range(1, len(columns)), "preds")
        sweep(range(len(columns) - 2, -1, -1), "succs")


def _rows(columns: list[list[str]], slots: dict[str, _Slot]) -> dict[str, float]:
    """Vertical positions: each node as level as it can be with its predecessors.

    Column by column, a node wants the mean height of its predecessors; a forward pass
    keeps the column's order and spacing, then the whole column moves up by the mean
    overshoot so that it stays balanced around what its nodes wanted.
    """
    pitch = NODE_HEIGHT + ROW_GAP
    y: dict[str, float] = {}
    for col in columns:
        wanted: list[float | None] = []
        for key in col:
            # Predecessors to the left only (a cycle's back edge points the other way).
            placed_preds = [y[p] for p in slots[key].preds if p in y]
            wanted.append(sum(placed_preds) / len(placed_preds) if placed_preds else None)
        placed: list[float] = []
        for want in wanted:
            if not placed:
                placed.append(want if want is not None else 0.0)
            else:
                floor = placed[-1] + pitch
                placed.append(floor if want is None else max(want, floor))
        gaps = [want - at for want, at in zip(wanted, placed) if want is not None]
        shift = sum(gaps) / len(gaps) if gaps else 0.0
        for key, at in zip(col, placed):
            y[key] = at + shift
    return y


def layout_workflow(workflow: Mapping[str, Any]) -> Diagram:
    """Place the nodes and route the connections of a workflow (public JSON shape)."""
    types, edges = _graph(workflow)
    names = list(types)
    if not names:
        return Diagram(width=2 * MARGIN, height=2 * MARGIN, nodes=(), edges=())
    layer = _layers(names, edges)

    slots = {name: _Slot(name, layer[name]) for name in names}
    chains: list[tuple[str, str, str, list[str]]] = []
    for index, (source, target, output) in enumerate(edges):
        chain = [source]
        for step in range(layer[source] + 1, layer[target]):
            key = f"\0{index}:{step}"
            slots[key] = _Slot(key, step)
            chain.append(key)
        chain.append(target)
        for a, b in itertools.pairwise(chain):
            slots[a].succs.append(b)
            slots[b].preds.append(a)
        chains.append((source, target, output, chain[1:-1]))

    columns: list[list[str]] = [[] for _ in range(max(s.layer for s in slots.values()) + 1)]
    for key, slot in slots.items():
        columns[slot.layer].append(key)
    _order(columns, slots)

    rows = _rows(columns, slots)
    top = min(rows.values())
    centre = {
        key: (MARGIN + slots[key].layer * (NODE_WIDTH + COLUMN_GAP), MARGIN + rows[key] - top)
        for key in slots
    }
    height = max(y for _, y in centre.values()) + NODE_HEIGHT + MARGIN

    marks = _marks(workflow)
    boxes = tuple(
        NodeBox(
            name=name,
            type=types[name],
            layer=layer[name],
            x=centre[name][0],
            y=centre[name][1],
            marks=marks.get(name, ()),
        )
        for col in columns
        for name in col
        if name in types
    )
    by_name = {box.name: box for box in boxes}
    paths: list[EdgePath] = []
    offsets = _port_offsets(edges)
    for source, target, output, virtual in chains:
        out_x, out_y = by_name[source].out_port
        points = [(out_x, out_y + offsets.get((source, output), 0.0))]
        for key in virtual:
            x, y = centre[key]
            points.append((x, y + NODE_HEIGHT / 2))
            points.append((x + NODE_WIDTH, y + NODE_HEIGHT / 2))
        points.append(by_name[target].in_port)
        paths.append(EdgePath(source, target, output, tuple(points)))

    width = MARGIN * 2 + len(columns) * NODE_WIDTH + (len(columns) - 1) * COLUMN_GAP
    return Diagram(width=width, height=height, nodes=boxes, edges=tuple(paths))
