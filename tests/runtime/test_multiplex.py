"""Calls multiplexed on Exchange sessions (runtime.multiplex) between a real
``GrpcServer`` and a real ``ServiceClient``: what gRPC gives a call must still hold."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hookline.cache.v1 import cache_service_pb2 as pb
from hookline.cache.v1 import cache_service_pb2_grpc as pb_grpc
from hookline.execution.v1 import execution_service_pb2 as exec_pb
from hookline.execution.v1 import execution_service_pb2_grpc as exec_grpc
from hookline.multiplex.v1.multiplex_service_pb2_grpc import (
    add_MultiplexServiceServicer_to_server,
)

from runtime.errors import NotFound
from runtime.grpc_client import ServiceClient
from runtime.grpc_server import GrpcServer, with_error_mapping
from runtime.multiplex import MultiplexServicer, recording_server

SERVICE = pb.DESCRIPTOR.services_by_name["CacheService"]
if TYPE_CHECKING:
    from hookline.cache.v1.cache_service_pb2_grpc import CacheServiceAsyncStub

    Client = ServiceClient[CacheServiceAsyncStub]


class Scripted(pb_grpc.CacheServiceServicer):
    """A CacheService whose behaviour each test chooses by execution id."""

    def __init__(self, name: str = "server") -> None:
        self.name = name
        self.served: list[str] = []
        self.cancelled: list[str] = []
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def StoreResult(
        self, request: pb.StoreResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResultResponse:
        key = request.execution_id
        self.served.append(key)
        if key == "missing":
            raise NotFound("execution missing not found")
        if key == "abort":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "aborted on purpose")
        if key == "crash":
            raise RuntimeError("boom")
        if key.startswith("hold"):
            self.entered.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append(key)
                raise
        return pb.StoreResultResponse(stored_bytes=len(request.record_json), compressed=False)

    async def StoreResponse(
        self, request: pb.StoreResponseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResponseResponse:
        return pb.StoreResponseResponse()

    async def GetResult(
        self, request: pb.GetResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetResultResponse:
        size = request.execution_id.removeprefix("size-")
        if size.isdigit():
            return pb.GetResultResponse(record_json=b"x" * int(size))
        raise NotFound(f"execution {request.execution_id} not found")

    async def WatchResult(
        self, request: pb.WatchResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchResultResponse]:
        self.served.append(request.execution_id)
        yield pb.WatchResultResponse(event=pb.WATCH_EVENT_SUBSCRIBED)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(request.execution_id)
            raise
        yield pb.WatchResultResponse(event=pb.WATCH_EVENT_RESULT, record_json=b'{"ok":true}')


def _server(servicer: Scripted, grace: float = 5.0) -> GrpcServer:
    return GrpcServer(
        name=servicer.name,
        listen="127.0.0.1:0",
        register=lambda server: pb_grpc.add_CacheServiceServicer_to_server(servicer, server),
        service_names=[SERVICE.full_name],
        grace_seconds=grace,
        max_message_bytes=4 * 1024 * 1024,
    )


@pytest.fixture
async def served() -> AsyncIterator[tuple[Scripted, GrpcServer]]:
    servicer = Scripted()
    async with _server(servicer) as server:
        yield servicer, server


async def _client(address: str, **kwargs: Any) -> Client:
    return ServiceClient(
        address,
        pb_grpc.CacheServiceStub,
        service=SERVICE,
        max_message_bytes=4 * 1024 * 1024,
        **kwargs,
    )


def _store(key: str, body: bytes = b"{}") -> pb.StoreResultRequest:
    return pb.StoreResultRequest(execution_id=key, record_json=body, ttl_seconds=60)


async def _stored(client: Client, key: str, timeout: float) -> pb.StoreResultResponse:
    reply: pb.StoreResultResponse = await client.stub.StoreResult(_store(key), timeout=timeout)
    return reply


async def test_concurrent_calls_share_one_stream_in_few_messages(
    served: tuple[Scripted, GrpcServer],
) -> None:
    servicer, server = served
    client = await _client(server.address)
    try:
        replies = await asyncio.gather(
            *(client.stub.StoreResult(_store(f"k{i}", b"x" * i), timeout=5) for i in range(200))
        )
        assert [r.stored_bytes for r in replies] == list(range(200))
        assert sorted(servicer.served) == sorted(f"k{i}" for i in range(200))
        assert client.sessions is not None
        messages, frames = client.sessions.batching()
        assert frames == 200
        assert messages < 20, (messages, frames)  # batched, not one message per call
    finally:
        await client.close()


async def test_errors_keep_their_grpc_status(served: tuple[Scripted, GrpcServer]) -> None:
    _, server = served
    client = await _client(server.address)
    try:
        cases = {
            "missing": (grpc.StatusCode.NOT_FOUND, "execution missing not found"),
            "abort": (grpc.StatusCode.FAILED_PRECONDITION, "aborted on purpose"),
        }
        for key, (code, details) in cases.items():
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await client.stub.StoreResult(_store(key), timeout=5)
            assert (caught.value.code(), caught.value.details()) == (code, details)
        with pytest.raises(grpc.aio.AioRpcError) as crashed:
            await client.stub.StoreResult(_store("crash"), timeout=5)
        assert crashed.value.code() is grpc.StatusCode.UNKNOWN
        # The session outlives failed calls.
        ok = await client.stub.StoreResult(_store("fine", b"abc"), timeout=5)
        assert ok.stored_bytes == 3
    finally:
        await client.close()


async def test_a_deadline_ends_the_call_on_both_sides(served: tuple[Scripted, GrpcServer]) -> None:
    servicer, server = served
    client = await _client(server.address)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.stub.StoreResult(_store("hold-deadline"), timeout=0.3)
        assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        async with asyncio.timeout(5):
            while "hold-deadline" not in servicer.cancelled:
                await asyncio.sleep(0.01)
    finally:
        await client.close()


async def test_a_caller_that_stops_waiting_cancels_the_handler(
    served: tuple[Scripted, GrpcServer],
) -> None:
    servicer, server = served
    client = await _client(server.address)
    try:
        task = asyncio.create_task(_stored(client, "hold-cancel", 30))
        await asyncio.wait_for(servicer.entered.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(5):
            while "hold-cancel" not in servicer.cancelled:
                await asyncio.sleep(0.01)
    finally:
        await client.close()


async def test_server_streaming_and_its_cancel(served: tuple[Scripted, GrpcServer]) -> None:
    servicer, server = served
    client = await _client(server.address)
    try:
        call = client.stub.WatchResult(pb.WatchResultRequest(execution_id="w1"), timeout=5)
        events = []
        async for event in call:
            events.append(event.event)
            if event.event == pb.WATCH_EVENT_SUBSCRIBED:
                servicer.release.set()
        assert events == [pb.WATCH_EVENT_SUBSCRIBED, pb.WATCH_EVENT_RESULT]

        servicer.release.clear()
        call = client.stub.WatchResult(pb.WatchResultRequest(execution_id="w2"), timeout=5)
        async for event in call:
            assert event.event == pb.WATCH_EVENT_SUBSCRIBED
            break
        assert call.cancel()
        async with asyncio.timeout(5):
            while "w2" not in servicer.cancelled:
                await asyncio.sleep(0.01)
    finally:
        await client.close()


async def test_a_message_over_the_limit_fails_alone(served: tuple[Scripted, GrpcServer]) -> None:
    _, server = served
    client = await _client(server.address)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.stub.StoreResult(_store("big", b"x" * (5 * 1024 * 1024)), timeout=5)
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        ok = await client.stub.StoreResult(_store("small", b"x" * 1024 * 1024), timeout=5)
        assert ok.stored_bytes == 1024 * 1024
    finally:
        await client.close()


async def test_a_server_without_the_multiplexer_is_called_plainly() -> None:
    servicer = Scripted()
    server = grpc.aio.server()
    pb_grpc.add_CacheServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = await _client(f"127.0.0.1:{port}")
    try:
        reply = await client.stub.StoreResult(_store("plain", b"abcd"), timeout=5)
        assert reply.stored_bytes == 4
        call = client.stub.WatchResult(pb.WatchResultRequest(execution_id="pw"), timeout=5)
        async for event in call:
            assert event.event == pb.WATCH_EVENT_SUBSCRIBED
            break
        call.cancel()
        assert servicer.served == ["plain", "pw"]
    finally:
        await client.close()
        await server.stop(None)


async def test_no_server_is_unavailable_quickly() -> None:
    with socket_port() as port:
        client = await _client(f"127.0.0.1:{port}")
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.stub.StoreResult(_store("nobody"), timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        assert loop.time() - started < 5
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def _shutting_down(server: GrpcServer) -> AsyncIterator[asyncio.Task[None]]:
    """Begin ``server``'s shutdown; enter once it has begun (health NOT_SERVING, seen on
    a Watch opened before, since a stopping server takes no new connections)."""
    async with grpc.aio.insecure_channel(server.address) as channel:
        call = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
        first = await call.read()
        assert isinstance(first, health_pb2.HealthCheckResponse)
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        shutdown = asyncio.create_task(server.shutdown())
        while True:
            reply = await call.read()
            assert isinstance(reply, health_pb2.HealthCheckResponse), reply
            if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
        yield shutdown


@contextlib.contextmanager
def socket_port() -> Iterator[int]:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_calls_spread_over_servers_and_leave_one_that_stops() -> None:
    first, second = Scripted("first"), Scripted("second")
    async with _server(first) as a, _server(second, grace=30) as b:
        client = await _client(f"{a.address},{b.address}")
        try:
            await asyncio.gather(
                *(client.stub.StoreResult(_store(f"s{i}"), timeout=5) for i in range(20))
            )
            assert len(first.served) == len(second.served) == 10

            # A call in flight on the server that shuts down still finishes there; new
            # calls go to the other server; the shutdown does not wait out its grace.
            held = asyncio.create_task(_stored(client, "hold-1", 10))
            held_elsewhere = asyncio.create_task(_stored(client, "hold-2", 10))
            await asyncio.wait_for(second.entered.wait(), 5)
            async with _shutting_down(b) as shutdown:
                first.served.clear()
                second.served.clear()
                await asyncio.gather(
                    *(client.stub.StoreResult(_store(f"t{i}"), timeout=5) for i in range(10))
                )
                assert len(first.served) == 10 and second.served == []
                first.release.set()
                second.release.set()
                assert (await held).stored_bytes == 2
                assert (await held_elsewhere).stored_bytes == 2
                async with asyncio.timeout(10):
                    await shutdown
        finally:
            await client.close()


async def test_plain_calls_when_multiplexing_is_off(served: tuple[Scripted, GrpcServer]) -> None:
    servicer, server = served
    client = await _client(server.address, multiplex=False)
    try:
        assert client.sessions is None
        reply = await client.stub.StoreResult(_store("off", b"ab"), timeout=5)
        assert reply.stored_bytes == 2 and servicer.served == ["off"]
    finally:
        await client.close()


async def test_a_reply_over_the_limit_fails_alone(served: tuple[Scripted, GrpcServer]) -> None:
    _, server = served
    client = await _client(server.address)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.stub.GetResult(
                pb.GetResultRequest(execution_id=f"size-{5 * 1024 * 1024}"), timeout=5
            )
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        reply = await client.stub.GetResult(pb.GetResultRequest(execution_id="size-10"), timeout=5)
        assert reply.record_json == b"x" * 10
    finally:
        await client.close()


async def test_a_restarted_server_is_called_again() -> None:
    servicer = Scripted()
    async with _server(servicer) as first:
        address = first.address
        client = await _client(address)
        assert (await _stored(client, "before", 5)).stored_bytes == 2
    try:
        # Down: the call fails as UNAVAILABLE rather than hanging.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _stored(client, "while-down", 5)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        again = GrpcServer(
            name="again",
            listen=address,
            register=lambda server: pb_grpc.add_CacheServiceServicer_to_server(servicer, server),
            service_names=[SERVICE.full_name],
        )
        async with again:
            # The channel reconnects after its back-off (200 ms at first): until then
            # calls fail fast as UNAVAILABLE, as plain gRPC calls would.
            async with asyncio.timeout(10):
                while True:
                    try:
                        assert (await _stored(client, "after", 5)).stored_bytes == 2
                        break
                    except grpc.aio.AioRpcError as exc:
                        assert exc.code() is grpc.StatusCode.UNAVAILABLE
                        await asyncio.sleep(0.05)
        assert servicer.served == ["before", "after"]
    finally:
        await client.close()


async def test_a_server_that_dies_fails_its_calls_in_flight_as_unavailable(
    served: tuple[Scripted, GrpcServer],
) -> None:
    servicer, _ = served
    plain = grpc.aio.server()
    handlers: list[grpc.GenericRpcHandler] = []
    pb_grpc.add_CacheServiceServicer_to_server(servicer, recording_server(plain, handlers))
    add_MultiplexServiceServicer_to_server(MultiplexServicer(handlers, with_error_mapping), plain)
    port = plain.add_insecure_port("127.0.0.1:0")
    await plain.start()
    client = await _client(f"127.0.0.1:{port}")
    try:
        held = asyncio.create_task(_stored(client, "hold-dies", 10))
        await asyncio.wait_for(servicer.entered.wait(), 5)
        await plain.stop(None)  # no grace, no GOAWAY: as if the process died
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await held
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        await client.close()


async def test_a_method_the_server_lacks_is_unimplemented(
    served: tuple[Scripted, GrpcServer],
) -> None:
    _, server = served
    other: ServiceClient[Any] = ServiceClient(
        server.address,
        exec_grpc.ExecutionServiceStub,
        service=exec_pb.DESCRIPTOR.services_by_name["ExecutionService"],
    )
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await other.stub.GetExecution(exec_pb.GetExecutionRequest(execution_id="x"), timeout=5)
        assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
        assert other.sessions is not None and other.sessions.batching()[1] == 1  # multiplexed
    finally:
        await other.close()
