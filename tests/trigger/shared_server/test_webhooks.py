"""HandleWebhook: resolving method+path, rejections in the response, the trigger
output built from the call, and the StartExecution request."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hookline.execution.v1 import execution_service_pb2 as exec_pb
from hookline.trigger.v1 import trigger_service_pb2 as pb

from ..builders import call, fresh, webhook_workflow
from ..conftest import FakeExecution, SharedTrigger, TriggerStub, create

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_webhook_starts_an_execution_with_the_trigger_output(
    trigger: TriggerStub, fake_execution: FakeExecution
) -> None:
    stored = await create(
        trigger,
        webhook_workflow(
            response_mode="lastNode",
            settings={"responseTimeoutSeconds": 7, "saveExecutionToDatabase": False},
        ),
    )
    path = stored["nodes"][0]["parameters"]["path"]
    execution_id = fresh("exec")
    response = await trigger.HandleWebhook(
        call(
            path,
            body=b'{"name": "Ada"}',
            headers=[
                ("Content-Type", "application/json; charset=utf-8"),
                ("X-Trace", "a"),
                ("x-trace", "b"),
            ],
            query=[("page", "2"), ("tag", "x"), ("tag", "y")],
            execution_id=execution_id,
        ),
        timeout=10,
    )
    assert response.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    assert response.execution_id == execution_id
    assert response.workflow_id == stored["id"]
    assert response.response_mode == pb.RESPONSE_MODE_LAST_NODE
    assert response.response_timeout_seconds == 7
    assert response.save_execution is False

    (run,) = fake_execution.service.runs
    assert run.execution_id == execution_id
    assert run.mode == exec_pb.EXECUTION_MODE_WEBHOOK
    assert run.workflow == stored
    assert run.publish_early_response is False
    assert run.trigger_output == {
        "body": {"name": "Ada"},
        "headers": {"content-type": "application/json; charset=utf-8", "x-trace": "a, b"},
        "query": {"page": "2", "tag": ["x", "y"]},
        "method": "POST",
        "path": path,
    }


@pytest.mark.parametrize(
    ("mode", "expected", "early"),
    [
        (None, pb.RESPONSE_MODE_ON_RECEIVED, False),
        ("onReceived", pb.RESPONSE_MODE_ON_RECEIVED, False),
        ("responseNode", pb.RESPONSE_MODE_RESPONSE_NODE, True),
    ],
)
async def test_response_mode_is_reported_and_response_node_publishes_early(
    trigger: TriggerStub,
    fake_execution: FakeExecution,
    mode: str | None,
    expected: int,
    early: bool,
) -> None:
    stored = await create(trigger, webhook_workflow(response_mode=mode))
    response = await trigger.HandleWebhook(call(stored["nodes"][0]["parameters"]["path"]))
    assert response.response_mode == expected
    assert response.response_timeout_seconds == 30 and response.save_execution is True
    assert response.execution_id  # chosen by the service
    (run,) = fake_execution.service.runs
    assert run.execution_id == response.execution_id
    assert run.publish_early_response is early


async def test_unknown_path_is_not_found_and_counted(shared_trigger: SharedTrigger) -> None:
    def not_found() -> float:
        value = shared_trigger.server.metrics.registry.get_sample_value(
            "hookline_trigger_webhook_calls_total", {"outcome": "not_found"}
        )
        return value or 0.0

    before = not_found()
    response = await shared_trigger.stub.HandleWebhook(call(fresh("nowhere")))
    assert response.rejection == pb.WEBHOOK_REJECTION_NOT_FOUND
    assert not response.execution_id
    assert shared_trigger.execution.service.runs == []
    assert not_found() == before + 1


async def test_other_method_is_not_allowed_and_lists_the_allowed_ones(
    trigger: TriggerStub, fake_execution: FakeExecution
) -> None:
    path = fresh("shared")
    await create(trigger, webhook_workflow(path, method="PUT"))
    await create(trigger, webhook_workflow(path, method="get"))
    response = await trigger.HandleWebhook(call(path, method="POST"))
    assert response.rejection == pb.WEBHOOK_REJECTION_METHOD_NOT_ALLOWED
    assert list(response.allowed_methods) == ["GET", "PUT"]
    assert fake_execution.service.runs == []
    accepted = await trigger.HandleWebhook(call(path, method="get"))
    assert accepted.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED


async def test_path_slashes_are_ignored(trigger: TriggerStub) -> None:
    path = f"{fresh('orders')}/new"
    await create(trigger, webhook_workflow(f"/{path}/"))
    response = await trigger.HandleWebhook(call(f"{path}/"))
    assert response.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.api+json"])
async def test_invalid_json_is_rejected_and_starts_nothing(
    trigger: TriggerStub, fake_execution: FakeExecution, content_type: str
) -> None:
    stored = await create(trigger, webhook_workflow())
    response = await trigger.HandleWebhook(
        call(
            stored["nodes"][0]["parameters"]["path"],
            body=b'{"name": ',
            headers=[("Content-Type", content_type)],
        )
    )
    assert response.rejection == pb.WEBHOOK_REJECTION_INVALID_BODY
    assert "JSON" in response.rejection_message
    assert fake_execution.service.runs == []


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (
            "application/x-www-form-urlencoded",
            b"name=Ada+L&tag=a&tag=b&empty=",
            {"name": "Ada L", "tag": ["a", "b"], "empty": ""},
        ),
        ("text/plain; charset=utf-8", "héllo".encode(), "héllo"),
        ("application/octet-stream", b"\xff\xfeok", "\ufffd\ufffdok"),
        ("", b"plain", "plain"),
        ("application/json", b"", {}),
        ("application/merge-patch+json", b"[1, 2]", [1, 2]),
    ],
)
async def test_body_is_parsed_by_content_type(
    trigger: TriggerStub,
    fake_execution: FakeExecution,
    content_type: str,
    body: bytes,
    expected: Any,
) -> None:
    stored = await create(trigger, webhook_workflow())
    headers = [("Content-Type", content_type)] if content_type else []
    response = await trigger.HandleWebhook(
        call(stored["nodes"][0]["parameters"]["path"], body=body, headers=headers)
    )
    assert response.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    (run,) = fake_execution.service.runs
    assert run.trigger_output["body"] == expected


async def test_deactivated_and_deleted_workflows_stop_answering(trigger: TriggerStub) -> None:
    first = await create(trigger, webhook_workflow())
    second = await create(trigger, webhook_workflow())
    for stored in (first, second):
        path = stored["nodes"][0]["parameters"]["path"]
        ok = await trigger.HandleWebhook(call(path))
        assert ok.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    await trigger.PatchWorkflow(
        pb.PatchWorkflowRequest(id=first["id"], patch_json=b'{"active":false}')
    )
    await trigger.DeleteWorkflow(pb.DeleteWorkflowRequest(id=second["id"]))
    for stored in (first, second):
        path = stored["nodes"][0]["parameters"]["path"]
        gone = await trigger.HandleWebhook(call(path))
        assert gone.rejection == pb.WEBHOOK_REJECTION_NOT_FOUND


async def test_replaced_webhook_answers_on_its_new_path(trigger: TriggerStub) -> None:
    stored = await create(trigger, webhook_workflow())
    old_path = stored["nodes"][0]["parameters"]["path"]
    new_path = fresh("moved")
    await trigger.ReplaceWorkflow(
        pb.ReplaceWorkflowRequest(
            id=stored["id"], workflow_json=json.dumps(webhook_workflow(new_path)).encode()
        )
    )
    assert (await trigger.HandleWebhook(call(old_path))).rejection == (
        pb.WEBHOOK_REJECTION_NOT_FOUND
    )
    moved = await trigger.HandleWebhook(call(new_path))
    assert moved.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    assert moved.workflow_id == stored["id"]
