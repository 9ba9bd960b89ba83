"""What HandleWebhook answers when the execution service cannot take the run."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import grpc
import pytest

from hookline_trigger import TriggerOptions, TriggerServer

from .builders import call, webhook_workflow
from .conftest import FakeExecution, StartTrigger, TriggerStub, create


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_execution_service_is_unavailable(
    start_trigger: StartTrigger, connect: Callable[[TriggerServer], TriggerStub]
) -> None:
    stub = connect(await start_trigger(execution_addr=f"127.0.0.1:{_closed_port()}"))
    stored = await create(stub, webhook_workflow())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.HandleWebhook(call(stored["nodes"][0]["parameters"]["path"]), timeout=20)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_refusing_execution_service_is_an_error_not_a_start(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    fake_execution: FakeExecution,
) -> None:
    trigger = connect(await start_trigger())
    fake_execution.service.fail_with = grpc.StatusCode.RESOURCE_EXHAUSTED
    stored = await create(trigger, webhook_workflow())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await trigger.HandleWebhook(call(stored["nodes"][0]["parameters"]["path"]))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert fake_execution.service.runs == []


async def test_a_start_not_confirmed_in_time_is_never_reported_as_503(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    fake_execution: FakeExecution,
) -> None:
    """503 promises that nothing will run. A hand-off that passed its deadline may
    have started the run, so it is DEADLINE_EXCEEDED (504 at the edge) instead."""
    trigger = connect(await start_trigger(options=TriggerOptions(start_timeout_seconds=0.3)))
    fake_execution.service.hold = asyncio.Event()
    stored = await create(trigger, webhook_workflow())
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await trigger.HandleWebhook(call(stored["nodes"][0]["parameters"]["path"]))
    finally:
        fake_execution.service.hold.set()
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # ...and indeed the run went ahead: a 503 would have been a lie.
    await fake_execution.service.wait_until(lambda runs: len(runs) == 1)
