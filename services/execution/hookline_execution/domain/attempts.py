"""Tries and repetitions around one node run: the ``retry`` and ``forEach`` settings.

``with_retry`` runs one try after another (tenacity: at most ``maxTries``, waiting
``RetrySettings.wait_after`` between them) and notes each in ``tries``;
``for_each`` runs one job per list element, at most ``concurrency`` at once, and
gives the results in input order; the first failure cancels the jobs still running
and starts no new one. Both take the node run itself as a callable, so the engine's
time and size limits apply to every try of every element.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from hookline_execution.domain.record import ERROR, SUCCESS, TryRun
from hookline_runtime.clock import utcnow
from hookline_runtime.workflow.node_settings import RetrySettings

__all__ = ["NodeFailed", "Sleep", "for_each", "with_retry"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class NodeFailed(Exception):
    """A node (or one try of it) failed with this already formatted message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _timed(
    run: Callable[[], Awaitable[T]], tries: list[TryRun], index: int | None
) -> T:
    started = utcnow()
    clock = time.perf_counter()

    def note(status: str, error: str | None) -> None:
        elapsed = (time.perf_counter() - clock) * 1000
        tries.append(TryRun(status, started, elapsed, error, index))

    try:
        result = await run()
    except NodeFailed as failure:
        note(ERROR, failure.message)
        raise
    except asyncio.CancelledError:
        note(ERROR, "cancelled")
        raise
    note(SUCCESS, None)
    return result


async def with_retry(
    run: Callable[[], Awaitable[T]],
    retry: RetrySettings | None,
    tries: list[TryRun],
    *,
    sleep: Sleep,
    index: int | None = None,
) -> T:
    """``run`` until it succeeds or ``retry.maxTries`` tries failed (then the last
    ``NodeFailed`` is raised); every try is appended to ``tries``."""
    if retry is None or retry.maxTries == 1:  # one try: no retry machinery on the hot path
        return await _timed(run, tries, index)
    policy = retry

    def wait(state: RetryCallState) -> float:
        return policy.wait_after(state.attempt_number)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.maxTries),
        wait=wait,
        retry=retry_if_exception_type(NodeFailed),
        sleep=sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await _timed(run, tries, index)
    raise AssertionError("tenacity ended without a result")  # pragma: no cover


async def for_each(
    items: Sequence[Any],
    concurrency: int,
    job: Callable[[int, Any], Awaitable[T]],
) -> list[T]:
    """``job(index, item)`` for every element, at most ``concurrency`` at once; the
    results in input order. The first ``NodeFailed`` is raised once the other jobs are
    cancelled; no job starts after a failure."""
    results: dict[int, T] = {}
    queue: Iterator[tuple[int, Any]] = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:
            results[index] = await job(index, item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(items))):
                group.create_task(worker())
    except* NodeFailed as failed:
        raise _first(failed.exceptions) from None
    return [results[index] for index in range(len(items))]


def _first(errors: Sequence[BaseException]) -> NodeFailed:
    failures = [error for error in errors if isinstance(error, NodeFailed)]
    return failures[0]
