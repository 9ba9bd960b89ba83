"""``python -m bench [--quick]``: run the benchmark and write its results."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.load import WrkMissing, require_wrk
from bench.plan import full_plan, quick_plan
from bench.rebuild import rebuild
from bench.report import publish_latest, write_results
from bench.runner import BenchRunner, RunResult, machine_info
from bench.source import CodeSource
from bench.waiters import raise_fd_limit
from hookline_runtime.logs import configure_logging, get_logger

log = get_logger("bench")

RESULTS = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="short smoke run of every scenario (about 1.5 minutes)")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                        help="record py-spy profiles (default: on for the full run)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL",
                                                              "redis://127.0.0.1:6379/0"))
    parser.add_argument("--log-level", default="info", help="the services' log level")
    parser.add_argument("--source", default="HEAD",
                        help="code to run: a git ref exported to a temporary folder "
                        "(default HEAD), or 'worktree' for the files as they are")
    parser.add_argument("--rebuild", type=Path, metavar="FOLDER",
                        help="only rewrite FOLDER's results.md and latency.png from its "
                        "results.json (and collapsed stacks)")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="parent folder of the timestamped results folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("info", "console")
    if args.rebuild is not None:
        rebuild(args.rebuild)
        log.info("results rebuilt", folder=str(args.rebuild))
        return 0
    try:
        require_wrk()
    except WrkMissing as exc:
        log.error(str(exc))
        return 2
    plan = quick_plan() if args.quick else full_plan()
    if args.profile is not None:
        plan = type(plan)(**{**plan.to_json(), "profile": args.profile,
                             "concurrencies": plan.concurrencies,
                             "large_concurrencies": plan.large_concurrencies})
    soft, hard = raise_fd_limit()
    started = datetime.now(UTC)
    out_dir = args.results / started.strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    log.info("benchmark starting", plan=plan.name, results=str(out_dir), fd_limit=soft)
    result = RunResult(plan=plan.to_json(), machine=machine_info(),
                       started_at=started.isoformat(timespec="seconds"))
    result.notes.append(f"open-file limit raised to {soft:,} (hard {hard:,}) for the harness "
                        "and the services it starts")
    command = "bench/run" + ("" if argv is None and len(sys.argv) < 2
                             else " " + shlex.join(argv if argv is not None else sys.argv[1:]))
    failed = False
    try:
        with CodeSource(args.source) as source:
            result.code = {"ref": args.source, "commit": source.commit, "dirty": source.dirty}
            runner = BenchRunner(plan, out_dir, args.redis_url, log_level=args.log_level,
                                 result=result, source=source)
            runner.run()
    except KeyboardInterrupt:
        result.notes.append("interrupted (Ctrl-C): figures are partial")
        failed = True
    except Exception as exc:  # outermost boundary: keep what was measured, then fail
        log.exception("benchmark failed")
        result.notes.append(f"run failed: {type(exc).__name__}: {exc}")
        failed = True
    bar = write_results(result, out_dir, command)
    # A quick run is a smoke test: it must not replace the committed full results.
    latest = publish_latest(out_dir, "latest" if plan.name == "full" else f"latest-{plan.name}")
    for line in bar:
        log.info("performance bar", requirement=line.requirement, measured=line.measured,
                 result={True: "PASS", False: "FAIL", None: "n/a"}[line.passed])
    log.info("results written", folder=str(out_dir), latest=str(latest))
    sys.stdout.write((out_dir / "results.md").read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
