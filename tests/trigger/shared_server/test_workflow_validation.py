"""Every way a workflow is refused with INVALID_ARGUMENT (HTTP 422 at the edge), and
that the message names the node or field at fault."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from hookline.trigger.v1 import trigger_service_pb2 as pb

from ..builders import schedule_workflow, webhook_workflow
from ..conftest import TriggerStub, create

pytestmark = pytest.mark.asyncio(loop_scope="module")


Mutation = Callable[[dict[str, Any]], None]


def _unknown_type(w: dict[str, Any]) -> None:
    w["nodes"].append({"name": "Teleporter", "type": "teleport", "parameters": {}})


def _dangling(w: dict[str, Any]) -> None:
    w["connections"].append({"from": "Shape", "to": "Ghost"})


def _cycle(w: dict[str, Any]) -> None:
    w["nodes"].append({"name": "Loop", "type": "set", "parameters": {"values": {}}})
    w["connections"] += [{"from": "Shape", "to": "Loop"}, {"from": "Loop", "to": "Shape"}]


def _no_trigger(w: dict[str, Any]) -> None:
    w["nodes"] = [n for n in w["nodes"] if n["type"] != "webhook"]
    w["connections"] = []


def _two_triggers(w: dict[str, Any]) -> None:
    w["nodes"].append({"name": "Also", "type": "manual"})


def _bad_method(w: dict[str, Any]) -> None:
    w["nodes"][0]["parameters"]["method"] = "FETCH"


def _bad_path(w: dict[str, Any]) -> None:
    w["nodes"][0]["parameters"]["path"] = "has spaces"


def _missing_path(w: dict[str, Any]) -> None:
    del w["nodes"][0]["parameters"]["path"]


def _bad_auth(w: dict[str, Any]) -> None:
    w["nodes"][0]["parameters"]["auth"] = {"type": "hmac", "header": "X-Sig"}


def _bad_setting(w: dict[str, Any]) -> None:
    w["settings"] = {"resultTtlSeconds": 0}


def _unknown_setting(w: dict[str, Any]) -> None:
    w["settings"] = {"colour": "red"}


def _duplicate_names(w: dict[str, Any]) -> None:
    w["nodes"].append({"name": "Shape", "type": "set", "parameters": {"values": {}}})


CASES: list[tuple[str, Mutation, list[str]]] = [
    ("unknown node type", _unknown_type, ['node "Teleporter"', "unknown node type"]),
    ("dangling connection", _dangling, ["Ghost", "dangling"]),
    ("cycle", _cycle, ["cycle", '"Shape"', '"Loop"']),
    ("zero triggers", _no_trigger, ["exactly one trigger", "found 0"]),
    ("two triggers", _two_triggers, ["exactly one trigger", '"Hook"', '"Also"']),
    ("bad parameter", _bad_method, ['node "Hook"', "method"]),
    ("bad path", _bad_path, ['node "Hook"', "path"]),
    ("missing parameter", _missing_path, ['node "Hook"', "path", "required"]),
    ("bad auth", _bad_auth, ['node "Hook"', "auth", "secret"]),
    ("bad setting", _bad_setting, ["settings", "resultTtlSeconds"]),
    ("unknown setting", _unknown_setting, ["settings", "colour", "not a known field"]),
    ("duplicate node names", _duplicate_names, ['node "Shape"', "name"]),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_invalid_workflow_is_refused_naming_the_culprit(
    trigger: TriggerStub, mutate: Mutation, expected: list[str]
) -> None:
    workflow = webhook_workflow()
    mutate(workflow)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(trigger, workflow)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for fragment in expected:
        assert fragment in (caught.value.details() or "")


@pytest.mark.parametrize(("cron", "fragment"), [("61 * * * *", "cron"), ("* * *", "5 fields")])
async def test_bad_cron_is_refused(trigger: TriggerStub, cron: str, fragment: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(trigger, schedule_workflow(cron))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 'node "Tick"' in (caught.value.details() or "")
    assert fragment in (caught.value.details() or "")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
async def test_non_object_json_is_refused(trigger: TriggerStub, raw: bytes) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await trigger.CreateWorkflow(pb.CreateWorkflowRequest(workflow_json=raw))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_replace_validates_like_create(trigger: TriggerStub) -> None:
    stored = await create(trigger, webhook_workflow())
    broken = copy.deepcopy(webhook_workflow())
    _dangling(broken)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await trigger.ReplaceWorkflow(
            pb.ReplaceWorkflowRequest(id=stored["id"], workflow_json=json.dumps(broken).encode())
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Ghost" in (caught.value.details() or "")


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"nodes": []}, "nodes"),
        ({"settings": {"colour": "red"}}, "colour"),
        ({"settings": {"responseTimeoutSeconds": 99999}}, "responseTimeoutSeconds"),
        ({"settings": "fast"}, "settings"),
        ({"active": "yes"}, "active"),
        ({"name": ""}, "name"),
    ],
)
async def test_bad_patch_is_refused_naming_the_field(
    trigger: TriggerStub, patch: dict[str, Any], fragment: str
) -> None:
    stored = await create(trigger, webhook_workflow())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await trigger.PatchWorkflow(
            pb.PatchWorkflowRequest(id=stored["id"], patch_json=json.dumps(patch).encode())
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in (caught.value.details() or "")
    fetched = await trigger.GetWorkflow(pb.GetWorkflowRequest(id=stored["id"]))
    assert json.loads(fetched.workflow.workflow_json) == stored
