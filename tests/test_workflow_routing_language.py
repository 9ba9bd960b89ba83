"""Validation of node settings (retry, onError, forEach), switch and merge, and the
output names of connections: every 422 names the node or connection and the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from hookline_runtime.errors import InvalidArgument
from hookline_runtime.workflow import parse_workflow

BASE: dict[str, Any] = {
    "name": "Router",
    "nodes": [
        {"name": "Hook", "type": "webhook", "parameters": {"path": "route"}},
        {"name": "Route", "type": "switch", "parameters": {
            "rules": [{"output": "push", "condition": "{{ json.body.e == 'push' }}"},
                      {"output": "issues", "condition": "{{ json.body.e == 'issues' }}"}],
            "fallback": "other"}},
        {"name": "Push", "type": "set", "parameters": {"values": {}},
         "retry": {"maxTries": 3, "waitSeconds": 0}, "onError": "errorOutput",
         "forEach": "{{ json.body.commits }}", "forEachConcurrency": 4},
        {"name": "Issues", "type": "set", "parameters": {"values": {}}},
        {"name": "Other", "type": "set", "parameters": {"values": {}}},
        {"name": "Failed", "type": "set", "parameters": {"values": {}}},
        {"name": "Join", "type": "merge", "parameters": {"mode": "append"}},
    ],
    "connections": [
        {"from": "Hook", "to": "Route"},
        {"from": "Route", "to": "Push", "output": "push"},
        {"from": "Route", "to": "Issues", "output": "issues"},
        {"from": "Route", "to": "Other", "output": "other"},
        {"from": "Push", "to": "Failed", "output": "error"},
        {"from": "Push", "to": "Join"},
        {"from": "Issues", "to": "Join"},
    ],
}


def test_a_valid_workflow_keeps_its_node_settings() -> None:
    wf = parse_workflow(copy.deepcopy(BASE))
    push = wf.nodes["Push"]
    assert push.settings.retry is not None and push.settings.retry.maxTries == 3
    assert push.settings.onError == "errorOutput"
    out = wf.to_json()["nodes"][2]
    assert out["retry"] == {"maxTries": 3, "waitSeconds": 0, "backoff": "fixed"}
    assert (out["onError"], out["forEach"], out["forEachConcurrency"]) == (
        "errorOutput", "{{ json.body.commits }}", 4
    )
    assert set(wf.to_json()["nodes"][3]) == {"name", "type", "parameters"}
    assert parse_workflow(wf.to_json()).nodes["Push"].settings == push.settings


def _mutate(fn: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    fn(data)
    return data


def _node(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in data["nodes"] if n["name"] == name)


CASES: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("maxTries too high", lambda d: _node(d, "Push")["retry"].update(maxTries=11),
     'node "Push" retry.maxTries'),
    ("maxTries zero", lambda d: _node(d, "Push")["retry"].update(maxTries=0),
     'node "Push" retry.maxTries'),
    ("waitSeconds too long", lambda d: _node(d, "Push")["retry"].update(waitSeconds=301),
     'node "Push" retry.waitSeconds'),
    ("unknown backoff", lambda d: _node(d, "Push")["retry"].update(backoff="linear"),
     'node "Push" retry.backoff'),
    ("unknown retry key", lambda d: _node(d, "Push")["retry"].update(jitter=True),
     'node "Push" retry.jitter'),
    ("unknown onError", lambda d: _node(d, "Issues").update(onError="ignore"),
     'node "Issues" onError'),
    ("concurrency zero", lambda d: _node(d, "Push").update(forEachConcurrency=0),
     'node "Push" forEachConcurrency'),
    ("concurrency too high", lambda d: _node(d, "Push").update(forEachConcurrency=101),
     'node "Push" forEachConcurrency'),
    ("concurrency without forEach", lambda d: _node(d, "Issues").update(forEachConcurrency=2),
     'node "Issues" forEachConcurrency'),
    ("empty forEach", lambda d: _node(d, "Issues").update(forEach=" "), 'node "Issues" forEach'),
    ("settings on a trigger", lambda d: _node(d, "Hook").update(retry={"maxTries": 2}),
     'node "Hook" retry'),
    ("switch without rules", lambda d: _node(d, "Route")["parameters"].update(rules=[]),
     'node "Route" parameter rules'),
    ("switch rule without output",
     lambda d: _node(d, "Route")["parameters"]["rules"][0].pop("output"),
     'node "Route" parameter rules.0.output'),
    ("switch with two rules of one name",
     lambda d: _node(d, "Route")["parameters"]["rules"][1].update(output="push"),
     'node "Route" parameter'),
    ("switch with a bad mode", lambda d: _node(d, "Route")["parameters"].update(mode="any"),
     'node "Route" parameter mode'),
    ("unknown switch output", lambda d: d["connections"][1].update(output="pull"),
     'connections[1]: node "Route" (switch) has no output "pull"'),
    ("switch connection without output", lambda d: d["connections"][2].pop("output"),
     'connections[2]: node "Route" (switch) has no output "main"'),
    ("fallback output gone", lambda d: _node(d, "Route")["parameters"].pop("fallback"),
     'connections[3]: node "Route" (switch) has no output "other"'),
    ("error output without errorOutput", lambda d: _node(d, "Push").pop("onError"),
     'connections[4]: node "Push" (set) has no output "error"'),
    ("if output on a set node", lambda d: d["connections"][5].update(output="true"),
     'connections[5]: node "Push" (set) has no output "true"'),
    ("merge with one input", lambda d: d["connections"].pop(6), 'node "Join": a merge needs'),
    ("merge with no input", lambda d: d["connections"].__delitem__(slice(5, 7)),
     'node "Join": a merge needs'),
    ("unknown merge mode", lambda d: _node(d, "Join")["parameters"].update(mode="zip"),
     'node "Join" parameter mode'),
]


@pytest.mark.parametrize(("label", "mutate", "needle"), CASES, ids=[c[0] for c in CASES])
def test_invalid_settings_and_routes_name_the_culprit(
    label: str, mutate: Callable[[dict[str, Any]], object], needle: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_workflow(_mutate(mutate))
    assert needle in caught.value.message, caught.value.message


def test_a_rule_named_error_conflicts_with_an_error_output() -> None:
    data = copy.deepcopy(BASE)
    _node(data, "Route")["parameters"]["rules"][1]["output"] = "error"
    _node(data, "Route")["onError"] = "errorOutput"
    data["connections"][2]["output"] = "error"
    with pytest.raises(InvalidArgument) as caught:
        parse_workflow(data)
    assert 'node "Route" onError' in caught.value.message
