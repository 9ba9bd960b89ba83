"""Batching on item streams (``hookline_runtime.transport.item_stream_client`` and
``item_streams``): items ready together share one gRPC message each way, and every
item still gets its own answer; a lone item goes out at once, in a message of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from hookline.cache.v1 import cache_service_pb2 as pb
from hookline.cache.v1 import cache_service_pb2_grpc as pb_grpc

from hookline_runtime.transport.item_stream_client import ItemStreamClient
from hookline_runtime.transport.item_streams import serve_items

pytestmark = pytest.mark.timeout(30)


class Counting:
    """A StoreResults stream that counts the messages it reads and writes."""

    def __init__(self, turns: dict[str, int] | None = None) -> None:
        self.request_messages = 0
        self.response_messages = 0
        self.items = 0
        self.turns = turns or {}
        """Loop turns an item's store takes before it answers, by execution id."""

    async def StoreResults(
        self, request_iterator: AsyncIterator[pb.StoreResultsRequest], context: Any
    ) -> AsyncIterator[pb.StoreResultsResponse]:
        async def counted() -> AsyncIterator[pb.StoreResultsRequest]:
            async for message in request_iterator:
                self.request_messages += 1
                self.items += len(message.items)
                yield message

        async def store(item: pb.StoreResultsItem) -> pb.StoreResultsReply:
            for _ in range(self.turns.get(item.record.execution_id, 0)):
                await asyncio.sleep(0)
            size = len(item.record.record_json)
            stored = pb.StoreResultResponse(stored_bytes=size)
            return pb.StoreResultsReply(execution_id=item.record.execution_id, stored=stored)

        def failed(item: pb.StoreResultsItem, error: Any) -> pb.StoreResultsReply:
            return pb.StoreResultsReply(execution_id=item.record.execution_id, error=error)

        def batch(replies: list[pb.StoreResultsReply]) -> pb.StoreResultsResponse:
            self.response_messages += 1
            return pb.StoreResultsResponse(replies=replies)

        async for message in serve_items(
            counted(), lambda message: message.items, store, failed, batch
        ):
            yield message


async def _client(
    counting: Counting,
) -> tuple[grpc.aio.Server, grpc.aio.Channel, ItemStreamClient[Any, pb.StoreResultsReply]]:
    server = grpc.aio.server()
    handler = grpc.stream_stream_rpc_method_handler(
        counting.StoreResults,
        request_deserializer=pb.StoreResultsRequest.FromString,
        response_serializer=pb.StoreResultsResponse.SerializeToString,
    )
    service = pb.DESCRIPTOR.services_by_name["CacheService"].full_name
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(service, {"StoreResults": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = pb_grpc.CacheServiceStub(channel)
    client: ItemStreamClient[Any, pb.StoreResultsReply] = ItemStreamClient(
        "test StoreResults",
        [stub.StoreResults],
        lambda reply: reply.execution_id,
        pack=lambda items: pb.StoreResultsRequest(items=items),
        unpack=lambda message: message.replies,
    )
    return server, channel, client


def _item(key: str, size: int) -> pb.StoreResultsItem:
    return pb.StoreResultsItem(
        record=pb.StoreResultRequest(execution_id=key, record_json=b"x" * size)
    )


async def test_concurrent_items_share_messages_and_each_gets_its_own_answer() -> None:
    counting = Counting()
    server, channel, client = await _client(counting)
    try:
        keys = [f"run-{n}" for n in range(200)]
        replies = await asyncio.gather(
            *(client.call(key, _item(key, n + 1), timeout=10) for n, key in enumerate(keys))
        )
    finally:
        await client.close()
        await channel.close()
        await server.stop(None)
    assert [reply.execution_id for reply in replies] == keys
    assert [reply.stored.stored_bytes for reply in replies] == [n + 1 for n in range(200)]
    assert counting.items == 200
    assert counting.request_messages < 20
    assert counting.response_messages < 20


async def test_a_lone_item_goes_at_once_in_its_own_message() -> None:
    counting = Counting()
    server, channel, client = await _client(counting)
    try:
        for n in range(3):
            reply = await client.call(f"run-{n}", _item(f"run-{n}", 10), timeout=10)
            assert reply.execution_id == f"run-{n}"
    finally:
        await client.close()
        await channel.close()
        await server.stop(None)
    assert (counting.request_messages, counting.response_messages) == (3, 3)


async def test_a_batch_is_cut_before_it_grows_past_the_size_cap() -> None:
    counting = Counting()
    server, channel, client = await _client(counting)
    try:
        keys = [f"big-{n}" for n in range(8)]
        replies = await asyncio.gather(
            *(client.call(key, _item(key, 300 * 1024), timeout=10) for key in keys)
        )
    finally:
        await client.close()
        await channel.close()
        await server.stop(None)
    assert [reply.execution_id for reply in replies] == keys
    assert counting.request_messages >= 3  # 8 × 300 KiB at most 1 MiB a message


async def test_when_busy_answers_two_loop_turns_apart_share_a_message() -> None:
    """Once a message has carried several answers, two items whose answers come two
    loop turns apart (a store that awaits twice more than the other, as a Redis reply
    and the task it wakes do) are answered in one message."""
    counting = Counting(turns={"run-3": 2})
    server, channel, client = await _client(counting)
    try:
        replies = []
        for pair in (("run-0", "run-1"), ("run-2", "run-3")):
            replies += await asyncio.gather(
                *(client.call(key, _item(key, 10), timeout=10) for key in pair)
            )
    finally:
        await client.close()
        await channel.close()
        await server.stop(None)
    assert [reply.execution_id for reply in replies] == ["run-0", "run-1", "run-2", "run-3"]
    assert (counting.request_messages, counting.response_messages) == (2, 2)
