"""The edge's HTTP server limits (``hookline_edge.http_limits`` and uvicorn's settings): too many
or too large headers are refused with 431, a client too slow with its headers or body
is cut off, connections over the cap get a fast 503, and a client that disconnects is
logged quietly, never as an error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from hookline_edge.server import EdgeServer
from tests.edge.edge_fakes import FakeUpstreams

pytestmark = pytest.mark.asyncio(loop_scope="module")

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@contextlib.asynccontextmanager
async def edge(fakes: FakeUpstreams, **overrides: Any) -> AsyncIterator[EdgeServer]:
    async with EdgeServer(fakes.edge_settings(**overrides)) as server:
        yield server


@contextlib.asynccontextmanager
async def connection(server: EdgeServer) -> AsyncIterator[Stream]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def status_of(reader: asyncio.StreamReader) -> int:
    """The status of the answer, reading until the server closes (bounded)."""
    async with asyncio.timeout(10):
        head = await reader.readline()
        with contextlib.suppress(ConnectionError):
            await reader.read()  # until EOF: the server closes after a refusal
    return int(head.split()[1])


async def send_request(server: EdgeServer, raw: bytes) -> int:
    async with connection(server) as (reader, writer):
        writer.write(raw)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await status_of(reader)


async def test_ten_thousand_headers_are_refused_with_431(fakes: FakeUpstreams) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
    async with edge(fakes) as server:
        status = await send_request(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers)
    assert status == 431


async def test_more_headers_than_the_setting_are_431_and_fewer_pass(fakes: FakeUpstreams) -> None:
    async with edge(fakes, edge_max_headers=20) as server:
        few = b"".join(b"X-H%d: v\r\n" % i for i in range(18))
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(21))
        ok = await send_request(
            server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + few + b"\r\n"
        )
        refused = await send_request(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many)
    assert (ok, refused) == (200, 431)


async def test_a_one_mebibyte_header_is_refused_with_431(fakes: FakeUpstreams) -> None:
    async with edge(fakes) as server:
        huge = b"X-Huge: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
        status = await send_request(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + huge)
    assert status == 431


async def test_headers_just_under_the_size_limit_pass(fakes: FakeUpstreams) -> None:
    async with edge(fakes) as server:
        big = b"X-Big: " + b"a" * 60_000 + b"\r\n"
        status = await send_request(
            server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + big + b"\r\n"
        )
    assert status == 200


async def test_a_slowloris_client_is_cut_off_after_the_read_timeout(
    fakes: FakeUpstreams,
) -> None:
    async with (
        edge(fakes, edge_read_timeout_seconds=0.5) as server,
        connection(server) as (reader, writer),
    ):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def trickle() -> None:  # one header byte every 50 ms, forever
            with contextlib.suppress(ConnectionError):
                while True:
                    writer.write(b"a")
                    await writer.drain()
                    await asyncio.sleep(0.05)

        sender = asyncio.create_task(trickle())
        try:
            status = await status_of(reader)
        finally:
            sender.cancel()
        elapsed = loop.time() - started
    assert status == 408
    assert 0.4 <= elapsed < 3


async def test_a_silent_connection_is_closed_after_the_read_timeout(
    fakes: FakeUpstreams,
) -> None:
    async with (
        edge(fakes, edge_read_timeout_seconds=0.3) as server,
        connection(server) as (reader, _),
    ):
        assert await status_of(reader) == 408


async def test_a_stalled_body_is_cut_off(fakes: FakeUpstreams) -> None:
    async with (
        edge(fakes, edge_read_timeout_seconds=0.3) as server,
        connection(server) as (reader, writer),
    ):
        writer.write(
            b"POST /api/v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            b'\r\nContent-Length: 100\r\n\r\n{"name": '
        )
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed without an answer


async def test_keep_alive_requests_are_not_cut_off_between_requests(
    fakes: FakeUpstreams,
) -> None:
    async with (
        edge(fakes, edge_read_timeout_seconds=0.3) as server,
        connection(server) as (reader, writer),
    ):
        for pause in (0.0, 0.5, 0.5):  # idle longer than the read timeout, within keep-alive
            await asyncio.sleep(pause)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            assert head.startswith(b"HTTP/1.1 200")


async def test_connections_over_the_cap_get_a_fast_503(fakes: FakeUpstreams) -> None:
    async with edge(fakes, edge_max_connections=2) as server, connection(server) as (_, idle):
        idle.write(b"GET /healthz HTTP/1.1\r\n")  # holds a connection
        status = await send_request(
            server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    assert status == 503


class _Waiter(logging.Handler):
    """Collects records and signals when one with ``event`` arrives."""

    def __init__(self, event: str) -> None:
        super().__init__(level=logging.DEBUG)
        self.event = event
        self.records: list[logging.LogRecord] = []
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        message = record.msg.get("event") if isinstance(record.msg, dict) else record.msg
        if message == self.event or record.levelno >= logging.ERROR:
            self.seen.set()


@pytest.fixture
def disconnects() -> Iterator[_Waiter]:
    waiter = _Waiter("Client disconnected before the answer")
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(waiter)
    try:
        yield waiter
    finally:
        root.removeHandler(waiter)
        root.setLevel(previous)


@pytest.mark.parametrize("path", ["/api/v1/workflows", "/api/v1/workflows/wf-1/run"])
async def test_a_client_that_disconnects_mid_body_is_logged_quietly(
    fakes: FakeUpstreams, disconnects: _Waiter, path: str
) -> None:
    async with edge(fakes) as server, connection(server) as (_, writer):
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"name": ' % path.encode()
        )
        await writer.drain()
    await asyncio.wait_for(disconnects.seen.wait(), 5)
    errors = [r for r in disconnects.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert fakes.trigger.received == []
