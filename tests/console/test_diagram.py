"""The workflow diagram: layered left-to-right layout and its SVG (no server needed)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from typing import Any

from hookline_edge.console.layout import NODE_HEIGHT, NODE_WIDTH, layout_workflow
from hookline_edge.console.svg import render_svg

SVG = "{http://www.w3.org/2000/svg}"


def _workflow(nodes: list[tuple[str, str]], connections: list[tuple[str, ...]]) -> dict[str, Any]:
    return {
        "nodes": [{"name": name, "type": kind, "parameters": {}} for name, kind in nodes],
        "connections": [
            {"from": c[0], "to": c[1], **({"output": c[2]} if len(c) > 2 else {})}
            for c in connections
        ],
    }


BRANCH = _workflow(
    [
        ("Hook", "webhook"),
        ("Check", "if"),
        ("Yes", "set"),
        ("No", "stopAndError"),
        ("Reply", "httpResponse"),
    ],
    [("Hook", "Check"), ("Check", "Yes", "true"), ("Check", "No", "false"), ("Yes", "Reply")],
)


def test_each_node_sits_in_the_column_of_its_longest_path_from_the_trigger() -> None:
    diagram = layout_workflow(BRANCH)
    layers = {box.name: box.layer for box in diagram.nodes}
    assert layers == {"Hook": 0, "Check": 1, "Yes": 2, "No": 2, "Reply": 3}
    xs = {box.name: box.x for box in diagram.nodes}
    assert xs["Hook"] < xs["Check"] < xs["Yes"] == xs["No"] < xs["Reply"]


def test_a_node_joined_by_a_short_and_a_long_path_goes_after_the_long_one() -> None:
    diagram = layout_workflow(
        _workflow(
            [("T", "manual"), ("A", "set"), ("B", "set"), ("End", "set")],
            [("T", "A"), ("A", "B"), ("B", "End"), ("T", "End")],
        )
    )
    assert diagram.node("End").layer == 3
    long_edge = next(e for e in diagram.edges if (e.source, e.target) == ("T", "End"))
    # Routed through virtual points in the columns it crosses (two per column).
    assert len(long_edge.points) == 2 + 2 * 2


def test_nodes_in_one_column_do_not_overlap_and_the_canvas_holds_them_all() -> None:
    diagram = layout_workflow(
        _workflow(
            [("T", "webhook"), *[(f"N{i}", "set") for i in range(5)]],
            [("T", f"N{i}") for i in range(5)],
        )
    )
    column = sorted((box for box in diagram.nodes if box.layer == 1), key=lambda b: b.y)
    assert len(column) == 5
    for upper, lower in itertools.pairwise(column):
        assert lower.y >= upper.y + NODE_HEIGHT
    for box in diagram.nodes:
        assert 0 <= box.x and box.x + NODE_WIDTH <= diagram.width
        assert 0 <= box.y and box.y + NODE_HEIGHT <= diagram.height


def test_barycentre_ordering_removes_a_crossing_of_two_parallel_chains() -> None:
    diagram = layout_workflow(
        _workflow(
            [("T", "manual"), ("A", "set"), ("B", "set"), ("B2", "set"), ("A2", "set")],
            [("T", "A"), ("T", "B"), ("A", "A2"), ("B", "B2")],
        )
    )
    y = {box.name: box.y for box in diagram.nodes}
    assert (y["A"] < y["B"]) == (y["A2"] < y["B2"])


def test_a_chain_stays_level_with_its_predecessor() -> None:
    diagram = layout_workflow(BRANCH)
    assert diagram.node("Reply").y == diagram.node("Yes").y


def test_if_outputs_leave_apart_and_carry_their_label() -> None:
    diagram = layout_workflow(BRANCH)
    true_edge = next(e for e in diagram.edges if e.output == "true")
    false_edge = next(e for e in diagram.edges if e.output == "false")
    main_edge = next(e for e in diagram.edges if e.source == "Hook")
    assert true_edge.label == "true" and false_edge.label == "false" and main_edge.label is None
    assert true_edge.points[0][1] < false_edge.points[0][1]


def test_connections_to_unknown_nodes_and_cycles_do_not_break_the_layout() -> None:
    diagram = layout_workflow(
        _workflow(
            [("A", "set"), ("B", "set")],
            [("A", "B"), ("B", "A"), ("A", "Ghost"), ("A", "A")],
        )
    )
    assert {box.name for box in diagram.nodes} == {"A", "B"}
    assert len(diagram.edges) == 2
    assert layout_workflow({}).nodes == ()


def test_the_svg_is_well_formed_with_one_group_per_node_and_labelled_branches() -> None:
    markup = render_svg(layout_workflow(BRANCH))
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    nodes = root.findall(f".//{SVG}g[@data-node]")
    assert [n.get("data-node") for n in nodes].count("Check") == 1
    assert len(nodes) == 5
    labels = [t.text for t in root.iter(f"{SVG}text") if t.text in ("true", "false")]
    assert sorted(labels) == ["false", "true"]
    assert len(root.findall(f".//{SVG}path[@marker-end]")) == 4


def test_node_names_are_escaped_and_statuses_become_classes() -> None:
    workflow = _workflow(
        [("<script>x</script>", "webhook"), ("Done & dusted", "set")],
        [("<script>x</script>", "Done & dusted")],
    )
    markup = str(render_svg(layout_workflow(workflow), statuses={"Done & dusted": "error"}))
    assert "<script>" not in markup
    root = ET.fromstring(markup)
    failed = root.find(f".//{SVG}g[@data-node='Done & dusted']")
    assert failed is not None and "status-error" in (failed.get("class") or "")
