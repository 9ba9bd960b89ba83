"""Webhook secrets are write-only: no answer (create, get, list, replace, patch) shows
one, only the placeholder; a replace or patch that leaves it out (or sends the
placeholder back) keeps it, and a new value replaces it. The stored definition keeps
the secret, so authentication goes on working."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import grpc
import pytest
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_trigger.domain.webhook_secrets import SECRET_PLACEHOLDER

from ..builders import call, fresh, webhook_workflow
from ..conftest import TriggerStub, create

pytestmark = pytest.mark.asyncio(loop_scope="module")

BODY = b'{"order": 42}'


def _auth(kind: str, secret: str) -> dict[str, Any]:
    if kind == "header":
        return {"type": "header", "name": "X-Token", "value": secret}
    if kind == "basic":
        return {"type": "basic", "username": "ada", "password": secret}
    return {"type": "hmac", "header": "X-Signature", "secret": secret}


def _credentials(kind: str, secret: str) -> list[tuple[str, str]]:
    if kind == "header":
        return [("X-Token", secret)]
    if kind == "basic":
        return [("Authorization", "Basic " + base64.b64encode(f"ada:{secret}".encode()).decode())]
    signature = hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    return [("X-Signature", "sha256=" + signature)]


SECRET_FIELD = {"header": "value", "basic": "password", "hmac": "secret"}
KINDS = list(SECRET_FIELD)


async def _passes(stub: TriggerStub, path: str, headers: Sequence[tuple[str, str]]) -> bool:
    response = await stub.HandleWebhook(
        call(path, body=BODY, headers=[("Content-Type", "application/json"), *headers])
    )
    if response.rejection == pb.WEBHOOK_REJECTION_UNAUTHORIZED:
        return False
    assert response.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED, response
    return True


def _auth_of(document: dict[str, Any]) -> dict[str, Any]:
    auth: dict[str, Any] = document["nodes"][0]["parameters"]["auth"]
    return auth


async def _get(stub: TriggerStub, workflow_id: str) -> bytes:
    response = await stub.GetWorkflow(pb.GetWorkflowRequest(id=workflow_id), timeout=10)
    return bytes(response.workflow.workflow_json)


async def _replace(stub: TriggerStub, workflow_id: str, document: dict[str, Any]) -> bytes:
    response = await stub.ReplaceWorkflow(
        pb.ReplaceWorkflowRequest(id=workflow_id, workflow_json=json.dumps(document).encode()),
        timeout=10,
    )
    return bytes(response.workflow.workflow_json)


@pytest.mark.parametrize("kind", KINDS)
async def test_no_answer_shows_the_secret(trigger: TriggerStub, kind: str) -> None:
    secret = fresh("s3cret")
    created = await create(trigger, webhook_workflow(auth=_auth(kind, secret)))
    workflow_id = created["id"]
    patched = await trigger.PatchWorkflow(
        pb.PatchWorkflowRequest(id=workflow_id, patch_json=b'{"name": "renamed"}'), timeout=10
    )
    listed = await trigger.ListWorkflows(pb.ListWorkflowsRequest(limit=100), timeout=10)
    answers = [
        json.dumps(created).encode(),
        await _get(trigger, workflow_id),
        bytes(patched.workflow.workflow_json),
        *(bytes(w.workflow_json) for w in listed.workflows),
    ]
    for answer in answers:
        assert secret.encode() not in answer
    assert _auth_of(created)[SECRET_FIELD[kind]] == SECRET_PLACEHOLDER
    assert _auth_of(json.loads(await _get(trigger, workflow_id)))[SECRET_FIELD[kind]] == (
        SECRET_PLACEHOLDER
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_patching_active_keeps_the_secret_and_auth_working(
    trigger: TriggerStub, kind: str
) -> None:
    secret = fresh("s3cret")
    created = await create(trigger, webhook_workflow(auth=_auth(kind, secret)))
    path = created["nodes"][0]["parameters"]["path"]
    for active in (b"false", b"true"):
        await trigger.PatchWorkflow(
            pb.PatchWorkflowRequest(id=created["id"], patch_json=b'{"active": ' + active + b"}"),
            timeout=10,
        )
    assert await _passes(trigger, path, _credentials(kind, secret))
    assert not await _passes(trigger, path, _credentials(kind, "wrong"))
    assert not await _passes(trigger, path, _credentials(kind, SECRET_PLACEHOLDER))


@pytest.mark.parametrize("kind", KINDS)
async def test_replacing_with_the_answer_or_without_the_secret_keeps_it(
    trigger: TriggerStub, kind: str
) -> None:
    secret = fresh("s3cret")
    created = await create(trigger, webhook_workflow(auth=_auth(kind, secret)))
    path = created["nodes"][0]["parameters"]["path"]

    sent_back = json.loads(await _get(trigger, created["id"]))  # the placeholder as shown
    await _replace(trigger, created["id"], sent_back)
    assert await _passes(trigger, path, _credentials(kind, secret))

    without = json.loads(await _get(trigger, created["id"]))
    del _auth_of(without)[SECRET_FIELD[kind]]
    answer = await _replace(trigger, created["id"], without)
    assert secret.encode() not in answer
    assert await _passes(trigger, path, _credentials(kind, secret))


@pytest.mark.parametrize("kind", KINDS)
async def test_replacing_with_a_new_secret_replaces_it(trigger: TriggerStub, kind: str) -> None:
    old, new = fresh("old"), fresh("new")
    created = await create(trigger, webhook_workflow(auth=_auth(kind, old)))
    path = created["nodes"][0]["parameters"]["path"]
    document = json.loads(await _get(trigger, created["id"]))
    _auth_of(document)[SECRET_FIELD[kind]] = new
    answer = await _replace(trigger, created["id"], document)
    assert new.encode() not in answer
    assert await _passes(trigger, path, _credentials(kind, new))
    assert not await _passes(trigger, path, _credentials(kind, old))


async def test_the_placeholder_is_never_stored_as_a_secret(trigger: TriggerStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as created:
        await create(trigger, webhook_workflow(auth=_auth("header", SECRET_PLACEHOLDER)))
    assert created.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "auth.value" in (created.value.details() or "")

    # A change of auth type has no stored secret of that type to keep.
    stored = await create(trigger, webhook_workflow(auth=_auth("header", fresh("s"))))
    document = json.loads(await _get(trigger, stored["id"]))
    document["nodes"][0]["parameters"]["auth"] = _auth("hmac", SECRET_PLACEHOLDER)
    with pytest.raises(grpc.aio.AioRpcError) as replaced:
        await _replace(trigger, stored["id"], document)
    assert replaced.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "auth.secret" in (replaced.value.details() or "")
