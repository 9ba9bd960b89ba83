"""Workflow CRUD through a real TriggerServer, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_trigger import TriggerServer

from .builders import fresh, manual_workflow, webhook_workflow
from .conftest import StartTrigger, TriggerStub, create


@pytest.fixture
async def stub(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
    database_url: str,
) -> TriggerStub:
    return connect(await start_trigger(database_url=database_url))


def _loads(message: pb.Workflow) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(message.workflow_json)
    return data


async def _patch(stub: TriggerStub, workflow_id: str, patch: dict[str, Any]) -> dict[str, Any]:
    response = await stub.PatchWorkflow(
        pb.PatchWorkflowRequest(id=workflow_id, patch_json=json.dumps(patch).encode())
    )
    return _loads(response.workflow)


async def _code(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def test_create_returns_the_stored_workflow_with_every_setting(stub: TriggerStub) -> None:
    definition = webhook_workflow(settings={"resultTtlSeconds": 5})
    response = await stub.CreateWorkflow(
        pb.CreateWorkflowRequest(workflow_json=json.dumps(definition).encode())
    )
    message = response.workflow
    stored = _loads(message)
    assert stored["id"] == message.id and message.id
    assert stored["name"] == definition["name"] == message.name
    assert stored["active"] is True and message.active
    assert stored["settings"] == {
        "saveExecutionToDatabase": True,
        "resultTtlSeconds": 5,
        "responseTimeoutSeconds": 30,
        "errorWorkflow": None,
    }
    assert stored["createdAt"] == stored["updatedAt"]
    assert stored["createdAt"].endswith("Z")
    assert message.create_time.ToDatetime().year >= 2026
    assert [n["name"] for n in stored["nodes"]] == ["Hook", "Shape"]
    assert stored["connections"] == [{"from": "Hook", "to": "Shape", "output": "main"}]

    fetched = await stub.GetWorkflow(pb.GetWorkflowRequest(id=message.id))
    assert _loads(fetched.workflow) == stored


async def test_unknown_ids_are_not_found(stub: TriggerStub) -> None:
    missing = fresh("missing")
    body = json.dumps(manual_workflow()).encode()
    assert await _code(stub.GetWorkflow(pb.GetWorkflowRequest(id=missing))) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert await _code(stub.DeleteWorkflow(pb.DeleteWorkflowRequest(id=missing))) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert (
        await _code(stub.ReplaceWorkflow(pb.ReplaceWorkflowRequest(id=missing, workflow_json=body)))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        await _code(
            stub.PatchWorkflow(pb.PatchWorkflowRequest(id=missing, patch_json=b'{"name": "x"}'))
        )
        == grpc.StatusCode.NOT_FOUND
    )


async def test_second_active_workflow_on_the_same_webhook_conflicts(stub: TriggerStub) -> None:
    path = fresh("orders")
    first = await create(stub, webhook_workflow(path, name=fresh("first")))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(stub, webhook_workflow(path))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first["name"] in (caught.value.details() or "")
    assert first["id"] in (caught.value.details() or "")
    assert f"POST /webhook/{path}" in (caught.value.details() or "")

    # An inactive one may share the path; another method may too.
    inactive = await create(stub, webhook_workflow(path, active=False))
    await create(stub, webhook_workflow(path, method="GET"))
    # ...but activating it conflicts, until the first one steps aside.
    assert (
        await _code(
            stub.PatchWorkflow(
                pb.PatchWorkflowRequest(id=inactive["id"], patch_json=b'{"active": true}')
            )
        )
        == grpc.StatusCode.ALREADY_EXISTS
    )
    await _patch(stub, first["id"], {"active": False})
    assert (await _patch(stub, inactive["id"], {"active": True}))["active"] is True


async def test_replacing_onto_a_taken_webhook_conflicts(stub: TriggerStub) -> None:
    path = fresh("taken")
    await create(stub, webhook_workflow(path))
    other = await create(stub, webhook_workflow())
    moved = webhook_workflow(path)
    assert (
        await _code(
            stub.ReplaceWorkflow(
                pb.ReplaceWorkflowRequest(id=other["id"], workflow_json=json.dumps(moved).encode())
            )
        )
        == grpc.StatusCode.ALREADY_EXISTS
    )


async def test_concurrent_creates_on_one_webhook_let_exactly_one_in(stub: TriggerStub) -> None:
    path = fresh("race")
    results = await asyncio.gather(
        *(create(stub, webhook_workflow(path)) for _ in range(6)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1
    assert len(refused) == 5
    assert {r.code() for r in refused} == {grpc.StatusCode.ALREADY_EXISTS}


async def test_list_pages_oldest_first_with_an_opaque_cursor(stub: TriggerStub) -> None:
    mine = [(await create(stub, manual_workflow()))["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        page = await stub.ListWorkflows(pb.ListWorkflowsRequest(limit=2, cursor=cursor))
        assert len(page.workflows) <= 2
        seen.extend(w.id for w in page.workflows)
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in mine] == mine
    assert pages >= 3

    default = await stub.ListWorkflows(pb.ListWorkflowsRequest())
    assert 5 <= len(default.workflows) <= 20


@pytest.mark.parametrize(
    ("limit", "cursor"),
    [(101, ""), (-1, ""), (0, "not a cursor"), (0, "WyJub3QiXQ")],
)
async def test_bad_limit_or_cursor_is_invalid(stub: TriggerStub, limit: int, cursor: str) -> None:
    assert await _code(stub.ListWorkflows(pb.ListWorkflowsRequest(limit=limit, cursor=cursor))) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_replace_keeps_id_and_created_at(stub: TriggerStub) -> None:
    original = await create(stub, webhook_workflow())
    replacement = manual_workflow()
    replacement["id"] = "ignored"
    response = await stub.ReplaceWorkflow(
        pb.ReplaceWorkflowRequest(id=original["id"], workflow_json=json.dumps(replacement).encode())
    )
    stored = _loads(response.workflow)
    assert stored["id"] == original["id"]
    assert stored["createdAt"] == original["createdAt"]
    assert stored["updatedAt"] > original["updatedAt"]
    assert stored["name"] == replacement["name"]
    assert [n["type"] for n in stored["nodes"]] == ["manual"]
    fetched = await stub.GetWorkflow(pb.GetWorkflowRequest(id=original["id"]))
    assert _loads(fetched.workflow) == stored


async def test_patch_merges_settings_key_by_key(stub: TriggerStub) -> None:
    original = await create(
        stub, webhook_workflow(settings={"resultTtlSeconds": 120, "responseTimeoutSeconds": 9})
    )
    patched = await _patch(
        stub,
        original["id"],
        {"name": "Renamed", "active": False, "settings": {"saveExecutionToDatabase": False}},
    )
    assert patched["name"] == "Renamed"
    assert patched["active"] is False
    assert patched["settings"] == {
        "saveExecutionToDatabase": False,
        "resultTtlSeconds": 120,
        "responseTimeoutSeconds": 9,
        "errorWorkflow": None,
    }
    assert patched["nodes"] == original["nodes"]
    assert patched["createdAt"] == original["createdAt"]

    reset = await _patch(stub, original["id"], {"settings": {"resultTtlSeconds": None}})
    assert reset["settings"]["resultTtlSeconds"] == 60
    assert reset["settings"]["responseTimeoutSeconds"] == 9


async def test_delete_removes_the_workflow(stub: TriggerStub) -> None:
    stored = await create(stub, webhook_workflow())
    await stub.DeleteWorkflow(pb.DeleteWorkflowRequest(id=stored["id"]))
    assert await _code(stub.GetWorkflow(pb.GetWorkflowRequest(id=stored["id"]))) == (
        grpc.StatusCode.NOT_FOUND
    )
