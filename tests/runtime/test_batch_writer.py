"""``BatchWriter``: which queued items share one stream message."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import grpc
from hookline.cache.v1 import cache_service_pb2 as pb

from hookline_runtime.transport.item_stream_client import BatchWriter


class RecordingCall:
    """The ``write`` side of a bidirectional call: records each message; a write
    completes at once, or when ``release`` is set."""

    def __init__(self) -> None:
        self.messages: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def write(self, message: pb.StoreResultsRequest) -> None:
        self.messages.append([item.record.execution_id for item in message.items])
        await self.release.wait()


def item(execution_id: str) -> pb.StoreResultsItem:
    return pb.StoreResultsItem(record=pb.StoreResultRequest(execution_id=execution_id))


def writer_on(call: RecordingCall) -> BatchWriter[pb.StoreResultsItem]:
    return BatchWriter(
        "test",
        cast("grpc.aio.StreamStreamCall[Any, Any]", call),
        lambda items: pb.StoreResultsRequest(items=items),
    )


async def turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def request_task(writer: BatchWriter[pb.StoreResultsItem], execution_id: str) -> None:
    writer.put(item(execution_id))


async def test_when_busy_the_tasks_started_this_turn_join_the_message() -> None:
    """Once a message has carried several items, the writer waits one more loop turn:
    a request's task, which runs one turn after the callback that starts it (as
    uvicorn starts one per request), still joins the message."""
    call = RecordingCall()
    writer = writer_on(call)
    writer.put(item("a"))
    writer.put(item("b"))
    await turns(5)

    writer.put(item("c"))
    asyncio.get_running_loop().call_soon(writer.put, item("d"))
    asyncio.ensure_future(request_task(writer, "e"))
    await turns(5)

    assert call.messages == [["a", "b"], ["c", "d", "e"]]


async def test_when_quiet_a_lone_item_goes_without_waiting_a_turn() -> None:
    """After a message of one item, the next one is written at the writer's first
    step: a task started this turn makes the following message."""
    call = RecordingCall()
    writer = writer_on(call)
    writer.put(item("a"))
    await turns(5)

    writer.put(item("b"))
    asyncio.ensure_future(request_task(writer, "c"))
    await turns(5)

    assert call.messages == [["a"], ["b"], ["c"]]


async def test_items_queued_while_a_write_is_in_flight_make_the_next_message() -> None:
    call = RecordingCall()
    call.release.clear()
    writer = writer_on(call)
    writer.put(item("a"))
    while not call.messages:
        await asyncio.sleep(0)
    writer.put(item("b"))
    writer.put(item("c"))
    await turns(5)
    assert call.messages == [["a"]]

    call.release.set()
    await turns(5)

    assert call.messages == [["a"], ["b", "c"]]


async def test_an_item_whose_caller_gave_up_before_its_message_is_left_out() -> None:
    call = RecordingCall()
    writer = writer_on(call)
    gave_up: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    writer.put(item("a"))
    writer.put(item("b"), gave_up)
    gave_up.cancel()
    await turns(5)

    assert call.messages == [["a"]]
