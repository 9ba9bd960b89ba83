"""``Coalescer``: what callers of one turn, and callers during a send, share."""

from __future__ import annotations

import asyncio

import pytest

from hookline_runtime.batching import Coalescer


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail = fail

    async def send(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        await self.release.wait()
        if self.fail:
            raise ConnectionError("down")
        return [item * 10 for item in items]


async def holding_first_batch(
    recorder: Recorder, coalescer: Coalescer[int, int]
) -> asyncio.Future[int]:
    """Submit 1 and return once its batch is in ``send``, held there until
    ``recorder.release`` is set."""
    recorder.release.clear()
    first = asyncio.ensure_future(coalescer.submit(1))
    while not recorder.batches:
        await asyncio.sleep(0)
    return first


async def test_callers_of_one_turn_share_a_batch_and_get_their_own_result() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.send, name="test")

    results = await asyncio.gather(*(coalescer.submit(n) for n in range(5)))

    assert results == [0, 10, 20, 30, 40]
    assert recorder.batches == [[0, 1, 2, 3, 4]]


async def test_callers_during_a_send_make_the_next_batch() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.send, name="test")
    first = await holding_first_batch(recorder, coalescer)
    later = [asyncio.ensure_future(coalescer.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0)
    recorder.release.set()

    assert await asyncio.gather(first, *later) == [10, 20, 30]
    assert recorder.batches == [[1], [2, 3]]


async def test_a_batch_is_bounded_by_count_and_by_weight() -> None:
    recorder = Recorder()
    by_count: Coalescer[int, int] = Coalescer(recorder.send, name="test", max_items=2)
    await asyncio.gather(*(by_count.submit(n) for n in range(5)))
    assert recorder.batches == [[0, 1], [2, 3], [4]]

    recorder.batches.clear()
    by_weight: Coalescer[int, int] = Coalescer(
        recorder.send, name="test", weight=lambda n: n, max_weight=10
    )
    await asyncio.gather(*(by_weight.submit(n) for n in (9, 20, 1, 9)))
    # The first item of a batch goes whatever its weight.
    assert recorder.batches == [[9], [20], [1, 9]]


async def test_a_failed_send_fails_every_caller_of_its_batch_and_the_next_goes_on() -> None:
    recorder = Recorder(fail=True)
    coalescer: Coalescer[int, int] = Coalescer(recorder.send, name="test")

    results = await asyncio.gather(*(coalescer.submit(n) for n in range(3)), return_exceptions=True)

    assert all(isinstance(r, ConnectionError) for r in results)
    recorder.fail = False
    assert await coalescer.submit(7) == 70


async def test_a_caller_that_gave_up_before_its_batch_went_is_left_out() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.send, name="test")
    first = await holding_first_batch(recorder, coalescer)
    gave_up = asyncio.ensure_future(coalescer.submit(2))
    stays = asyncio.ensure_future(coalescer.submit(3))
    await asyncio.sleep(0)
    gave_up.cancel()
    recorder.release.set()

    assert await first == 10
    assert await stays == 30
    assert recorder.batches == [[1], [3]]


async def test_closing_answers_the_callers_still_waiting_with_the_abort_error() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(
        recorder.send, name="test", aborted=lambda: ConnectionAbortedError("stopped")
    )
    in_flight = await holding_first_batch(recorder, coalescer)
    queued = asyncio.ensure_future(coalescer.submit(2))
    await asyncio.sleep(0)

    await coalescer.close()

    # Neither caller's own task is cancelled: each gets the owner's error.
    for caller in (in_flight, queued):
        with pytest.raises(ConnectionAbortedError, match="stopped"):
            await caller


async def test_without_a_limit_every_caller_of_a_burst_shares_one_batch() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.send, name="test", max_items=None)

    await asyncio.gather(*(coalescer.submit(n) for n in range(1000)))

    assert [len(batch) for batch in recorder.batches] == [1000]
