"""switch and merge in the engine, skipped branches, and the journal of a run whose
nodes emit on several outputs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hookline_execution.domain import Engine, ExecutionRecord
from hookline_execution.domain.journal import Checkpoint, JournaledNode
from hookline_execution.domain.record import TryRun
from hookline_runtime.clock import utcnow
from hookline_runtime.workflow import parse_workflow

from .conftest import RunWorkflow
from .memory_journal import MemoryJournal
from .workflows import link, node, workflow


def switch(mode: str = "first", fallback: str | None = None) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "mode": mode,
        "rules": [
            {"output": "push", "condition": "{{ json.event == 'push' }}"},
            {"output": "any", "condition": "{{ json.event != '' }}"},
        ],
    }
    if fallback is not None:
        parameters["fallback"] = fallback
    return {"name": "Route", "type": "switch", "parameters": parameters}


def routed(mode: str = "first", fallback: str | None = None) -> dict[str, Any]:
    outputs = ["push", "any", *([fallback] if fallback else [])]
    return workflow(
        [switch(mode, fallback), *(node(f"On {o}", "set", values={"via": o}) for o in outputs)],
        [link("Start", "Route"), *(link("Route", f"On {o}", o) for o in outputs)],
    )


def ran(record: dict[str, Any]) -> set[str]:
    return {name for name, run in record["nodes"].items() if run["status"] == "success"}


@pytest.mark.parametrize(
    ("mode", "event", "taken"),
    [
        ("first", "push", {"On push"}),
        ("first", "issues", {"On any"}),
        ("all", "push", {"On push", "On any"}),
        ("all", "", set()),
    ],
)
async def test_switch_emits_its_input_on_the_chosen_outputs(
    run_workflow: RunWorkflow, mode: str, event: str, taken: set[str]
) -> None:
    record = await run_workflow(routed(mode), {"event": event})
    assert ran(record) - {"Start", "Route"} == taken
    assert record["nodes"]["Route"]["output"] == {"event": event}
    for name in {"On push", "On any"} - taken:
        assert record["nodes"][name]["status"] == "skipped"
    assert record["status"] == "success"


async def test_switch_takes_the_fallback_only_when_no_rule_matches(
    run_workflow: RunWorkflow,
) -> None:
    none = await run_workflow(routed("first", "other"), {"event": ""})
    assert ran(none) - {"Start", "Route"} == {"On other"}
    some = await run_workflow(routed("first", "other"), {"event": "push"})
    assert ran(some) - {"Start", "Route"} == {"On push"}


def if_then_merge(mode: str) -> dict[str, Any]:
    """Start -> Check -(true)-> Big --> Join
                     -(false)-> Small -> Join;  Start -> Side -> Join."""
    return workflow(
        [
            node("Check", "if", condition="{{ json.n > 3 }}"),
            node("Big", "set", values={"size": "big"}, keepOnlySet=True),
            node("Small", "set", values={"size": "small"}, keepOnlySet=True),
            node("Side", "set", values={"side": True}, keepOnlySet=True),
            node("Join", "merge", mode=mode),
        ],
        [
            link("Start", "Check"),
            link("Start", "Side"),
            link("Check", "Big", "true"),
            link("Check", "Small", "false"),
            link("Big", "Join"),
            link("Small", "Join"),
            link("Side", "Join"),
        ],
    )


@pytest.mark.parametrize(("n", "taken"), [(5, "Big"), (1, "Small")])
async def test_merge_by_name_takes_every_finished_branch_and_leaves_skipped_ones_out(
    run_workflow: RunWorkflow, n: int, taken: str
) -> None:
    record = await run_workflow(if_then_merge("byName"), {"n": n})
    assert record["nodes"]["Join"]["output"] == {
        taken: {"size": taken.lower()},
        "Side": {"side": True},
    }


async def test_merge_append_lists_outputs_in_the_order_of_its_connections(
    run_workflow: RunWorkflow,
) -> None:
    record = await run_workflow(if_then_merge("append"), {"n": 1})
    assert record["nodes"]["Join"]["output"] == [{"size": "small"}, {"side": True}]


async def test_merge_is_skipped_when_every_branch_is_skipped(run_workflow: RunWorkflow) -> None:
    data = routed("first")
    data["nodes"].append(node("Join", "merge"))
    data["connections"] += [link("On push", "Join"), link("On any", "Join")]
    record = await run_workflow(data, {"event": ""})
    assert record["nodes"]["Join"]["status"] == "skipped"


async def test_merge_after_a_switch_in_mode_all_joins_both_outputs(
    run_workflow: RunWorkflow,
) -> None:
    data = routed("all")
    data["nodes"].append(node("Join", "merge", mode="append"))
    data["connections"] += [link("On push", "Join"), link("On any", "Join")]
    record = await run_workflow(data, {"event": "push"})
    assert [o["via"] for o in record["nodes"]["Join"]["output"]] == ["push", "any"]


# ----------------------------------------------------------------------- journal
def test_a_journal_entry_from_before_multiple_outputs_still_decodes() -> None:
    old = b'{"startedAt":"2026-01-01T00:00:00+00:00","durationMs":1.5,"output":{"a":1},' \
          b'"emit":"true","response":null}'
    entry = JournaledNode.decode(old)
    assert entry.result().emitted == {"true"}
    assert entry.node_run().to_json()["output"] == {"a": 1}
    assert "tries" not in entry.node_run().to_json()


def test_a_journal_entry_keeps_a_set_of_outputs_its_tries_and_its_error() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    entry = JournaledNode(
        moment, 2.0, {"x": 1}, frozenset({"a", "b"}), None, "handled",
        (TryRun("error", moment, 1.0, "handled"),),
    )
    again = JournaledNode.decode(entry.encode())
    assert again == entry
    assert JournaledNode.decode_parts(*entry.encode_parts()) == entry
    assert JournaledNode.decode(JournaledNode(moment, 1, 1, frozenset()).encode()).emit == frozenset()


async def test_a_resumed_run_takes_a_journaled_switch_and_its_outputs(engine: Engine) -> None:
    data = routed("all")
    parsed = parse_workflow(data)
    # The switch had emitted on "any" only, though the input would now choose both.
    earlier = JournaledNode(utcnow(), 1.0, {"event": "journaled"}, frozenset({"any"}))
    journal = MemoryJournal({"Route": earlier})
    checkpoint = Checkpoint(journal, "exec-2", resume=True)
    await checkpoint.load()
    record = ExecutionRecord("exec-2", "", parsed.name, "manual", utcnow())
    await engine.run(parsed, record, {"event": "push"}, checkpoint=checkpoint)
    nodes = record.to_json()["nodes"]
    assert nodes["On push"]["status"] == "skipped"
    assert nodes["On any"]["output"] == {"event": "journaled", "via": "any"}
    # "On any" is replayable and the run ended: nothing more was written.
    assert set(journal.entries) == {"Route"}
