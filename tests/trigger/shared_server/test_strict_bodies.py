"""The trigger parses webhook JSON strictly: too deep, ``NaN``/``Infinity``, numbers
that overflow and lone surrogates are an invalid body (the edge's 400), never an
internal error; workflow documents and run inputs follow the same rules."""

from __future__ import annotations

import json

import grpc
import pytest
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_runtime.strict_json import MAX_JSON_DEPTH, JsonRejected, loads_strict

from ..builders import call, webhook_workflow
from ..conftest import FakeExecution, TriggerStub, create

pytestmark = pytest.mark.asyncio(loop_scope="module")

BAD = {
    "deep-10000": b"[" * 10_000 + b"]" * 10_000,
    "deep-900": b"[" * 900 + b"]" * 900,
    "one-over": b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
    "lone-surrogate": b'{"a":"\\ud800"}',
    "lone-low-surrogate": b'{"a":"x\\udc00"}',
    "surrogate-as-bytes": b'{"a":"\xed\xa0\x80"}',
    "nan": b'{"a":NaN}',
    "infinity": b"[Infinity]",
    "minus-infinity": b"[-Infinity]",
    "overflow": b"[1e999]",
    "long-overflow": b"[1" + b"0" * 400 + b".5]",
}

GOOD = {
    "at-the-limit": (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, None),
    "paired-surrogates": (b'{"a":"\\ud83d\\ude00"}', {"a": "\U0001f600"}),
    "escaped-backslash": (b'{"a":"\\\\ud800"}', {"a": "\\ud800"}),
    "brackets-in-strings": (b'{"a":"' + b"[" * 500 + b'"}', {"a": "[" * 500}),
    "big-integer": (b"[" + b"9" * 400 + b"]", [int("9" * 400)]),
    "utf8-bom": (b'\xef\xbb\xbf{"a":1}', {"a": 1}),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_json_bodies_are_invalid_and_start_nothing(
    trigger: TriggerStub, fake_execution: FakeExecution, case: str
) -> None:
    stored = await create(trigger, webhook_workflow())
    path = stored["nodes"][0]["parameters"]["path"]
    response = await trigger.HandleWebhook(
        call(path, body=BAD[case], headers=[("Content-Type", "application/json")])
    )
    assert response.rejection == pb.WEBHOOK_REJECTION_INVALID_BODY
    assert response.rejection_message
    if case.startswith(("deep", "one-over")):
        assert f"{MAX_JSON_DEPTH} levels" in response.rejection_message
    assert fake_execution.service.runs == []


@pytest.mark.parametrize("case", list(GOOD))
async def test_strict_parsing_keeps_what_is_valid_json(case: str) -> None:
    raw, expected = GOOD[case]
    parsed = loads_strict(raw)
    assert parsed == (json.loads(raw) if expected is None else expected)


@pytest.mark.parametrize("case", list(BAD))
async def test_strict_parsing_refuses_with_a_value_error(case: str) -> None:
    with pytest.raises(JsonRejected):
        loads_strict(BAD[case])
    assert issubclass(JsonRejected, ValueError)


@pytest.mark.parametrize("case", ["deep-900", "nan", "overflow", "lone-surrogate"])
async def test_workflow_documents_and_run_inputs_follow_the_same_rules(
    trigger: TriggerStub, case: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as created:
        await trigger.CreateWorkflow(pb.CreateWorkflowRequest(workflow_json=BAD[case]))
    assert created.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    stored = await create(trigger, webhook_workflow())
    with pytest.raises(grpc.aio.AioRpcError) as run:
        await trigger.RunWorkflow(
            pb.RunWorkflowRequest(workflow_id=stored["id"], input_json=BAD[case])
        )
    assert run.value.code() == grpc.StatusCode.INVALID_ARGUMENT
