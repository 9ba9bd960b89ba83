"""Workflows that name workflows: executeWorkflow targets and the errorWorkflow
setting must exist when saved (a self-call is fine), and GetWorkflowByName finds a
workflow by its name."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_trigger import TriggerServer

from .builders import fresh, manual_workflow
from .conftest import StartTrigger, TriggerStub, create


@pytest.fixture
async def stub(
    start_trigger: StartTrigger, connect: Callable[[TriggerServer], TriggerStub]
) -> TriggerStub:
    return connect(await start_trigger())


def caller(name: str, **parameters: Any) -> dict[str, Any]:
    workflow = manual_workflow()
    workflow["name"] = name
    workflow["nodes"].append({"name": "Call", "type": "executeWorkflow", "parameters": parameters})
    workflow["connections"].append({"from": workflow["nodes"][0]["name"], "to": "Call"})
    return workflow


async def _refused(stub: TriggerStub, workflow: dict[str, Any]) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(stub, workflow)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value.details() or ""


async def test_a_target_that_does_not_exist_is_refused_naming_node_and_field(
    stub: TriggerStub,
) -> None:
    message = await _refused(stub, caller(fresh("parent"), workflowId="no-such-id"))
    assert message == 'node "Call" parameter workflowId: no workflow with id "no-such-id"'
    message = await _refused(stub, caller(fresh("parent"), workflowName="Nobody"))
    assert message == 'node "Call" parameter workflowName: no workflow named "Nobody"'


async def test_existing_targets_self_calls_and_templates_are_accepted(stub: TriggerStub) -> None:
    child = await create(stub, manual_workflow())
    await create(stub, caller(fresh("parent"), workflowId=child["id"]))
    await create(stub, caller(fresh("parent"), workflowName=child["name"]))
    name = fresh("recursive")
    looping = await create(stub, caller(name, workflowName=name))
    looping["nodes"][-1]["parameters"] = {"workflowId": looping["id"]}
    await stub.ReplaceWorkflow(
        pb.ReplaceWorkflowRequest(id=looping["id"], workflow_json=json.dumps(looping).encode())
    )
    await create(stub, caller(fresh("parent"), workflowId="{{ json.target }}"))


async def test_error_workflow_must_exist_and_shows_null_by_default(stub: TriggerStub) -> None:
    plain = await create(stub, manual_workflow())
    assert plain["settings"]["errorWorkflow"] is None
    failing = manual_workflow()
    failing["settings"] = {"errorWorkflow": "missing"}
    message = await _refused(stub, failing)
    assert message == 'settings.errorWorkflow: no workflow with id or name "missing"'
    failing["settings"] = {"errorWorkflow": plain["id"]}
    assert (await create(stub, failing))["settings"]["errorWorkflow"] == plain["id"]
    failing["settings"] = {"errorWorkflow": plain["name"]}  # by name, as files can
    assert (await create(stub, failing))["settings"]["errorWorkflow"] == plain["name"]


async def test_get_workflow_by_name_finds_the_oldest_of_that_name(stub: TriggerStub) -> None:
    name = fresh("named")
    first = manual_workflow()
    first["name"] = name
    older = await create(stub, first)
    await create(stub, first)
    found = await stub.GetWorkflowByName(pb.GetWorkflowByNameRequest(name=name))
    assert found.workflow.id == older["id"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetWorkflowByName(pb.GetWorkflowByNameRequest(name=fresh("nobody")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
