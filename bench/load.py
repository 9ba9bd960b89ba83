"""The HTTP load generator: ``wrk`` with ``wrk_report.lua``, one fixed-duration run
at one concurrency, parsed into a ``LoadResult``."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hookline_runtime.logs import get_logger

__all__ = ["LoadResult", "WrkMissing", "require_wrk", "run_wrk"]

log = get_logger(__name__)

SCRIPT = Path(__file__).with_name("wrk_report.lua")
_MARKER = "BENCH_RESULT "


class WrkMissing(RuntimeError):
    """wrk is not installed."""


class WrkFailed(RuntimeError):
    """wrk ran but printed no result."""


@dataclass
class LoadResult:
    """One wrk run. Latencies are in milliseconds."""

    scenario: str
    concurrency: int
    duration_s: float
    requests: int
    rps: float
    ok_2xx: int
    non_2xx: int
    socket_errors: dict[str, int]
    statuses: dict[str, int]
    mean_ms: float
    max_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    percentiles_ms: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Requests that did not end in a 2xx: non-2xx answers and socket errors."""
        socket = sum(v for k, v in self.socket_errors.items() if k != "status")
        return self.non_2xx + socket

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "errors": self.errors}


def require_wrk() -> str:
    """The path of wrk, or an explanation of how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing(
            "wrk is not installed: run `apt-get install -y wrk` (Debian/Ubuntu, as root; "
            "`apt-get update` first on a fresh machine), then run bench/run again."
        )
    return path


def _seconds(value: float) -> int:
    """wrk takes whole seconds."""
    return max(1, math.ceil(value))


def _threads(concurrency: int) -> int:
    return 1 if concurrency == 1 else min(2, concurrency)


def run_wrk(scenario: str, url: str, *, concurrency: int, duration_s: float, body: str,
            method: str = "POST", timeout_s: float = 30.0) -> LoadResult:
    """Drive ``url`` with ``concurrency`` connections for ``duration_s`` seconds."""
    wrk = require_wrk()
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body,
           "BENCH_CONTENT_TYPE": "application/json"}
    command = [
        wrk, f"-t{_threads(concurrency)}", f"-c{concurrency}", f"-d{_seconds(duration_s)}s",
        f"--timeout={_seconds(timeout_s)}s", "-s", str(SCRIPT), url,
    ]
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration_s + timeout_s + 30,
        check=False,
    )
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith(_MARKER)), None)
    if line is None:
        raise WrkFailed(f"wrk printed no result (exit {completed.returncode}): "
                        f"{completed.stderr.strip() or completed.stdout.strip()}")
    raw = json.loads(line[len(_MARKER):])
    result = _parse(scenario, concurrency, raw)
    log.info("wrk run", scenario=scenario, concurrency=concurrency, rps=round(result.rps, 1),
             p50_ms=round(result.p50_ms, 3), p99_ms=round(result.p99_ms, 3),
             errors=result.errors)
    return result


def _parse(scenario: str, concurrency: int, raw: dict[str, Any]) -> LoadResult:
    latency = raw["latency_us"]
    pct = {key: value / 1000.0 for key, value in latency["percentiles"].items()}
    duration_s = raw["duration_us"] / 1e6
    return LoadResult(
        scenario=scenario,
        concurrency=concurrency,
        duration_s=duration_s,
        requests=raw["requests"],
        rps=raw["requests"] / duration_s if duration_s else 0.0,
        ok_2xx=raw["ok_2xx"],
        non_2xx=raw["non_2xx"],
        socket_errors=raw["errors"],
        statuses=raw["statuses"],
        mean_ms=latency["mean"] / 1000.0,
        max_ms=latency["max"] / 1000.0,
        p50_ms=pct["50"],
        p90_ms=pct["90"],
        p99_ms=pct["99"],
        p999_ms=pct["99.9"],
        percentiles_ms=pct,
    )
