"""Draws a ``layout.Diagram`` as inline SVG markup, server-side.

Nodes are rounded boxes coloured by kind (trigger, logic, data, http, error) and,
on an execution page, outlined by their run status; connections are curves with an
arrow head, and named outputs carry a label (``true``/``false`` of an ``if``, a
switch's rule outputs, ``error`` outputs, drawn dashed). Nodes with settings carry
badges (``forEach ×N`` for the repetition, ``retry ×N``, ``onError``). The
result is ``Markup`` (every name is escaped here) to drop into a template.
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup, escape

from hookline_edge.console.layout import Diagram, EdgePath, NodeBox

__all__ = ["node_kind", "render_svg"]

_KINDS = {
    "webhook": "trigger",
    "schedule": "trigger",
    "manual": "trigger",
    "if": "logic",
    "switch": "logic",
    "merge": "logic",
    "wait": "logic",
    "set": "data",
    "httpRequest": "http",
    "httpResponse": "http",
    "stopAndError": "error",
    "executeWorkflow": "logic",
}
_NAME_CHARS = 19


def node_kind(node_type: str) -> str:
    """The colour family of a node type."""
    return _KINDS.get(node_type, "other")


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _curve(points: tuple[tuple[float, float], ...]) -> str:
    """Horizontal-tangent cubic curves between points; straight runs past virtual points."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{_num(x0)},{_num(y0)}"]
    for x1, y1 in rest:
        if y1 == y0 and x1 > x0:
            parts.append(f"L{_num(x1)},{_num(y1)}")
        else:
            bend = max(abs(x1 - x0) / 2, 24.0)
            parts.append(
                f"C{_num(x0 + bend)},{_num(y0)} {_num(x1 - bend)},{_num(y1)} {_num(x1)},{_num(y1)}"
            )
        x0, y0 = x1, y1
    return " ".join(parts)


def _label_anchor(edge: EdgePath) -> tuple[float, float]:
    """A point on the first stretch of the edge, just after it leaves the ``if`` node."""
    (x0, y0), (x1, y1) = edge.points[0], edge.points[1]
    t = 0.3
    bend = max(abs(x1 - x0) / 2, 24.0)
    # Cubic Bezier B(t) with control points (x0+bend, y0) and (x1-bend, y1).
    a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
    x = a * x0 + b * (x0 + bend) + c * (x1 - bend) + d * x1
    y = a * y0 + b * y0 + c * y1 + d * y1
    return x, y


def _short(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def _node(box: NodeBox, status: str | None) -> str:
    classes = f"node kind-{node_kind(box.type)}"
    if status:
        classes += f" status-{escape(status)}"
    title = f"{box.name} ({box.type})" + (f": {status}" if status else "")
    cx = box.x + box.width / 2
    return (
        f'<g class="{classes}" data-node="{escape(box.name)}">'
        f"<title>{escape(title)}</title>"
        f'<rect x="{_num(box.x)}" y="{_num(box.y)}" width="{_num(box.width)}" '
        f'height="{_num(box.height)}" rx="10"/>'
        f'<rect class="node-band" x="{_num(box.x)}" y="{_num(box.y)}" width="6" '
        f'height="{_num(box.height)}" rx="3"/>'
        f'<text class="node-name" x="{_num(cx)}" y="{_num(box.y + 24)}">'
        f"{escape(_short(box.name))}</text>"
        f'<text class="node-type" x="{_num(cx)}" y="{_num(box.y + 42)}">'
        f"{escape(box.type)}{' · ' + escape(status) if status else ''}</text>"
        f"{_marks(box)}</g>"
    )


def _marks(box: NodeBox) -> str:
    """Badges above the node's top edge, one per setting."""
    parts: list[str] = []
    x = box.x + 10
    for mark in box.marks:
        width = 10 + 6.2 * len(mark)
        kind = mark.split(" ", 1)[0]
        parts.append(
            f'<g class="node-mark node-mark-{escape(kind)}"><title>{escape(mark)}</title>'
            f'<rect x="{_num(x)}" y="{_num(box.y - 9)}" width="{_num(width)}" height="16" '
            'rx="8"/>'
            f'<text x="{_num(x + width / 2)}" y="{_num(box.y + 3)}">{escape(mark)}</text></g>'
        )
        x += width + 4
    return "".join(parts)


def _edge(edge: EdgePath, marker: str) -> str:
    label = edge.label
    css = "edge" + (f" edge-{escape(label)}" if label else "")
    return (
        f'<path class="{css}" d="{_curve(edge.points)}" marker-end="url(#{marker})">'
        f"<title>{escape(edge.source)} → {escape(edge.target)}"
        f"{' (' + escape(label) + ')' if label else ''}</title></path>"
    )


def _label(edge: EdgePath) -> str:
    x, y = _label_anchor(edge)
    text = escape(edge.label or "")
    width = 8 + 7 * len(edge.label or "")
    return (
        f'<g class="edge-label edge-label-{text}">'
        f'<rect x="{_num(x - width / 2)}" y="{_num(y - 9)}" width="{_num(width)}" height="16" '
        'rx="4"/>'
        f'<text x="{_num(x)}" y="{_num(y + 3)}">{text}</text></g>'
    )


def render_svg(
    diagram: Diagram,
    *,
    statuses: Mapping[str, str] | None = None,
    dom_id: str = "diagram",
) -> Markup:
    """The diagram as an ``<svg>`` element; ``statuses`` maps node names to run status."""
    statuses = statuses or {}
    marker = f"{dom_id}-arrow"
    parts = [
        (
            f'<svg id="{escape(dom_id)}" class="diagram" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {_num(diagram.width)} {_num(diagram.height)}" '
            f'width="{_num(diagram.width)}" height="{_num(diagram.height)}" role="img" '
            f'aria-label="Workflow diagram with {len(diagram.nodes)} nodes">'
        ),
        (
            f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>'
        ),
        '<g class="edges">',
        *(_edge(edge, marker) for edge in diagram.edges),
        "</g>",
        '<g class="nodes">',
        *(_node(box, statuses.get(box.name)) for box in diagram.nodes),
        "</g>",
        '<g class="labels">',
        *(_label(edge) for edge in diagram.edges if edge.label),
        "</g>",
        "</svg>",
    ]
    return Markup("".join(parts))
