"""The performance bar the issue sets, checked against one run's figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.load import LoadResult

__all__ = ["BarLine", "check_bar"]

SAVE_OFF = "lastNode save-off"
SAVE_ON = "lastNode save-on (PostgreSQL)"
DIRECT = "lastNode save-off, direct hand-off"


@dataclass(frozen=True)
class BarLine:
    """One requirement: what was measured, against what, and whether it holds."""

    requirement: str
    measured: str
    passed: bool | None  # None: not measured in this run

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _find(load: list[LoadResult], scenario: str, concurrency: int) -> LoadResult | None:
    return next((r for r in load if r.scenario == scenario and r.concurrency == concurrency),
                None)


def _cpu_total(server_side: dict[str, dict[str, Any]], scenario: str, concurrency: int
               ) -> float | None:
    per = server_side.get(f"{scenario} @c={concurrency}", {}).get("cpu_ms_per_request")
    return float(sum(per.values())) if per else None


def check_bar(load: list[LoadResult], delivery: dict[str, Any],
              waiters: dict[str, Any] | None,
              server_side: dict[str, dict[str, Any]] | None = None) -> list[BarLine]:
    """Every line of the performance bar, in the issue's order."""
    lines: list[BarLine] = []
    off16 = _find(load, SAVE_OFF, 16)
    lines.append(BarLine(
        "lastNode save-off throughput at c=16 >= 1,000 req/s",
        f"{off16.rps:,.0f} req/s" if off16 else "not measured",
        None if off16 is None else off16.rps >= 1000,
    ))
    off1 = _find(load, SAVE_OFF, 1)
    lines.append(BarLine(
        "lastNode save-off p50 at c=1 <= 3 ms",
        f"{off1.p50_ms:.2f} ms" if off1 else "not measured",
        None if off1 is None else off1.p50_ms <= 3.0,
    ))
    push, poll = delivery.get("push"), delivery.get("poll")
    lines.append(BarLine(
        "push delivery p50 <= 1 ms (StoreResult -> RESULT event, same cache process)",
        f"{push['p50_ms']:.3f} ms" if push else "not measured",
        None if push is None else push["p50_ms"] <= 1.0,
    ))
    if push and poll:
        ratio = poll["p50_ms"] / push["p50_ms"] if push["p50_ms"] else float("inf")
        lines.append(BarLine(
            "push delivery p50 >= 50x lower than poll",
            f"poll {poll['p50_ms']:.2f} ms / push {push['p50_ms']:.3f} ms = {ratio:,.0f}x",
            ratio >= 50,
        ))
    else:
        lines.append(BarLine("push delivery p50 >= 50x lower than poll", "not measured", None))
    on16 = _find(load, SAVE_ON, 16)
    if off16 and on16 and on16.rps:
        ratio = off16.rps / on16.rps
        measured = f"{off16.rps:,.0f} / {on16.rps:,.0f} req/s = {ratio:.2f}x"
        cpu_off = _cpu_total(server_side or {}, SAVE_OFF, 16)
        cpu_on = _cpu_total(server_side or {}, SAVE_ON, 16)
        if cpu_off and cpu_on:
            measured += (f" (CPU per request, services + PostgreSQL: {cpu_on:.1f} / "
                         f"{cpu_off:.1f} ms = {cpu_on / cpu_off:.2f}x)")
        lines.append(BarLine("save-off throughput vs save-on (c=16) >= 1.5x", measured,
                             ratio >= 1.5))
    else:
        lines.append(BarLine("save-off throughput vs save-on (c=16) >= 1.5x", "not measured",
                             None))
    direct16 = _find(load, DIRECT, 16)
    requirement = ("run queue vs direct gRPC hand-off (trigger without Redis), lastNode "
                   "save-off c=16 throughput >= 1.0x")
    if off16 and direct16 and direct16.rps:
        ratio = off16.rps / direct16.rps
        measured = f"{off16.rps:,.0f} / {direct16.rps:,.0f} req/s = {ratio:.2f}x"
        cpu_queue = _cpu_total(server_side or {}, SAVE_OFF, 16)
        cpu_direct = _cpu_total(server_side or {}, DIRECT, 16)
        if cpu_queue and cpu_direct:
            measured += f" (CPU per request: {cpu_queue:.2f} ms queued, {cpu_direct:.2f} direct)"
        lines.append(BarLine(requirement, measured, ratio >= 1.0))
    else:
        lines.append(BarLine(requirement, "not measured", None))
    if waiters:
        subscribed = waiters["cache_redis_subscribed_peak"]
        total = waiters["cache_redis_connections_peak"]
        before = waiters["cache_redis_connections_before"]
        # Waiting may hold at most 2 connections: the pub/sub ones, and no growth of
        # the command pool beyond 2 while the waiters arrive.
        lines.append(BarLine(
            f"Redis connections used for waiting while {waiters['requested']:,} requests wait "
            "<= 2 (cache process)",
            f"{subscribed} in pub/sub mode; {total} to Redis in all at peak, "
            f"{before} before the wait (growth {total - before})",
            subscribed <= 2 and total - before <= 2,
        ))
    else:
        lines.append(BarLine("Redis connections while 5,000 requests wait <= 2", "not measured",
                             None))
    return lines
