"""What the run journal costs per node (issue: durable runs).

``python -m bench.journal [--redis-url URL] [--nodes 10] [--runs 300] [--concurrency 1,16]``

Runs workflows of ``--nodes`` nodes of one type through the engine, in this process,
``--runs`` times at each concurrency: once with no journal (a run outside the queue)
and once journaling to Redis exactly as a queued run does (``RedisRunJournal`` over
the shared auto-pipeline). Two node types: ``set`` (replayable: its entries are held
and a run that ends writes none, so its cost should be about nothing) and ``wait``
of 0 s (a node with effects: one write per node). Prints the wall time per node of
both and the difference, which is the journal's cost per node.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

import httpx

from hookline_runtime.clock import utcnow
from hookline_runtime.redis.client import create_redis
from hookline_runtime.redis.keys import journal_key, journal_meta_key
from hookline_runtime.redis.pipeline import AutoPipeline
from hookline_runtime.workflow import Workflow, parse_workflow
from hookline_execution.domain import Engine, ExecutionRecord, TemplateRenderer
from hookline_execution.domain.journal import Checkpoint
from hookline_execution.storage.redis_queue import RedisRunJournal


_PARAMETERS: dict[str, dict[str, Any]] = {
    "set": {"values": {"v": "{{ json.n }}"}},
    "wait": {"seconds": 0},
}


def _workflow(nodes: int, node_type: str) -> Workflow:
    chain = [{"name": "Start", "type": "manual", "parameters": {}}]
    chain += [
        {"name": f"N{i}", "type": node_type, "parameters": _PARAMETERS[node_type]}
        for i in range(nodes)
    ]
    return parse_workflow(
        {
            "name": "journal-bench",
            "nodes": chain,
            "connections": [
                {"from": a["name"], "to": b["name"]} for a, b in zip(chain, chain[1:])
            ],
        }
    )


async def _runs(
    engine: Engine, workflow: Workflow, runs: int, concurrency: int,
    journal: RedisRunJournal | None, ids: list[str],
) -> float:
    """Seconds for ``runs`` runs, ``concurrency`` at a time; ``ids`` collects theirs."""
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            execution_id = f"bench-journal-{uuid.uuid4()}"
            ids.append(execution_id)
            record = ExecutionRecord(execution_id, "wf", workflow.name, "manual", utcnow())
            checkpoint = (
                Checkpoint(journal, execution_id, resume=False) if journal is not None else None
            )
            await engine.run(workflow, record, {"n": 1}, None, checkpoint)
            assert record.status == "success", record.error

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(runs)))
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    redis = create_redis(args.redis_url)
    pipeline = AutoPipeline(redis)
    journal = RedisRunJournal(redis, pipeline)
    ids: list[str] = []
    async with httpx.AsyncClient() as http:
        engine = Engine(TemplateRenderer(), http)
        print(f"{args.nodes} nodes per run, {args.runs} runs per figure")
        print("node type | concurrency | no journal µs/node | journal µs/node | journal cost µs/node")
        for node_type in _PARAMETERS:
            workflow = _workflow(args.nodes, node_type)
            await _runs(engine, workflow, 20, 4, journal, ids)  # warm-up: templates, connections
            for concurrency in args.concurrency:
                plain = await _runs(engine, workflow, args.runs, concurrency, None, ids)
                journaled = await _runs(engine, workflow, args.runs, concurrency, journal, ids)
                per = args.runs * args.nodes
                a, b = plain / per * 1e6, journaled / per * 1e6
                print(
                    f"{node_type:>9} | {concurrency:>11} | {a:>18.1f} | {b:>15.1f} | {b - a:>20.1f}"
                )
    await pipeline.close()
    # A queued run's journal goes with its acknowledgement; these runs had none.
    for start in range(0, len(ids), 500):
        keys = [key for i in ids[start : start + 500] for key in (journal_key(i), journal_meta_key(i))]
        await redis.delete(*keys)
    await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16]
    )
    asyncio.run(main(parser.parse_args()))
