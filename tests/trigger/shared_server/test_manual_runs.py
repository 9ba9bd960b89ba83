"""RunWorkflow: a manual run of any workflow, active or not, whatever its trigger."""

from __future__ import annotations

import grpc
import pytest
from hookline.execution.v1 import execution_service_pb2 as exec_pb
from hookline.trigger.v1 import trigger_service_pb2 as pb

from ..builders import fresh, manual_workflow, schedule_workflow, webhook_workflow
from ..conftest import FakeExecution, TriggerStub, create

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_manual_run_starts_with_the_input_as_trigger_output(
    trigger: TriggerStub, fake_execution: FakeExecution
) -> None:
    stored = await create(trigger, manual_workflow())
    execution_id = fresh("exec")
    response = await trigger.RunWorkflow(
        pb.RunWorkflowRequest(
            workflow_id=stored["id"], input_json=b'{"name": "Ada"}', execution_id=execution_id
        )
    )
    assert response.execution_id == execution_id
    assert response.response_timeout_seconds == 30
    assert response.save_execution is True
    (run,) = fake_execution.service.runs
    assert run.mode == exec_pb.EXECUTION_MODE_MANUAL
    assert run.execution_id == execution_id
    assert run.workflow == stored
    assert run.trigger_output == {"name": "Ada"}
    assert run.publish_early_response is False


async def test_inactive_webhook_and_schedule_workflows_run_manually(
    trigger: TriggerStub, fake_execution: FakeExecution
) -> None:
    hook = await create(
        trigger,
        webhook_workflow(
            active=False, settings={"saveExecutionToDatabase": False, "responseTimeoutSeconds": 3}
        ),
    )
    cron = await create(trigger, schedule_workflow("0 0 1 1 *", active=False))
    first = await trigger.RunWorkflow(pb.RunWorkflowRequest(workflow_id=hook["id"]))
    await trigger.RunWorkflow(pb.RunWorkflowRequest(workflow_id=cron["id"], input_json=b"[1]"))
    assert first.execution_id
    assert first.response_timeout_seconds == 3
    assert first.save_execution is False
    runs = fake_execution.service.runs
    assert [r.workflow_id for r in runs] == [hook["id"], cron["id"]]
    assert runs[0].trigger_output == {}
    assert runs[1].trigger_output == [1]
    assert runs[0].execution_id == first.execution_id


async def test_invalid_input_json_is_refused(
    trigger: TriggerStub, fake_execution: FakeExecution
) -> None:
    stored = await create(trigger, manual_workflow())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await trigger.RunWorkflow(
            pb.RunWorkflowRequest(workflow_id=stored["id"], input_json=b"{oops")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fake_execution.service.runs == []


async def test_running_an_unknown_workflow_is_not_found(trigger: TriggerStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await trigger.RunWorkflow(pb.RunWorkflowRequest(workflow_id=fresh("missing")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
