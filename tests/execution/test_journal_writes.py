"""When a run writes its journal: nodes with effects are journaled before the next
node starts, replayable nodes ride along with the next write or are never written,
and a resumed run replays them (DESIGN.md section 8; the rule in
``hookline_execution.domain.journal``)."""

from __future__ import annotations

from typing import Any

from hookline_execution.domain import Engine, ExecutionRecord
from hookline_execution.domain.journal import Checkpoint, JournaledNode
from hookline_runtime.clock import utcnow
from hookline_runtime.workflow import parse_workflow

from .memory_journal import MemoryJournal
from .workflows import node, workflow


async def _run(
    engine: Engine,
    data: dict[str, Any],
    journal: MemoryJournal,
    *,
    resume: bool = False,
    on_first_response: Any = None,
) -> dict[str, Any]:
    checkpoint = Checkpoint(journal, "exec-j", resume=resume)
    await checkpoint.load()
    record = ExecutionRecord("exec-j", "", "journal test", "manual", utcnow())
    await engine.run(parse_workflow(data), record, {"n": 1}, on_first_response, checkpoint)
    return record.to_json()


def _greeter() -> dict[str, Any]:
    return workflow(
        [
            node("Shape", "set", values={"greeting": "hi {{ json.n }}"}),
            node("Reply", "httpResponse", statusCode=201, body={"m": "{{ json.greeting }}"}),
        ]
    )


async def test_a_run_of_replayable_nodes_writes_no_journal(engine: Engine) -> None:
    journal = MemoryJournal()
    record = await _run(engine, _greeter(), journal)
    assert record["status"] == "success"
    assert record["response"]["body"] == {"m": "hi 1"}
    assert (journal.writes, journal.entries) == (0, {})


async def test_a_node_with_effects_starts_once_the_nodes_before_it_are_journaled(
    engine: Engine,
) -> None:
    journal = MemoryJournal()
    seen: list[set[str]] = []
    real = journal.record

    async def record(execution_id: str, entries: Any) -> None:
        await real(execution_id, entries)
        seen.append(set(journal.entries))

    journal.record = record  # type: ignore[method-assign]
    data = workflow(
        [
            node("Shape", "set", values={"n": "{{ json.n + 1 }}"}),
            node("Pause", "wait", seconds=0),
            node("After", "set", values={"done": True}),
        ]
    )
    record_json = await _run(engine, data, journal)
    assert record_json["status"] == "success"
    # Shape's entry is written before the wait starts, the wait's as soon as it ends;
    # "After" is replayable and the run ended: it is never written.
    assert seen == [{"Shape"}, {"Shape", "Pause"}]
    assert journal.writes == 2


async def test_an_early_response_is_journaled_because_the_caller_saw_it(engine: Engine) -> None:
    journal = MemoryJournal()
    answers: list[Any] = []
    data = _greeter()
    data["nodes"].append(node("After", "set", values={"done": True}))
    data["connections"].append({"from": "Reply", "to": "After", "output": "main"})
    written_first: list[bool] = []

    def answer(response: Any) -> None:
        written_first.append("Reply" in journal.entries)
        answers.append(response)

    await _run(engine, data, journal, on_first_response=answer)
    assert len(answers) == 1
    assert written_first == [True]  # the answer left once its entry was in the journal
    # Shape and the answer in one write, before the answer went out; "After" never.
    assert set(journal.entries) == {"Shape", "Reply"}
    assert journal.writes == 1


async def test_a_resumed_run_replays_held_nodes_and_keeps_journaled_effects(
    engine: Engine,
) -> None:
    # The worker died during "After": "Pause" (with effects) was journaled with the
    # replayable "Shape" before it; "Shape" came out as {"n": 2} then.
    moment = utcnow()
    journal = MemoryJournal(
        {
            "Shape": JournaledNode(moment, 1.0, {"n": 2}, "main"),
            "Pause": JournaledNode(moment, 1.0, {"n": 2, "waited": "journaled"}, "main"),
        }
    )
    data = workflow(
        [
            node("Shape", "set", values={"n": "{{ json.n + 1 }}"}),
            node("Pause", "wait", seconds=3600),  # would hang the test if run again
            node("After", "set", values={"from": "{{ json.waited }}"}),
        ]
    )
    record = await _run(engine, data, journal, resume=True)
    assert record["status"] == "success"
    assert record["nodes"]["After"]["output"] == {"n": 2, "waited": "journaled", "from": "journaled"}
    assert journal.writes == 0
