"""The in-process adapters of the services' ports (``hookline_launcher.local_wiring``)
answer as the gRPC adapters of the same ports do, against the same running server:
the same values, the same "not there" (None), the same errors and messages.

Each test starts the one service the adapters call (on 127.0.0.1:0, no Redis) and
calls it both ways: through its gRPC port with the execution or cache service's own
client, and directly through the domain object the in-process adapter is given.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from hookline.cache.v1 import cache_service_pb2_grpc

from hookline_cache.clients.saved_records import ExecutionServiceRecords
from hookline_cache.server import CacheServer
from hookline_cache.storage.base import Kind
from hookline_execution.clients.child_runs import CacheResultWatcher, TriggerWorkflowLookup
from hookline_execution.clients.trigger_credentials import TriggerCredentialSource, trigger_client
from hookline_execution.domain.credentials import (
    Credential,
    CredentialSource,
    CredentialUnavailable,
)
from hookline_execution.domain.service import ExecutionService
from hookline_execution.domain.subworkflows import ResultWatcher, WorkflowLookup
from hookline_execution.server import ExecutionServer
from hookline_execution.storage import SqlExecutionStore
from hookline_launcher.local_wiring import (
    Later,
    LocalCredentialSource,
    LocalResultWatcher,
    LocalSavedRecords,
    LocalWorkflowLookup,
)
from hookline_launcher.local_wiring.calls import deadline
from hookline_runtime.clock import utcnow
from hookline_runtime.database import create_engine
from hookline_runtime.errors import DeadlineExceeded, Unavailable
from hookline_runtime.ids import new_id
from hookline_runtime.settings import Settings
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.status import grpc_code_for, http_status_for
from hookline_trigger.server import TriggerServer

pytestmark = pytest.mark.timeout(30)

KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


def ready(value: Any) -> Later[Any]:
    later: Later[Any] = Later()
    later.set(value)
    return later


@asynccontextmanager
async def trigger_ports(
    settings: Settings,
) -> AsyncIterator[tuple[TriggerServer, dict[str, tuple[WorkflowLookup, CredentialSource]]]]:
    """A trigger server, and its two ports as the execution service has them: over
    gRPC and in-process."""
    async with TriggerServer(settings) as server:
        client = trigger_client(settings.model_copy(update={"trigger_addr": server.address}))
        try:
            yield server, {
                "grpc": (TriggerWorkflowLookup(client), TriggerCredentialSource(client)),
                "in-process": (
                    LocalWorkflowLookup(ready(server.workflows)),
                    LocalCredentialSource(ready(server.credentials)),
                ),
            }
        finally:
            await client.close()


async def test_workflow_lookups_find_and_miss_alike(
    make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    name = unique("child")
    document = {
        "name": name,
        "nodes": [{"name": "Hook", "type": "webhook",
                   "parameters": {"path": name, "auth": {"type": "header", "name": "X-Key",
                                                         "value": "hidden"}}}],
        "connections": [],
    }
    async with trigger_ports(make_settings()) as (server, ports):
        stored = await server.workflows.create(json.dumps(document).encode())
        found = {}
        for wiring, (lookup, _) in ports.items():
            found[wiring] = (
                await lookup.by_id(stored.id),
                await lookup.by_name(name),
                await lookup.by_id("nope-1"),
                await lookup.by_name("nope"),
            )

    assert found["in-process"] == found["grpc"]
    by_id, by_name, missing_id, missing_name = found["in-process"]
    assert by_id == by_name and by_id is not None and by_id["id"] == stored.id
    assert "hidden" not in json.dumps(by_id)  # as GetWorkflow answers: secrets masked
    assert missing_id is None and missing_name is None


async def _resolved(source: CredentialSource, name: str) -> Credential | str:
    try:
        return await source.get(name)
    except CredentialUnavailable as exc:
        return exc.message


async def test_credential_sources_resolve_and_refuse_alike(
    make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    name = unique("token")
    async with trigger_ports(make_settings(encryption_key=KEY)) as (server, ports):
        await server.credentials.create(
            json.dumps({"name": name, "type": "bearer", "data": {"token": "t-1"}}).encode()
        )
        answers = {
            wiring: [await _resolved(source, name), await _resolved(source, "Missing")]
            for wiring, (_, source) in ports.items()
        }

    assert answers["in-process"] == answers["grpc"]
    assert answers["in-process"] == [
        Credential(name=name, type="bearer", data={"token": "t-1"}),
        'no credential named "Missing"',
    ]


async def test_credential_sources_report_a_missing_encryption_key_alike(
    make_settings: Callable[..., Settings],
) -> None:
    async with trigger_ports(make_settings()) as (_, ports):
        answers = {wiring: await _resolved(source, "Any") for wiring, (_, source) in ports.items()}

    assert answers["in-process"] == answers["grpc"]
    assert isinstance(answers["grpc"], str) and "HOOKLINE_ENCRYPTION_KEY" in answers["grpc"]


async def test_saved_record_readers_read_and_miss_alike(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    record = json.dumps({"id": new_id(), "status": "success"}).encode()
    execution_id = json.loads(record)["id"]
    async with ExecutionServer(settings) as server:
        engine = create_engine(settings.database_url)
        try:
            await SqlExecutionStore(engine).insert(
                execution_id=execution_id, workflow_id="wf-1", mode="manual",
                status="success", started_at=utcnow(), finished_at=utcnow(), record_json=record,
            )
        finally:
            await engine.dispose()
        over_grpc = ExecutionServiceRecords(
            server.address, max_message_bytes=settings.grpc_max_message_bytes
        )
        in_process = LocalSavedRecords(ready(server.service))
        try:
            answers = {
                wiring: [await saved.fetch(execution_id, 2.0), await saved.fetch("nope-1", 2.0)]
                for wiring, saved in (("grpc", over_grpc), ("in-process", in_process))
            }
        finally:
            await over_grpc.close()

    assert answers["in-process"] == answers["grpc"] == [record, None]


async def test_a_saved_record_reader_wired_before_the_execution_service_starts_waits_for_it(
    make_settings: Callable[..., Settings],
) -> None:
    execution: Later[ExecutionService] = Later()
    saved = LocalSavedRecords(execution)
    # Not started within the reader's deadline: "not there yet", as an unreachable
    # execution service is.
    assert await saved.fetch("nope-1", 0.05) is None

    waiting = asyncio.ensure_future(saved.fetch("nope-1", 10.0))
    async with ExecutionServer(make_settings()) as server:
        assert not waiting.done()
        execution.set(server.service)
        assert await waiting is None  # the service answered: not saved


async def test_result_watchers_deliver_time_out_and_refuse_alike(
    make_settings: Callable[..., Settings],
) -> None:
    record = b'{"id":"x","status":"success"}'
    async with CacheServer(make_settings()) as cache:
        delivery = cache.delivery
        assert delivery is not None
        client = ServiceClient(cache.address, cache_service_pb2_grpc.CacheServiceStub)
        watchers: dict[str, ResultWatcher] = {
            "grpc": CacheResultWatcher(client),
            "in-process": LocalResultWatcher(delivery),
        }
        try:
            execution_id = new_id()
            await delivery.store(Kind.RESULT, execution_id, record, 60)
            answers: dict[str, list[Any]] = {
                wiring: [
                    await watcher.wait(execution_id, timeout_seconds=5, saved=False),
                    await watcher.wait(new_id(), timeout_seconds=0.1, saved=False),
                ]
                for wiring, watcher in watchers.items()
            }
            await delivery.drain(0)  # refuses new watches, as while shutting down
            for wiring, watcher in watchers.items():
                with pytest.raises(Unavailable) as refused:
                    await watcher.wait(new_id(), timeout_seconds=1, saved=False)
                answers[wiring].append(refused.value.message)
        finally:
            await client.close()

    assert answers["in-process"] == answers["grpc"]
    assert answers["grpc"][:2] == [record, None]
    assert answers["grpc"][2].startswith("cache service: UNAVAILABLE: ")


async def test_a_direct_call_past_its_deadline_is_deadline_exceeded_as_over_grpc() -> None:
    with pytest.raises(DeadlineExceeded) as late:
        async with deadline(0.05, "the trigger service"):
            await asyncio.Event().wait()  # never set: the call hangs

    assert grpc_code_for(late.value) is grpc.StatusCode.DEADLINE_EXCEEDED
    assert http_status_for(grpc_code_for(late.value)) == 504
    # A TimeoutError of the call's own is not the deadline's: it goes through as it is.
    with pytest.raises(TimeoutError):
        async with deadline(5, "the trigger service"):
            raise TimeoutError("the call's own")
