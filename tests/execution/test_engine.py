"""The engine without servers: graph order, branches, node types, failures."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import RunWorkflow
from .workflows import chain, link, node, workflow


async def test_nodes_run_in_dependency_order_not_declaration_order(
    run_workflow: RunWorkflow,
) -> None:
    # Declared Last, Middle, First; connected Start -> First -> Middle -> Last.
    data = workflow(
        [
            node("Last", "set", values={"path": "{{ json.path }}>last"}),
            node("Middle", "set", values={"path": "{{ json.path }}>middle"}),
            node("First", "set", values={"path": "start>first"}),
        ],
        chain("Start", "First", "Middle", "Last"),
    )
    record = await run_workflow(data)
    assert list(record["nodes"]) == ["Start", "First", "Middle", "Last"]
    assert record["nodes"]["Last"]["output"]["path"] == "start>first>middle>last"
    assert record["status"] == "success"


async def test_a_node_with_two_parents_takes_the_last_parent_in_order_as_input(
    run_workflow: RunWorkflow,
) -> None:
    data = workflow(
        [
            node("A", "set", values={"from": "A"}, keepOnlySet=True),
            node("B", "set", values={"from": "B"}, keepOnlySet=True),
            node("Join", "set", values={"seen": "{{ nodes.A['from'] }}{{ nodes.B['from'] }}"}),
        ],
        [link("Start", "A"), link("A", "B"), link("B", "Join"), link("A", "Join")],
    )
    record = await run_workflow(data)
    assert record["nodes"]["Join"]["output"] == {"from": "B", "seen": "AB"}


@pytest.mark.parametrize(("n", "taken", "skipped"), [(5, "Big", "Small"), (1, "Small", "Big")])
async def test_if_runs_only_the_taken_branch_and_skips_the_other(
    run_workflow: RunWorkflow, n: int, taken: str, skipped: str
) -> None:
    data = workflow(
        [
            node("Check", "if", condition="{{ json.n > 3 }}"),
            node("Big", "set", values={"size": "big"}),
            node("Small", "set", values={"size": "small"}),
            node("AfterBig", "set", values={"after": True}),
            node("Merge", "set", values={"merged": True}),
        ],
        [
            link("Start", "Check"),
            link("Check", "Big", "true"),
            link("Check", "Small", "false"),
            link("Big", "AfterBig"),
            link("Big", "Merge"),
            link("Small", "Merge"),
        ],
    )
    record = await run_workflow(data, {"n": n})
    nodes = record["nodes"]
    assert nodes["Check"] == {**nodes["Check"], "status": "success", "output": {"n": n}}
    assert nodes[taken]["status"] == "success"
    assert nodes[skipped] == {**nodes[skipped], "status": "skipped", "output": None}
    # Only reachable through Big: runs or is skipped with it.
    assert nodes["AfterBig"]["status"] == ("success" if taken == "Big" else "skipped")
    assert nodes["Merge"]["output"] == {"n": n, "size": taken.lower(), "merged": True}
    assert record["status"] == "success"


@pytest.mark.parametrize(
    ("condition", "truthy"),
    [
        ("false", False),
        ("0", False),
        ("", False),
        ("{{ json.missing }}", False),
        (" False ", False),
        ("yes", True),
        ("{{ json.n }}", True),
        ("{{ json.n == 0 }}", False),
        (0, False),
        ([1], True),
    ],
)
async def test_if_condition_truthiness(
    run_workflow: RunWorkflow, condition: Any, truthy: bool
) -> None:
    data = workflow(
        [node("Check", "if", condition=condition), node("Yes", "set", values={})],
        [link("Start", "Check"), link("Check", "Yes", "true")],
    )
    record = await run_workflow(data, {"n": 2})
    assert record["nodes"]["Yes"]["status"] == ("success" if truthy else "skipped")


async def test_a_node_with_no_incoming_connection_is_skipped(run_workflow: RunWorkflow) -> None:
    data = workflow([node("A", "set", values={}), node("Island", "set", values={})], [])
    record = await run_workflow(data)
    assert record["nodes"]["A"]["status"] == "skipped"
    assert record["nodes"]["Island"]["status"] == "skipped"


async def test_set_merges_into_a_copy_of_the_input_by_default(run_workflow: RunWorkflow) -> None:
    trigger_output = {"keep": 1, "user": {"id": 7, "name": "Ada"}}
    data = workflow(
        [node("Shape", "set", values={"added": "{{ json.keep + 1 }}", "user.name": "Grace"})]
    )
    record = await run_workflow(data, trigger_output)
    assert record["nodes"]["Shape"]["output"] == {
        "keep": 1,
        "user": {"id": 7, "name": "Grace"},
        "added": 2,
    }
    # The input (the trigger's output) is left as it was.
    assert trigger_output == {"keep": 1, "user": {"id": 7, "name": "Ada"}}
    assert record["nodes"]["Start"]["output"]["user"]["name"] == "Ada"


async def test_set_with_keep_only_set_outputs_only_the_set_fields(
    run_workflow: RunWorkflow,
) -> None:
    data = workflow(
        [node("Shape", "set", values={"a.b.c": "{{ json.x }}", "d": "v"}, keepOnlySet=True)]
    )
    record = await run_workflow(data, {"x": [1, 2], "other": True})
    assert record["nodes"]["Shape"]["output"] == {"a": {"b": {"c": [1, 2]}}, "d": "v"}


async def test_set_on_a_non_object_input_starts_from_an_empty_object(
    run_workflow: RunWorkflow,
) -> None:
    data = workflow([node("Shape", "set", values={"n": "{{ json | length }}"})])
    record = await run_workflow(data, [1, 2, 3])
    assert record["nodes"]["Shape"]["output"] == {"n": 3}


async def test_a_single_expression_keeps_its_type_in_outputs(run_workflow: RunWorkflow) -> None:
    data = workflow(
        [
            node(
                "Shape",
                "set",
                values={
                    "n": "{{ json.n * 2 }}",
                    "obj": "{{ json.obj }}",
                    "text": "n is {{ json.n }}",
                    "none": "{{ json.nothing }}",
                    "id": "{{ execution.id }}",
                },
                keepOnlySet=True,
            )
        ]
    )
    record = await run_workflow(data, {"n": 21, "obj": {"k": [1]}})
    assert record["nodes"]["Shape"]["output"] == {
        "n": 42,
        "obj": {"k": [1]},
        "text": "n is 21",
        "none": None,
        "id": "exec-1",
    }


async def test_a_template_error_fails_the_node_naming_node_and_parameter(
    run_workflow: RunWorkflow,
) -> None:
    data = workflow(
        [
            node("Shape", "set", values={"greeting": "Hi {{ json.x.y }}"}),
            node("Never", "set", values={}),
        ]
    )
    record = await run_workflow(data, {})
    message = "node \"Shape\" parameter values.greeting: 'dict object' has no attribute 'x'"
    assert record["status"] == "error"
    assert record["error"] == {"node": "Shape", "message": message}
    assert record["nodes"]["Shape"]["status"] == "error"
    assert record["nodes"]["Shape"]["error"] == message
    assert "Never" not in record["nodes"]
    assert record["finishedAt"] is not None


async def test_a_sandbox_violation_fails_the_node(run_workflow: RunWorkflow) -> None:
    data = workflow([node("Peek", "set", values={"x": "{{ json.__class__.__mro__ }}"})])
    record = await run_workflow(data, {})
    assert record["status"] == "error"
    assert record["error"]["node"] == "Peek"
    assert record["error"]["message"].startswith('node "Peek" parameter values.x: ')
    assert "unsafe" in record["error"]["message"]


async def test_wait_pauses_for_its_seconds_and_passes_its_input_on(
    run_workflow: RunWorkflow,
) -> None:
    data = workflow([node("Pause", "wait", seconds="{{ json.delay }}")])
    record = await run_workflow(data, {"delay": 0.05})
    assert record["nodes"]["Pause"]["output"] == {"delay": 0.05}
    assert record["nodes"]["Pause"]["durationMs"] >= 45


async def test_wait_with_a_bad_templated_number_fails_the_node(run_workflow: RunWorkflow) -> None:
    data = workflow([node("Pause", "wait", seconds="{{ json.delay }}")])
    record = await run_workflow(data, {"delay": "soon"})
    assert record["error"] == {
        "node": "Pause",
        "message": "node \"Pause\": seconds must be a number, got 'soon'",
    }


async def test_the_last_http_response_that_ran_wins(run_workflow: RunWorkflow) -> None:
    data = workflow(
        [
            node("First", "httpResponse", statusCode=202, body={"first": True}),
            node(
                "Second",
                "httpResponse",
                statusCode="{{ 200 + 1 }}",
                headers={"X-N": "{{ json.n }}", "X-Flag": True},
                body={"message": "{{ json.n }}"},
            ),
        ]
    )
    record = await run_workflow(data, {"n": 5})
    assert record["response"] == {
        "statusCode": 201,
        "headers": {"X-N": "5", "X-Flag": "true"},
        "body": {"message": 5},
    }
    assert record["nodes"]["Second"]["output"] == {"n": 5}


async def test_http_response_body_defaults_to_the_input_and_null_means_empty(
    run_workflow: RunWorkflow,
) -> None:
    default = await run_workflow(workflow([node("Reply", "httpResponse")]), {"n": 1})
    assert default["response"] == {"statusCode": 200, "headers": {}, "body": {"n": 1}}
    empty = await run_workflow(workflow([node("Reply", "httpResponse", body=None)]), {"n": 1})
    assert empty["response"]["body"] is None


async def test_no_http_response_means_a_null_response(run_workflow: RunWorkflow) -> None:
    record = await run_workflow(workflow([node("Shape", "set", values={})]))
    assert record["response"] is None


async def test_the_first_http_response_is_announced_once(run_workflow: RunWorkflow) -> None:
    seen: list[dict[str, Any]] = []
    data = workflow(
        [
            node("First", "httpResponse", body="one"),
            node("Second", "httpResponse", body="two"),
        ]
    )
    record = await run_workflow(data, {}, seen.append)
    assert [r["body"] for r in seen] == ["one"]
    assert record["response"]["body"] == "two"


async def test_stop_and_error_fails_the_run_with_its_rendered_message(
    run_workflow: RunWorkflow,
) -> None:
    data = workflow(
        [
            node("Shape", "set", values={"ok": True}),
            node("Stop", "stopAndError", message="bad order {{ json.id }}"),
            node("Never", "set", values={}),
        ]
    )
    record = await run_workflow(data, {"id": 42})
    assert record["status"] == "error"
    assert record["error"] == {"node": "Stop", "message": "bad order 42"}
    assert list(record["nodes"]) == ["Start", "Shape", "Stop"]
    assert record["nodes"]["Shape"]["status"] == "success"


async def test_the_record_has_the_design_shape(run_workflow: RunWorkflow) -> None:
    data = workflow([node("Shape", "set", values={"a": 1})], name="Shaper")
    record = await run_workflow(data, {"x": 1})
    assert set(record) == {
        "id",
        "workflowId",
        "workflowName",
        "mode",
        "status",
        "startedAt",
        "finishedAt",
        "nodes",
        "response",
        "error",
    }
    assert record["workflowId"] == data["id"]
    assert record["workflowName"] == "Shaper"
    assert record["startedAt"].endswith("Z") and record["finishedAt"].endswith("Z")
    assert record["error"] is None
    entry = record["nodes"]["Shape"]
    assert set(entry) == {"status", "output", "startedAt", "durationMs"}
    assert isinstance(entry["durationMs"], float)
    assert record["nodes"]["Start"]["output"] == {"x": 1}
