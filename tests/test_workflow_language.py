"""The workflow language's validation: every 422 case names the bad node or field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from hookline_runtime.errors import InvalidArgument
from hookline_runtime.workflow import parse_workflow

GREETER: dict[str, Any] = {
    "name": "Greeter",
    "nodes": [
        {"name": "Hook", "type": "webhook",
         "parameters": {"path": "/greet/", "method": "post", "responseMode": "lastNode"}},
        {"name": "Shape", "type": "set", "parameters": {"values": {"g": "Hi {{ json.body.n }}"}}},
        {"name": "Check", "type": "if", "parameters": {"condition": "{{ json.g }}"}},
        {"name": "Yes", "type": "httpResponse", "parameters": {"statusCode": 201}},
        {"name": "No", "type": "stopAndError", "parameters": {"message": "no"}},
    ],
    "connections": [
        {"from": "Hook", "to": "Shape"},
        {"from": "Shape", "to": "Check"},
        {"from": "Check", "to": "Yes", "output": "true"},
        {"from": "Check", "to": "No", "output": "false"},
    ],
}


def test_valid_workflow_gets_defaults_and_order() -> None:
    wf = parse_workflow(copy.deepcopy(GREETER))
    assert wf.order == ("Hook", "Shape", "Check", "Yes", "No")
    assert wf.webhook is not None
    assert (wf.webhook.method, wf.webhook.path) == ("POST", "greet")
    out = wf.to_json(id="w1", created_at="t", updated_at="t")
    assert out["settings"] == {
        "saveExecutionToDatabase": True,
        "resultTtlSeconds": 60,
        "responseTimeoutSeconds": 30,
        "errorWorkflow": None,
    }
    assert out["active"] is True
    assert out["nodes"][0]["parameters"]["path"] == "greet"


def _mutate(fn: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(GREETER)
    fn(data)
    return data


# A mutation's return value is ignored (the "no trigger" one returns a tuple).
CASES: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("unknown node type", lambda d: d["nodes"][1].update(type="sett"), 'node "Shape"'),
    ("dangling connection", lambda d: d["connections"].append({"from": "Yes", "to": "Nope"}),
     '"Nope"'),
    ("cycle", lambda d: d["connections"].append({"from": "Yes", "to": "Shape"}), "cycle"),
    ("two triggers", lambda d: d["nodes"].append({"name": "M", "type": "manual"}), '"M"'),
    ("no trigger", lambda d: (d["nodes"].pop(0), d.update(connections=[])), "trigger"),
    ("bad parameter", lambda d: d["nodes"][0]["parameters"].update(path="a b"),
     'node "Hook" parameter path'),
    ("missing parameter", lambda d: d["nodes"][1]["parameters"].clear(),
     'node "Shape" parameter values'),
    ("unknown parameter", lambda d: d["nodes"][3]["parameters"].update(colour=1),
     'node "Yes" parameter colour'),
    ("bad setting", lambda d: d.update(settings={"resultTtlSeconds": 0}),
     "settings resultTtlSeconds"),
    ("unknown setting", lambda d: d.update(settings={"saveEverything": True}),
     "settings saveEverything"),
    ("if output missing", lambda d: d["connections"][2].pop("output"), "connections[2]"),
    ("duplicate node name", lambda d: d["nodes"][2].update(name="Shape"), 'node "Shape"'),
    ("bad cron", lambda d: d["nodes"].__setitem__(
        0, {"name": "Hook", "type": "schedule", "parameters": {"cron": "61 * * * *"}}),
     'node "Hook" parameter cron'),
    ("bad timezone", lambda d: d["nodes"].__setitem__(
        0, {"name": "Hook", "type": "schedule",
            "parameters": {"cron": "* * * * *", "timezone": "Mars/Olympus"}}),
     'node "Hook" parameter timezone'),
    ("bad hmac auth", lambda d: d["nodes"][0]["parameters"].update(auth={"type": "hmac"}),
     'node "Hook" parameter auth.header'),
]


@pytest.mark.parametrize(("label", "mutation", "needle"), CASES, ids=[c[0] for c in CASES])
def test_invalid_workflow_names_the_culprit(
    label: str, mutation: Callable[[dict[str, Any]], None], needle: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_workflow(_mutate(mutation))
    assert needle in caught.value.message, caught.value.message
