"""The gRPC ports' guard (hookline_runtime.transport.security): a shared token checked by one server
interceptor, TLS and mutual TLS, between a real ``GrpcServer`` and real clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, cast

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hookline.cache.v1 import cache_service_pb2 as pb
from hookline.cache.v1 import cache_service_pb2_grpc as pb_grpc

from hookline_runtime.settings import Settings
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.item_streams import serve_items
from hookline_runtime.transport.security import GrpcSecurity, GrpcSecurityError
from hookline_runtime.transport.server import GrpcServer
from tests.runtime.certificates import TlsFiles, make_tls_files

if TYPE_CHECKING:
    from hookline.cache.v1.cache_service_pb2_grpc import CacheServiceAsyncStub

    Client = ServiceClient[CacheServiceAsyncStub]

pytestmark = pytest.mark.timeout(30)

SERVICE = pb.DESCRIPTOR.services_by_name["CacheService"]
TOKEN = "s3cret-token-for-tests"


class Recording(pb_grpc.CacheServiceServicer):
    """A CacheService that remembers what it was asked to store."""

    def __init__(self) -> None:
        self.stored: list[str] = []

    async def StoreResult(
        self, request: pb.StoreResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResultResponse:
        self.stored.append(request.execution_id)
        return pb.StoreResultResponse(stored_bytes=len(request.record_json), compressed=False)

    async def StoreResults(
        self, request_iterator: AsyncIterator[pb.StoreResultsRequest], context: Any
    ) -> AsyncIterator[pb.StoreResultsResponse]:
        async def one(item: pb.StoreResultsItem) -> pb.StoreResultsReply:
            stored = await self.StoreResult(item.record, context)
            return pb.StoreResultsReply(execution_id=item.record.execution_id, stored=stored)

        def failed(item: pb.StoreResultsItem, error: Any) -> pb.StoreResultsReply:
            return pb.StoreResultsReply(execution_id=item.record.execution_id, error=error)

        def batch(replies: list[pb.StoreResultsReply]) -> pb.StoreResultsResponse:
            return pb.StoreResultsResponse(replies=replies)

        async for answer in serve_items(
            request_iterator, lambda message: message.items, one, failed, batch
        ):
            yield answer

    async def StoreResponse(
        self, request: pb.StoreResponseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResponseResponse:
        return pb.StoreResponseResponse()

    async def GetResult(
        self, request: pb.GetResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetResultResponse:
        return pb.GetResultResponse()

    async def WatchResult(
        self, request: pb.WatchResultRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchResultResponse]:
        yield pb.WatchResultResponse(event=pb.WATCH_EVENT_SUBSCRIBED)
        yield pb.WatchResultResponse(event=pb.WATCH_EVENT_RESULT, record_json=b'{"ok":true}')

    async def WatchResults(
        self, request_iterator: AsyncIterator[pb.WatchResultsRequest], context: Any
    ) -> AsyncIterator[pb.WatchResultsResponse]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of this test")
        yield pb.WatchResultsResponse()  # makes this a stream handler


def security(**settings: Any) -> GrpcSecurity:
    """``GrpcSecurity`` as a process builds it from its settings."""
    return GrpcSecurity.from_settings(Settings(**settings))


def tls(files: TlsFiles, *, mutual: bool) -> dict[str, str]:
    """Settings naming ``files``: TLS, and mutual TLS when ``mutual``."""
    values = {"grpc_tls_cert": str(files.cert), "grpc_tls_key": str(files.key)}
    if mutual:
        values["grpc_tls_ca"] = str(files.ca)
    return values


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


class GuardedServer:
    """A ``GrpcServer`` with a ``Recording`` servicer, started on a free port."""

    def __init__(self, guard: GrpcSecurity) -> None:
        self.servicer = Recording()
        self.server = GrpcServer(
            name="cache",
            listen="127.0.0.1:0",
            register=lambda server: pb_grpc.add_CacheServiceServicer_to_server(
                self.servicer, server
            ),
            service_names=[SERVICE.full_name],
            grace_seconds=0.5,
            max_message_bytes=4 * 1024 * 1024,
            security=guard,
        )

    async def __aenter__(self) -> Self:
        await self.server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.shutdown()


@pytest.fixture
async def token_server() -> AsyncIterator[GuardedServer]:
    async with GuardedServer(security(grpc_token=TOKEN)) as running:
        yield running


def client(address: str, guard: GrpcSecurity | None = None) -> Client:
    return ServiceClient(
        address, pb_grpc.CacheServiceStub, max_message_bytes=4 * 1024 * 1024, security=guard
    )


def store(key: str) -> pb.StoreResultRequest:
    return pb.StoreResultRequest(execution_id=key, record_json=b'{"forged":true}', ttl_seconds=60)


CALLS = pytest.mark.parametrize("how", ["unary", "stream"])
"""Each guarded call is made as a unary call and as an item on a long-lived stream."""


async def stored(trusted: Client, key: str, how: str) -> pb.StoreResultResponse:
    """``StoreResult`` for ``key``, unary or as one item of the StoreResults stream."""
    if how == "unary":
        reply: pb.StoreResultResponse = await trusted.stub.StoreResult(store(key), timeout=5)
        return reply
    call = trusted.stub.StoreResults(timeout=5)
    try:
        await call.write(pb.StoreResultsRequest(items=[pb.StoreResultsItem(record=store(key))]))
        message = cast(pb.StoreResultsResponse, await call.read())
    finally:
        call.cancel()
    [answer] = message.replies
    assert answer.execution_id == key
    return answer.stored


async def code_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    code: grpc.StatusCode = caught.value.code()
    return code


# ----------------------------------------------------------------------------- token


@CALLS
async def test_a_forged_store_result_without_the_token_is_refused(
    token_server: GuardedServer, how: str
) -> None:
    anonymous = client(token_server.server.address)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stored(anonymous, "forged", how)
    finally:
        await anonymous.close()
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "HOOKLINE_GRPC_TOKEN" in (caught.value.details() or "")
    assert token_server.servicer.stored == []


@CALLS
async def test_a_wrong_token_is_refused(token_server: GuardedServer, how: str) -> None:
    wrong = client(token_server.server.address, security(grpc_token="not-the-token"))
    try:
        assert await code_of(stored(wrong, "wrong", how)) is grpc.StatusCode.UNAUTHENTICATED
    finally:
        await wrong.close()
    assert token_server.servicer.stored == []


@CALLS
async def test_the_right_token_passes_unary_and_streaming_calls(
    token_server: GuardedServer, how: str
) -> None:
    trusted = client(token_server.server.address, security(grpc_token=TOKEN))
    try:
        reply = await stored(trusted, "trusted", how)
        events = [
            event.event
            async for event in trusted.stub.WatchResult(
                pb.WatchResultRequest(execution_id="trusted"), timeout=5
            )
        ]
    finally:
        await trusted.close()
    assert reply.stored_bytes > 0
    assert events == [pb.WATCH_EVENT_SUBSCRIBED, pb.WATCH_EVENT_RESULT]
    assert token_server.servicer.stored == ["trusted"]


async def test_an_item_stream_itself_needs_the_token(token_server: GuardedServer) -> None:
    """Refused when it opens, before any item is sent."""
    async with grpc.aio.insecure_channel(token_server.server.address) as channel:
        call: Any = channel.stream_stream("/hookline.cache.v1.CacheService/StoreResults")()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_reflection_needs_the_token(token_server: GuardedServer) -> None:
    request = reflection_pb2.ServerReflectionRequest(list_services="")

    async def services(channel: grpc.aio.Channel) -> list[str]:
        stub: Any = reflection_pb2_grpc.ServerReflectionStub(cast(Any, channel))
        names: list[str] = []
        async for response in stub.ServerReflectionInfo(iter([request]), timeout=5):
            names.extend(s.name for s in response.list_services_response.service)
        return names

    async with grpc.aio.insecure_channel(token_server.server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await services(channel)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED

    async with security(grpc_token=TOKEN).open_channel(token_server.server.address) as channel:
        assert SERVICE.full_name in await services(channel)


async def test_health_checks_need_no_token(token_server: GuardedServer) -> None:
    async with grpc.aio.insecure_channel(token_server.server.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_blocking_channel_carries_the_token(token_server: GuardedServer) -> None:
    def call(guard: GrpcSecurity) -> grpc.StatusCode:
        with guard.open_sync_channel(token_server.server.address) as channel:
            stub = pb_grpc.CacheServiceStub(channel)
            try:
                stub.StoreResult(store("sync"), timeout=5)
            except grpc.RpcError as exc:
                code: grpc.StatusCode = exc.code()
                return code
            return grpc.StatusCode.OK

    assert await asyncio.to_thread(call, security(grpc_token=TOKEN)) is grpc.StatusCode.OK
    assert await asyncio.to_thread(call, security()) is grpc.StatusCode.UNAUTHENTICATED


# ----------------------------------------------------------------------------- TLS


@CALLS
async def test_tls_server_and_tls_client_talk(tls_files: TlsFiles, how: str) -> None:
    async with GuardedServer(security(**tls(tls_files, mutual=False))) as running:
        # Without mutual TLS a client only needs the CA to verify the server.
        verifying = client(running.server.address, security(grpc_tls_ca=str(tls_files.ca)))
        try:
            reply = await stored(verifying, "tls", how)
        finally:
            await verifying.close()
    assert reply.stored_bytes > 0


async def test_mutual_tls_with_the_token_accepts_a_configured_client(
    tls_files: TlsFiles,
) -> None:
    settings = {**tls(tls_files, mutual=True), "grpc_token": TOKEN}
    async with GuardedServer(security(**settings)) as running:
        peer = client(running.server.address, security(**settings))
        try:
            await peer.stub.StoreResult(store("mtls"), timeout=5)
        finally:
            await peer.close()
        # TLS does not replace the token: both are checked.
        no_token = client(running.server.address, security(**tls(tls_files, mutual=True)))
        try:
            assert (
                await code_of(no_token.stub.StoreResult(store("no-token"), timeout=5))
                is grpc.StatusCode.UNAUTHENTICATED
            )
        finally:
            await no_token.close()
        assert running.servicer.stored == ["mtls"]


async def test_mutual_tls_refuses_a_client_without_a_certificate(tls_files: TlsFiles) -> None:
    async with GuardedServer(security(**tls(tls_files, mutual=True))) as running:
        anonymous = client(running.server.address, security(grpc_tls_ca=str(tls_files.ca)))
        try:
            assert await code_of(anonymous.stub.StoreResult(store("no-cert"), timeout=3)) in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.UNAUTHENTICATED,
            )
        finally:
            await anonymous.close()
        assert running.servicer.stored == []


async def test_mutual_tls_refuses_a_certificate_from_another_ca(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    stranger = make_tls_files(tmp_path, "stranger")
    async with GuardedServer(security(**tls(tls_files, mutual=True))) as running:
        # Trusts the right CA for the server, but presents a certificate of its own CA.
        other = client(
            running.server.address,
            security(
                grpc_tls_cert=str(stranger.cert),
                grpc_tls_key=str(stranger.key),
                grpc_tls_ca=str(tls_files.ca),
            ),
        )
        try:
            assert await code_of(other.stub.StoreResult(store("stranger"), timeout=3)) in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.UNAUTHENTICATED,
            )
        finally:
            await other.close()
        assert running.servicer.stored == []


async def test_a_plaintext_client_cannot_reach_a_tls_server(tls_files: TlsFiles) -> None:
    async with GuardedServer(security(**tls(tls_files, mutual=False))) as running:
        plaintext = client(running.server.address)
        try:
            assert (
                await code_of(plaintext.stub.StoreResult(store("plain"), timeout=3))
                is grpc.StatusCode.UNAVAILABLE
            )
        finally:
            await plaintext.close()
        assert running.servicer.stored == []


async def test_a_client_does_not_trust_a_server_outside_its_ca(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    stranger = make_tls_files(tmp_path, "stranger")
    async with GuardedServer(security(**tls(stranger, mutual=False))) as running:
        careful = client(running.server.address, security(grpc_tls_ca=str(tls_files.ca)))
        try:
            assert (
                await code_of(careful.stub.StoreResult(store("mitm"), timeout=3))
                is grpc.StatusCode.UNAVAILABLE
            )
        finally:
            await careful.close()
        assert running.servicer.stored == []


# ----------------------------------------------------------------------------- settings


def test_no_settings_mean_plaintext_and_no_token() -> None:
    guard = security()
    assert guard.server_credentials() is None
    assert guard.channel_credentials() is None
    assert guard.server_interceptors() == []
    assert guard.client_interceptors() == []
    assert len(security(grpc_token=TOKEN).client_interceptors()) == 4  # one per kind of call


def test_a_certificate_without_a_key_is_a_start_up_error(tls_files: TlsFiles) -> None:
    with pytest.raises(GrpcSecurityError, match="HOOKLINE_GRPC_TLS_KEY"):
        security(grpc_tls_cert=str(tls_files.cert))


def test_an_unreadable_file_is_a_start_up_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(GrpcSecurityError, match=r"HOOKLINE_GRPC_TLS_CA: cannot read .*missing"):
        security(grpc_tls_ca=str(missing))


def test_an_empty_token_is_a_start_up_error() -> None:
    with pytest.raises(GrpcSecurityError, match="HOOKLINE_GRPC_TOKEN"):
        security(grpc_token=" ")


async def test_a_server_with_a_ca_but_no_certificate_does_not_start(tls_files: TlsFiles) -> None:
    with pytest.raises(GrpcSecurityError, match="needs its own certificate"):
        async with GuardedServer(security(grpc_tls_ca=str(tls_files.ca))):
            pass


def test_the_token_and_key_never_show_in_repr(tls_files: TlsFiles) -> None:
    text = repr(security(grpc_token=TOKEN, **tls(tls_files, mutual=True)))
    assert TOKEN not in text
    assert "PRIVATE KEY" not in text
    assert "mutual=True" in text
