"""What ``bench.compare`` reports: each round, each side's medians, and the ratios.

Kept apart from the runner (which needs psutil, wrk and the services) so that the
suite checks the arithmetic with the test tools alone.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Round:
    version: str
    rps: float
    p50_ms: float
    errors: int
    cpu_ms_per_request: float
    """The four services' CPU time per request."""
    redis_ms_per_request: float
    services_ms: dict[str, float]


@dataclass(frozen=True)
class Side:
    version: str
    commit: str
    rounds: list[Round]

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.rounds)

    @property
    def cpu_ms(self) -> float:
        return statistics.median(r.cpu_ms_per_request + r.redis_ms_per_request for r in self.rounds)


def summary(baseline: Side, candidate: Side) -> list[str]:
    """The lines that state the comparison: medians, then the ratios."""
    lines = [
        f"{side.version} ({side.commit[:12]}): median {side.rps:,.0f} req/s over "
        f"{len(side.rounds)} rounds (min {min(r.rps for r in side.rounds):,.0f}, "
        f"max {max(r.rps for r in side.rounds):,.0f}); median CPU per request "
        f"{side.cpu_ms:.3f} ms (services and Redis)"
        for side in (baseline, candidate)
    ]
    lines.append(
        f"throughput {candidate.version} / {baseline.version}: {candidate.rps / baseline.rps:.2f}x"
    )
    lines.append(
        f"CPU per request {candidate.version} / {baseline.version}: "
        f"{candidate.cpu_ms / baseline.cpu_ms:.2f}x"
    )
    return lines
