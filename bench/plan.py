"""How long and how hard one run drives the stack: the full run and the quick smoke run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Plan", "full_plan", "quick_plan"]


@dataclass(frozen=True)
class Plan:
    """The knobs of one run."""

    name: str
    duration_s: float
    warmup_s: float
    concurrencies: tuple[int, ...]
    large_concurrencies: tuple[int, ...]
    large_bytes: int
    waiters: int
    wait_seconds: float
    delivery_push_samples: int
    delivery_poll_samples: int
    profile: bool
    profile_seconds: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def full_plan() -> Plan:
    """About six minutes of load on a 2-core machine."""
    return Plan(
        name="full", duration_s=10.0, warmup_s=2.0, concurrencies=(1, 16, 64),
        large_concurrencies=(1, 16), large_bytes=1_000_000, waiters=5000, wait_seconds=5.0,
        delivery_push_samples=500, delivery_poll_samples=60, profile=True, profile_seconds=10,
    )


def quick_plan() -> Plan:
    """Every scenario, briefly: checks the harness and the stack work."""
    return Plan(
        name="quick", duration_s=2.0, warmup_s=1.0, concurrencies=(1, 16, 64),
        large_concurrencies=(1, 16), large_bytes=1_000_000, waiters=500, wait_seconds=2.0,
        delivery_push_samples=100, delivery_poll_samples=15, profile=False, profile_seconds=5,
    )
