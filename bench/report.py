"""Writing a run's figures: ``results.json`` (everything), ``results.md`` (tables and
the performance bar), and ``latency.png`` (via ``bench.chart``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bench.bar import BarLine, check_bar
from bench.runner import RunResult

__all__ = ["markdown", "publish_latest", "write_results"]


def _mark(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[passed]


def _ms(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def as_json(result: RunResult, bar: list[BarLine], command: str) -> dict[str, Any]:
    return {
        "started_at": result.started_at,
        "command": command,
        "plan": result.plan,
        "machine": result.machine,
        "code": result.code,
        "load": [r.to_json() for r in result.load],
        "server_side": result.server_side,
        "delivery": result.delivery,
        "baseline": result.baseline,
        "waiters": result.waiters,
        "performance_bar": [line.to_json() for line in bar],
        "profiles": result.profiles,
        "notes": result.notes,
        "exit_codes": result.exit_codes,
        "startup_seconds": result.startup_seconds,
    }


def _count(value: float | None) -> str:
    return "not measured" if value is None else f"{value:,.0f}"


def _baseline_lines(result: RunResult) -> list[str]:
    b = result.baseline
    if not b:
        return []
    ping, check = b["redis_ping"], b["grpc_health_check"]
    return [
        (f"Baseline before the scenarios (no hookline code): Redis PING p50 "
        f"{ping['p50_ms']:.3f} ms (p99 {ping['p99_ms']:.3f}); gRPC health Check on the cache "
        f"process p50 {check['p50_ms']:.3f} ms (p99 {check['p99_ms']:.3f})."),
        "",
    ]


def markdown(result: RunResult, bar: list[BarLine], command: str) -> str:
    """The human summary of one run."""
    m = result.machine
    out = [
        f"# hookline benchmark — {result.started_at}",
        "",
        (f"`{command}` ({result.plan['name']} plan: {result.plan['duration_s']:g} s per wrk run). "
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"Python {m['python']}. Code: commit {result.code.get('commit', '?')[:12]}"
        f"{' (working tree, with uncommitted changes)' if result.code.get('dirty') else ''}."),
        "",
        *_baseline_lines(result),
        "## Load (wrk)",
        "",
        "| scenario | concurrency | req/s | p50 ms | p90 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result.load:
        out.append(f"| {r.scenario} | {r.concurrency} | {r.rps:,.0f} | {r.p50_ms:.2f} | "
                   f"{r.p90_ms:.2f} | {r.p99_ms:.2f} | {r.errors} |")
    cpu_rows = [(r, result.server_side.get(f"{r.scenario} @c={r.concurrency}", {}))
                for r in result.load]
    if any(side.get("cpu_ms_per_request") for _, side in cpu_rows):
        out += ["", "## CPU per request (service CPU ms / request) and neighbours' load", "",
                ("`postgres` is the CPU of the PostgreSQL backends serving the services' own "
                 "connections. On 2 cores, throughput is bounded by about 2000 / total."),
                "",
                ("| scenario | c | edge | trigger | execution | cache | postgres | total | "
                 "wrk CPU s | others' CPU % of machine | load avg |"),
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r, side in cpu_rows:
            per = side.get("cpu_ms_per_request") or {}
            cpu = side.get("cpu") or {}
            if not per:
                continue
            out.append(
                f"| {r.scenario} | {r.concurrency} | {per['edge']:.2f} | {per['trigger']:.2f} | "
                f"{per['execution']:.2f} | {per['cache']:.2f} | {per.get('postgres', 0):.2f} | "
                f"{sum(per.values()):.2f} | "
                f"{cpu.get('load_generator', 0):.1f} | "
                f"{100 * side.get('others_cpu_share', 0):.0f} | {cpu.get('loadavg_1m', 0):.1f} |")
    out += ["", "## Performance bar", ""]
    out += [f"- **{_mark(line.passed)}** {line.requirement}: {line.measured}" for line in bar]
    if result.delivery:
        out += ["", "## Delivery micro-benchmark (gRPC StoreResult → RESULT event)", "",
                "| mode | samples | p50 ms | p90 ms | p99 ms | max ms | StoreResult p50 ms |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for mode in ("push", "poll"):
            d = result.delivery.get(mode)
            if d:
                out.append(f"| {mode} | {d['samples']} | {d['p50_ms']:.3f} | {d['p90_ms']:.3f} | "
                           f"{d['p99_ms']:.3f} | {d['max_ms']:.3f} | "
                           f"{d['store_rtt_p50_ms']:.3f} |")
    server = {k: v for k, v in result.server_side.items()
              if v.get("deliveries") or v.get("db_rows_written") or v.get("db_saves_skipped")}
    if server:
        out += ["", "## Server side (cache and execution metrics, per wrk run)", "",
                ("The cache's `hookline_result_delivery_seconds` (StoreResult received → the "
                "waiting stream sends the result) counts only results that arrived while a "
                "stream waited; the others were already stored when the watch began and were "
                "answered by its first read. Quantiles are estimated from histogram buckets."),
                "",
                ("| run | results pushed to a waiting stream | push delivery p50 ms (est.) | "
                 "p99 ms (est.) | rows written | saves skipped |"), "|---|---:|---:|---:|---:|---:|"]
        for key, v in server.items():
            out.append(f"| {key} | {v.get('deliveries') or 0:,.0f} | "
                       f"{_ms(v.get('delivery_p50_ms_estimate'), 3)} | "
                       f"{_ms(v.get('delivery_p99_ms_estimate'), 3)} | "
                       f"{v.get('db_rows_written') or 0:,.0f} | "
                       f"{v.get('db_saves_skipped') or 0:,.0f} |")
    w = result.waiters
    if w:
        lat = w["latency_ms"]
        out += ["", (f"## {w['requested']:,} concurrent waiting requests "
                f"(wait node {w['wait_seconds']:g} s)"), "",
                (f"- {w['connected']:,} connections opened in {w['connect_seconds']:.1f} s, then "
                 "every request written at once"),
                (f"- succeeded {w['succeeded']:,}, failed {w['failed']:,} "
                f"(statuses {w['statuses']}, client errors {w['failures']}); "
                f"peak in flight {w['peak_in_flight']:,} (client side); peak waiting in the cache "
                f"service {_count(w.get('cache_waiting_peak'))}; all done in "
                f"{w['wall_seconds']:.1f} s"),
                (f"- latency ms: p50 {_ms(lat.get('p50'), 0)}, p90 {_ms(lat.get('p90'), 0)}, "
                f"p99 {_ms(lat.get('p99'), 0)}, max {_ms(lat.get('max'), 0)}"),
                (f"- cache process Redis connections: {w['cache_redis_connections_before']} before, "
                f"peak {w['cache_redis_connections_peak']} "
                f"({w['cache_redis_subscribed_peak']} in pub/sub mode), "
                f"{w['cache_redis_connections_after']} after"),
                (f"- cache process RSS: {w['cache_rss_before_bytes'] / 2**20:.0f} MiB before, "
                f"peak {w['cache_rss_peak_bytes'] / 2**20:.0f} MiB; edge peak RSS "
                f"{w['edge_rss_peak_bytes'] / 2**20:.0f} MiB; client fd limit {w['fd_limit']:,}")]
    if result.profiles:
        out += ["", "## Profiles (py-spy, lastNode save-off at c=16)", "",
                ("Native stacks (py-spy --native) with idle waits (epoll, poll, condition "
                 "waits) left out. Own time by package of the leaf frame (`grpc C core`, "
                 "`libc` system calls, `CPython` = interpreter and GC, or a Python package), "
                 "the hookline functions with the largest inclusive share, and the top leaf "
                 "frames. Flame graphs (Python frames only) are the SVG files."), ""]
        for p in result.profiles:
            out.append(f"### {p['process']} ({p['samples']:,} busy samples, "
                       f"{p['idle_samples']:,} idle left out; flame graph {p['svg']})")
            out.append("")
            out.append("| own % | package | | incl. % | hookline function | | own % | frame |")
            out.append("|---:|---|---|---:|---|---|---:|---|")
            columns = (p["own_by_package"], p["hookline_inclusive"], p["top_self"])
            for i in range(min(12, max(len(c) for c in columns))):
                cells = []
                for column in columns:
                    name, share = column[i] if i < len(column) else ("", "")
                    cells.append(f"{share} | `{name}`" if name else " | ")
                out.append("| " + " | | ".join(cells) + " |")
            out.append("")
    if result.notes:
        out += ["", "## Notes", ""] + [f"- {note}" for note in result.notes]
    out += ["", f"Start-up to ready (s): {result.startup_seconds}",
            "", f"Process exit codes: {result.exit_codes}", ""]
    return "\n".join(out)


def write_results(result: RunResult, out_dir: Path, command: str) -> list[BarLine]:
    """Write results.json, results.md and latency.png into ``out_dir``."""
    from bench.chart import draw_chart

    bar = check_bar(result.load, result.delivery, result.waiters, result.server_side)
    data = as_json(result, bar, command)
    (out_dir / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    (out_dir / "results.md").write_text(markdown(result, bar, command))
    draw_chart(data, out_dir / "latency.png")
    return bar


def publish_latest(out_dir: Path, name: str = "latest") -> Path:
    """Copy ``out_dir`` to ``results/<name>`` (replacing it), without the raw logs."""
    latest = out_dir.parent / name
    if latest.exists():
        shutil.rmtree(latest)
    shutil.copytree(out_dir, latest, ignore=shutil.ignore_patterns("logs", "*.collapsed.txt",
                                                                  "py-spy-*.log"))
    return latest
