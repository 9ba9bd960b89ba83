"""CPU accounting around one load run: CPU seconds used by each service process, by
the load generator (reaped child processes such as wrk), by this harness, and by
everything else on the machine — the noise from neighbours that a shared machine adds."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field

import psutil

__all__ = ["CpuMeter", "CpuUsage", "database_backends"]


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _process_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def database_backends(pids: list[int], db_port: int = 5432) -> list[int]:
    """PostgreSQL backend processes serving connections that ``pids`` opened to
    ``db_port`` (matched by the client's local port): the database work done for us
    on a server that other clients share."""
    ours: set[int] = set()
    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            continue
        ours |= {c.laddr.port for c in conns if c.raddr and c.raddr.port == db_port}
    backends = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] != "postgres":
            continue
        try:
            conns = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.laddr.port == db_port and c.raddr and c.raddr.port in ours for c in conns):
            backends.append(process.pid)
    return backends


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuUsage:
    """CPU seconds over ``wall_seconds``, by consumer."""

    wall_seconds: float
    services: dict[str, float]
    load_generator: float
    harness: float
    others: float
    machine_busy: float
    cpus: int
    loadavg_1m: float

    def per_request_ms(self, requests: int) -> dict[str, float]:
        """Service CPU milliseconds per request."""
        if requests <= 0:
            return {}
        return {name: round(1000.0 * s / requests, 3) for name, s in self.services.items()}

    def others_share(self) -> float:
        """Fraction of the machine's CPU capacity that other processes used."""
        capacity = self.wall_seconds * self.cpus
        return self.others / capacity if capacity else 0.0


@dataclass
class CpuMeter:
    """``meter.start()`` before a run, ``meter.stop()`` after it."""

    pids: dict[str, int]
    count_database: bool = True
    _start: dict[str, float] = field(default_factory=dict)
    _backends: dict[int, float] = field(default_factory=dict)

    def _database_seconds(self) -> dict[int, float]:
        if not self.count_database:
            return {}
        seconds = {}
        for pid in database_backends(list(self.pids.values())):
            try:
                seconds[pid] = _process_seconds(psutil.Process(pid))
            except psutil.Error:
                continue
        return seconds

    def _snapshot(self) -> dict[str, float]:
        snap = {f"svc:{name}": _process_seconds(psutil.Process(pid))
                for name, pid in self.pids.items()}
        snap["children"] = _children_seconds()
        snap["harness"] = _process_seconds(psutil.Process())
        snap["busy"] = _busy_seconds()
        snap["wall"] = time.monotonic()
        return snap

    def start(self) -> None:
        self._backends = self._database_seconds()
        self._start = self._snapshot()

    def stop(self) -> CpuUsage:
        end = self._snapshot()
        delta = {key: end[key] - self._start[key] for key in end}
        # Backends that ended during the run are lost; new ones count from zero.
        backends = self._database_seconds()
        delta["svc:postgres"] = sum(seconds - self._backends.get(pid, 0.0)
                                    for pid, seconds in backends.items())
        services = {key[4:]: round(value, 3) for key, value in delta.items()
                    if key.startswith("svc:")}
        ours = sum(services.values()) + delta["children"] + delta["harness"]
        return CpuUsage(
            wall_seconds=round(delta["wall"], 3), services=services,
            load_generator=round(delta["children"], 3), harness=round(delta["harness"], 3),
            others=round(max(0.0, delta["busy"] - ours), 3), machine_busy=round(delta["busy"], 3),
            cpus=psutil.cpu_count() or 1, loadavg_1m=os.getloadavg()[0],
        )
