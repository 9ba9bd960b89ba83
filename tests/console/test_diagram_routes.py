"""The diagram of switches, error outputs and node settings (no server needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from hookline_edge.console.layout import layout_workflow
from hookline_edge.console.svg import render_svg

SVG = "{http://www.w3.org/2000/svg}"

ROUTED: dict[str, Any] = {
    "nodes": [
        {"name": "Hook", "type": "webhook", "parameters": {}},
        {"name": "Route", "type": "switch", "parameters": {}},
        {"name": "Push", "type": "httpRequest", "parameters": {},
         "forEach": "{{ json.urls }}", "forEachConcurrency": 3,
         "retry": {"maxTries": 4}, "onError": "errorOutput"},
        {"name": "Issues", "type": "set", "parameters": {}},
        {"name": "Other", "type": "set", "parameters": {}},
        {"name": "Alert", "type": "set", "parameters": {}},
        {"name": "Join", "type": "merge", "parameters": {}},
    ],
    "connections": [
        {"from": "Hook", "to": "Route"},
        {"from": "Route", "to": "Push", "output": "push"},
        {"from": "Route", "to": "Issues", "output": "issues"},
        {"from": "Route", "to": "Other", "output": "other"},
        {"from": "Push", "to": "Alert", "output": "error"},
        {"from": "Push", "to": "Join"},
        {"from": "Issues", "to": "Join"},
    ],
}


def test_a_switch_draws_each_named_output_apart_with_its_label() -> None:
    diagram = layout_workflow(ROUTED)
    starts = {e.output: e.points[0][1] for e in diagram.edges if e.source == "Route"}
    assert len(set(starts.values())) == 3
    svg = ET.fromstring(str(render_svg(diagram)))
    labels = {t.text for t in svg.iter(f"{SVG}text") if t.text in {"push", "issues", "other"}}
    assert labels == {"push", "issues", "other"}


def test_an_error_output_is_drawn_as_an_error_edge_below_main() -> None:
    diagram = layout_workflow(ROUTED)
    push = {e.output: e.points[0][1] for e in diagram.edges if e.source == "Push"}
    assert push["error"] > push["main"]
    svg = str(render_svg(diagram))
    assert 'class="edge edge-error"' in svg


def test_node_settings_show_as_badges_for_each_retry_and_on_error() -> None:
    svg = ET.fromstring(str(render_svg(layout_workflow(ROUTED))))
    push = next(g for g in svg.iter(f"{SVG}g") if g.get("data-node") == "Push")
    marks = {t.text for t in push.iter(f"{SVG}text")} - {"Push", "httpRequest"}
    assert marks == {"forEach ×3", "retry ×4", "onError errorOutput"}


def test_the_execution_view_lists_the_tries_of_a_retried_node() -> None:
    from hookline_edge.console.templating import _environment

    node = {
        "status": "success", "output": {"ok": True}, "startedAt": "2026-01-01T00:00:00Z",
        "durationMs": 5.0,
        "tries": [
            {"status": "error", "error": "request failed: boom",
             "startedAt": "2026-01-01T00:00:00Z", "durationMs": 1.0},
            {"status": "success", "error": None, "startedAt": "2026-01-01T00:00:01Z",
             "durationMs": 2.0},
        ],
    }
    record = {"id": "e1", "status": "success", "mode": "manual", "nodes": {"Call": node}}
    html = _environment(False).get_template("console/_execution_detail.html").render(
        execution_id="e1", record=record, source="database", expires_at=None, expires_in=None,
        workflow=None, diagram=None, nodes=[("Call", node)], response=None, error=None,
        polling=False, polling_query="", poll_seconds=1,
    )
    assert 'data-tries="2"' in html
    assert "request failed: boom" in html
