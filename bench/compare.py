"""Two versions of hookline side by side, in alternating rounds: the back-to-back check.

    .venv/bin/python -m bench.compare --baseline REF [--candidate HEAD] [--rounds 6]
        [--duration 8] [--concurrency 16] [--scenario last_node_save_off]

Starts the four-process stack (cache, execution, trigger, edge, as ``bench/run`` starts
them) once for each version — each a clean export of its commit (``worktree``: the
files as they are), each with its own database and run stream on the same Redis —
applies the benchmark workflows to both, then drives one scenario with ``wrk``,
alternating the versions round by round (A B, B A, A B, …). This machine's speed
drifts by tens of per cent within minutes; rounds that alternate expose both versions
to the same drift, and the medians and their ratio are the figures to quote. Besides
requests per second, each round records the CPU time per request of the four
services and of Redis (``INFO cpu``), which drifts less than throughput.

Prints one line per round and a summary; ``--json FILE`` also writes them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

from bench.comparison import Round, Side, summary
from bench.cpu import CpuMeter
from bench.database import BenchDatabase
from bench.load import require_wrk, run_wrk
from bench.processes import Stack
from bench.source import CodeSource
from bench.workflows import REQUEST_BODY, apply_workflows, bench_workflows


@dataclass
class _Running:
    version: str
    commit: str
    url: str
    pids: dict[str, int]


@contextlib.contextmanager
def _stack(
    version: str, scenario: str, redis_url: str, logs: Path, concurrency: int
) -> Iterator[_Running]:
    with CodeSource(version) as source, BenchDatabase() as database_url:
        stack = Stack(
            logs / version.replace("/", "_"),
            {
                "REDIS_URL": redis_url,
                "HOOKLINE_DATABASE_URL": database_url,
                "HOOKLINE_RUN_STREAM": f"hookline:runs:compare:{secrets.token_hex(4)}",
                "HOOKLINE_SHUTDOWN_GRACE_SECONDS": "5",
            },
            code_root=source.root,
            pythonpath=None if version == "worktree" else source.pythonpath,
        )
        (logs / version.replace("/", "_")).mkdir(parents=True, exist_ok=True)
        cache = stack.add("cache", "cache", HOOKLINE_RESULT_WAIT="push")
        execution = stack.add("execution", "execution", HOOKLINE_CACHE_ADDR=cache.address)
        cache.env["HOOKLINE_EXECUTION_ADDR"] = execution.address
        trigger = stack.add(
            "trigger",
            "trigger",
            HOOKLINE_EXECUTION_ADDR=execution.address,
            HOOKLINE_CACHE_ADDR=cache.address,
        )
        edge = stack.add(
            "edge",
            "edge",
            HOOKLINE_CACHE_ADDR=cache.address,
            HOOKLINE_TRIGGER_ADDR=trigger.address,
            HOOKLINE_EXECUTION_ADDR=execution.address,
        )
        try:
            stack.start(cache, execution)
            stack.start(trigger)
            stack.start(edge)
            workflows = bench_workflows(secrets.token_hex(3), large_bytes=1000, wait_seconds=1)
            apply_workflows(edge.url, workflows)
            url = workflows[scenario].url(edge.url)
            run_wrk("warm-up", url, concurrency=concurrency, duration_s=3, body=REQUEST_BODY)
            yield _Running(
                version,
                source.commit,
                url,
                {
                    "edge": edge.pid,
                    "trigger": trigger.pid,
                    "execution": execution.pid,
                    "cache": cache.pid,
                },
            )
        finally:
            stack.stop_all()


def _redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _round(running: _Running, client: redis.Redis, *, concurrency: int, duration: float) -> Round:
    meter = CpuMeter(running.pids, count_database=False)
    redis_before = _redis_cpu(client)
    meter.start()
    load = run_wrk(
        running.version,
        running.url,
        concurrency=concurrency,
        duration_s=duration,
        body=REQUEST_BODY,
    )
    usage = meter.stop()
    redis_seconds = _redis_cpu(client) - redis_before
    per_request = {
        name: seconds * 1000 / max(load.requests, 1)
        for name, seconds in usage.services.items()
        if name in running.pids
    }
    return Round(
        version=running.version,
        rps=load.rps,
        p50_ms=load.p50_ms,
        errors=load.errors,
        cpu_ms_per_request=round(sum(per_request.values()), 3),
        redis_ms_per_request=round(redis_seconds * 1000 / max(load.requests, 1), 3),
        services_ms={name: round(ms, 3) for name, ms in per_request.items()},
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--baseline", required=True, help="git ref of the code before")
    parser.add_argument(
        "--candidate",
        default="HEAD",
        help="git ref of the code after, or 'worktree' (default HEAD)",
    )
    parser.add_argument(
        "--scenario",
        default="last_node_save_off",
        help="a workflow of bench.workflows (default last_node_save_off)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=6, help="rounds per version")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per round")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", type=Path, help="also write the rounds and summary here")
    args = parser.parse_args()
    require_wrk()
    client = redis.Redis.from_url(args.redis_url)
    rounds: dict[str, list[Round]] = {args.baseline: [], args.candidate: []}
    commits: dict[str, str] = {}
    with contextlib.ExitStack() as stacks:
        logs = Path(stacks.enter_context(tempfile.TemporaryDirectory(prefix="hookline-compare-")))
        sides = [
            stacks.enter_context(
                _stack(version, args.scenario, args.redis_url, logs, args.concurrency)
            )
            for version in (args.baseline, args.candidate)
        ]
        for side in sides:
            commits[side.version] = side.commit
        for number in range(args.rounds):
            for side in sides if number % 2 == 0 else sides[::-1]:
                time.sleep(1)  # let the other stack's last answers settle
                result = _round(side, client, concurrency=args.concurrency, duration=args.duration)
                rounds[side.version].append(result)
                print(json.dumps(asdict(result)), flush=True)
    baseline = Side(args.baseline, commits[args.baseline], rounds[args.baseline])
    candidate = Side(args.candidate, commits[args.candidate], rounds[args.candidate])
    lines = summary(baseline, candidate)
    print(
        f"{args.scenario}, c={args.concurrency}, {args.rounds} alternating rounds of "
        f"{args.duration:g} s:"
    )
    for line in lines:
        print("  " + line)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "scenario": args.scenario,
                    "concurrency": args.concurrency,
                    "baseline": {
                        "version": baseline.version,
                        "commit": baseline.commit,
                        "rounds": [asdict(r) for r in baseline.rounds],
                    },
                    "candidate": {
                        "version": candidate.version,
                        "commit": candidate.commit,
                        "rounds": [asdict(r) for r in candidate.rounds],
                    },
                    "summary": lines,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
