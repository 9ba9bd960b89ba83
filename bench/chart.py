"""The latency chart of one run (PNG, matplotlib Agg): percentile curves of every
wrk scenario at c=1 and c=16, push against poll delivery, throughput by concurrency,
and the concurrent waiters' latency with the cache process's memory."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = ["draw_chart"]

_NINES_TICKS = (50.0, 90.0, 99.0, 99.9, 99.99)


def _nines(percentile: float) -> float:
    """Percentile -> position on a "number of nines" axis (50 -> 0.3, 99 -> 2)."""
    return -math.log10(1.0 - min(percentile, 99.999) / 100.0)


def _percentile_panel(ax: Axes, load: list[dict[str, Any]], concurrency: int) -> None:
    for run in load:
        if run["concurrency"] != concurrency:
            continue
        points = sorted((float(p), ms) for p, ms in run["percentiles_ms"].items())
        points = [(p, ms) for p, ms in points if p >= 10]
        ax.plot([_nines(p) for p, _ in points], [ms for _, ms in points],
                label=run["scenario"], linewidth=1.6)
    ax.set_xticks([_nines(p) for p in _NINES_TICKS], [f"p{p:g}" for p in _NINES_TICKS])
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms, log)")
    ax.set_title(f"wrk latency percentiles, c={concurrency}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")


def _delivery_panel(ax: Axes, delivery: dict[str, Any]) -> None:
    for mode, color in (("push", "tab:green"), ("poll", "tab:red")):
        data = delivery.get(mode)
        if not data:
            continue
        values = sorted(data["latencies_ms"])
        fractions = [(i + 1) / len(values) for i in range(len(values))]
        ax.step(values, fractions, where="post", color=color,
                label=f"{mode}: p50 {data['p50_ms']:.3f} ms, p99 {data['p99_ms']:.2f} ms")
    ax.set_xscale("log")
    ax.set_xlabel("StoreResult call -> RESULT event (ms, log)")
    ax.set_ylabel("fraction of samples")
    ax.set_title("Delivery micro-benchmark: push vs poll (CDF)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")


def _throughput_panel(ax: Axes, load: list[dict[str, Any]]) -> None:
    scenarios = list(dict.fromkeys(run["scenario"] for run in load))
    concurrencies = sorted({run["concurrency"] for run in load})
    width = 0.8 / max(1, len(concurrencies))
    for j, concurrency in enumerate(concurrencies):
        values = [next((r["rps"] for r in load
                        if r["scenario"] == s and r["concurrency"] == concurrency), 0.0)
                  for s in scenarios]
        ax.bar([i + j * width for i in range(len(scenarios))], values, width,
               label=f"c={concurrency}")
    ax.set_xticks([i + width * (len(concurrencies) - 1) / 2 for i in range(len(scenarios))],
                  [s.replace(", ", ",\n").replace(" (", "\n(") for s in scenarios], fontsize=7)
    ax.set_ylabel("requests/s")
    ax.set_title("Throughput by scenario and concurrency")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)


def _waiters_panel(ax: Axes, waiters: dict[str, Any] | None) -> None:
    if not waiters or not waiters["latencies_ms"]:
        ax.set_title("Concurrent waiters: not measured")
        return
    seconds = [ms / 1000.0 for ms in waiters["latencies_ms"]]
    ax.hist(seconds, bins=60, color="tab:blue", alpha=0.8)
    ax.set_xlabel("request latency (s)")
    ax.set_ylabel("requests")
    ax.set_title(f"{waiters['requested']:,} concurrent waiters "
                 f"({waiters['succeeded']:,} ok), wait node {waiters['wait_seconds']:g} s")
    samples = waiters.get("samples") or []
    if samples:
        twin = ax.twinx()
        twin.plot([s["at"] for s in samples], [s["rss_bytes"] / 2**20 for s in samples],
                  color="tab:orange", label="cache RSS (MiB) over time (s)")
        twin.set_ylabel("cache RSS (MiB)", color="tab:orange")
        twin.legend(fontsize=8, loc="upper left")


def draw_chart(data: dict[str, Any], path: Path) -> None:
    """Draw the four panels of ``data`` (the results.json object) into ``path``."""
    fig, axes = plt.subplots(2, 3, figsize=(20, 10.5))
    _percentile_panel(axes[0][0], data["load"], 1)
    _percentile_panel(axes[0][1], data["load"], 16)
    _percentile_panel(axes[0][2], data["load"], 64)
    _delivery_panel(axes[1][0], data["delivery"])
    _throughput_panel(axes[1][1], data["load"])
    _waiters_panel(axes[1][2], data["waiters"])
    fig.suptitle(f"hookline benchmark {data['started_at']} — {data['machine']['nproc']} CPUs, "
                 f"{data['plan']['name']} plan", fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
