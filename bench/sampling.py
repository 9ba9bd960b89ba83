"""A background sampler of one process: resident memory and TCP connections to
Redis, read with psutil every ``interval`` seconds in a thread (so that a busy event
loop in the benchmark client cannot delay the samples)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import psutil
import redis

from bench import scrape as prom

__all__ = [
    "GaugeSampler",
    "ProcessSample",
    "ProcessSampler",
    "redis_connections",
    "subscribed_connections",
]


@dataclass(frozen=True)
class ProcessSample:
    """One reading, ``at`` seconds after the sampler started."""

    at: float
    rss_bytes: int
    redis_connections: int
    redis_subscribed: int


def redis_connections(process: psutil.Process, redis_port: int) -> int:
    """Established TCP connections from ``process`` to ``redis_port``."""
    return sum(
        1 for conn in process.net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == redis_port and conn.status == psutil.CONN_ESTABLISHED
    )


def subscribed_connections(client: redis.Redis, process: psutil.Process, redis_port: int) -> int:
    """How many of ``process``'s Redis connections are in pub/sub mode (CLIENT LIST
    entries, matched by the process's local ports, with a channel or pattern)."""
    ports = {
        conn.laddr.port for conn in process.net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == redis_port
    }
    count = 0
    for entry in client.client_list():
        port = int(str(entry.get("addr", ":0")).rpartition(":")[2] or 0)
        subs = sum(int(entry.get(key, 0) or 0) for key in ("sub", "psub", "ssub"))
        if port in ports and subs > 0:
            count += 1
    return count


@dataclass
class ProcessSampler:
    """``with ProcessSampler(pid, redis_port) as sampler:`` samples until the block ends."""

    pid: int
    redis_port: int
    interval: float = 0.1
    redis_url: str | None = None
    samples: list[ProcessSample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        process = psutil.Process(self.pid)
        client = redis.Redis.from_url(self.redis_url) if self.redis_url else None
        started = time.monotonic()
        try:
            while True:
                subscribed = (subscribed_connections(client, process, self.redis_port)
                              if client is not None else 0)
                self.samples.append(ProcessSample(
                    at=time.monotonic() - started,
                    rss_bytes=process.memory_info().rss,
                    redis_connections=redis_connections(process, self.redis_port),
                    redis_subscribed=subscribed,
                ))
                # Event.wait paces the samples and returns early when the block ends.
                if self._stop.wait(self.interval):
                    return
        finally:
            if client is not None:
                client.close()

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=f"sampler-{self.pid}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def peak_rss_bytes(self) -> int:
        return max((s.rss_bytes for s in self.samples), default=0)

    @property
    def peak_redis_connections(self) -> int:
        return max((s.redis_connections for s in self.samples), default=0)

    @property
    def peak_redis_subscribed(self) -> int:
        return max((s.redis_subscribed for s in self.samples), default=0)


@dataclass
class GaugeSampler:
    """Samples one Prometheus gauge (e.g. the cache's ``hookline_waiting_requests``)
    from a metrics endpoint in a thread; ``peak`` is the highest value seen."""

    url: str
    name: str
    interval: float = 0.25
    values: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        started = time.monotonic()
        while True:
            value = prom.value(prom.scrape(self.url, timeout=2.0), self.name)
            if value is not None:
                self.values.append((time.monotonic() - started, value))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="gauge-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def peak(self) -> float | None:
        return max((v for _, v in self.values), default=None)
