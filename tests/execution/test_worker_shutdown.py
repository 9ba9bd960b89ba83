"""The queue worker's shutdown is bounded even when a queue call ignores its
cancellation, as redis-py can do with a blocked ``XREADGROUP``."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

import pytest

from hookline_execution.domain import worker as worker_module
from hookline_execution.domain.service import ExecutionService
from hookline_execution.domain.worker import QueuedRun, QueueStats, QueueWorker
from hookline_execution.metrics import ExecutionMetrics

from .conftest import logged
from .memory_journal import MemoryJournal


class StuckReadQueue:
    """A ``RunQueue`` whose read, once cancelled, goes on waiting until ``release``."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def prepare(self) -> None:
        return None

    async def read(self, count: int) -> list[QueuedRun]:
        self.reading.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await self.release.wait()  # the cancellation is swallowed
        return []

    async def claim(self, count: int, min_idle_seconds: float) -> list[QueuedRun]:
        return []

    async def renew(self, entry_ids: list[str]) -> list[str]:
        return []

    async def ack(self, runs: list[tuple[str, str]]) -> None:
        return None

    async def hand_back(self, runs: list[tuple[str, int]]) -> None:
        return None

    async def stats(self) -> QueueStats:
        return QueueStats(length=0, pending=0)


class RoomyService:
    """What the worker asks of the execution service before it reads."""

    capacity = 10

    async def wait_for_room(self) -> None:
        return None


async def test_a_read_that_ignores_its_cancellation_does_not_hold_the_shutdown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(worker_module, "_LAST_READ_SECONDS", 0.2)
    queue = StuckReadQueue()
    worker = QueueWorker(
        queue,
        MemoryJournal(),
        cast(ExecutionService, RoomyService()),
        ExecutionMetrics(),
        claim_seconds=15,
        max_deliveries=3,
    )
    await worker.__aenter__()
    await queue.reading.wait()
    (reader,) = [task for task in asyncio.all_tasks() if task.get_name() == "run-queue-reader"]

    started = time.monotonic()
    await asyncio.wait_for(worker.__aexit__(None, None, None), 5)

    assert time.monotonic() - started < 2
    assert logged(
        caplog, "Run queue loop did not stop; shutting down without it", loops=["run-queue-reader"]
    )
    queue.release.set()  # let the stuck read end, so the test leaves no task behind
    await asyncio.wait_for(reader, 5)
