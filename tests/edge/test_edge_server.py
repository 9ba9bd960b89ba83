"""``EdgeServer``: uvicorn in the current loop, port 0, graceful exit, and a caller that
hangs up while waiting."""

from __future__ import annotations

import asyncio
import logging
import socket

import httpx
import pytest
from hookline.trigger.v1 import trigger_service_pb2 as trig_pb

from hookline_edge.server import EdgeServer
from tests.edge.edge_fakes import FakeUpstreams, result_event

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_it_listens_on_a_free_port_and_stops_on_exit(
    fakes: FakeUpstreams,
) -> None:
    async with EdgeServer(fakes.edge_settings()) as edge:
        assert edge.port > 0
        assert edge.url == f"http://127.0.0.1:{edge.port}"
        async with httpx.AsyncClient() as http:
            resp = await http.get(f"{edge.url}/healthz")
        assert resp.status_code == 200
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"{edge.url}/healthz")


async def test_a_taken_port_fails_the_start(fakes: FakeUpstreams) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="cannot start"):
            async with EdgeServer(fakes.edge_settings(edge_addr=f"127.0.0.1:{port}")):
                pass


def _waiting_webhook(fakes: FakeUpstreams) -> None:
    fakes.trigger.webhook_reply = trig_pb.HandleWebhookResponse(
        response_mode=trig_pb.RESPONSE_MODE_LAST_NODE, response_timeout_seconds=30
    )
    fakes.cache.hang = True


async def test_a_caller_that_hangs_up_cancels_the_watch_quietly(
    fakes: FakeUpstreams,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _waiting_webhook(fakes)
    async with (
        EdgeServer(fakes.edge_settings()) as edge,
        httpx.AsyncClient(base_url=edge.url) as http,
    ):
        request = asyncio.create_task(http.post("/webhook/greet"))
        await asyncio.wait_for(fakes.cache.watching.wait(), 5)
        request.cancel()  # closes the connection: the client hangs up
        with pytest.raises(asyncio.CancelledError):
            await request
        await asyncio.wait_for(fakes.cache.watch_cancelled.wait(), 5)
        after = await http.get("/healthz")
    assert after.status_code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert "Caller disconnected" in caplog.text


async def test_exit_lets_a_waiting_request_finish(fakes: FakeUpstreams) -> None:
    _waiting_webhook(fakes)
    fakes.cache.events = [
        result_event(
            {
                "status": "success",
                "nodes": {},
                "response": {"statusCode": 201, "body": {"done": True}},
            }
        )
    ]
    edge = EdgeServer(fakes.edge_settings(shutdown_grace_seconds=5))
    await edge.__aenter__()
    async with httpx.AsyncClient(base_url=edge.url, timeout=10) as http:
        request = asyncio.create_task(http.post("/webhook/greet"))
        await asyncio.wait_for(fakes.cache.watching.wait(), 5)
        stopping = asyncio.create_task(edge.__aexit__(None, None, None))
        fakes.cache.release.set()
        resp = await asyncio.wait_for(request, 10)
        await asyncio.wait_for(stopping, 10)
    assert resp.status_code == 201
    assert resp.json() == {"done": True}
