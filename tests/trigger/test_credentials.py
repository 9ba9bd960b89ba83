"""Credentials in the trigger service: CRUD with metadata-only answers, unique names,
refusal to delete what active workflows use, encryption at rest, the key's absence
or malformation, checks when workflows are saved, webhook auth by credential, and
``hookline dev``'s key file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_launcher.dev_encryption_key import key_file_for, with_dev_key
from hookline_runtime.settings import Settings
from hookline_trigger import TriggerServer
from hookline_trigger.domain.errors import EncryptionKeyInvalid

from .builders import call, fresh, webhook_workflow
from .conftest import FakeExecution, StartTrigger, TriggerStub, create

Connect = Callable[[TriggerServer], TriggerStub]

KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
async def keyed(start_trigger: StartTrigger, connect: Connect) -> TriggerStub:
    """A trigger service with an encryption key, on the test's own SQLite file."""
    return connect(await start_trigger(encryption_key=KEY))


async def _create(stub: TriggerStub, name: str, type_: str, data: dict[str, Any]) -> pb.Credential:
    body = json.dumps({"name": name, "type": type_, "data": data}).encode()
    reply = await stub.CreateCredential(pb.CreateCredentialRequest(credential_json=body))
    return reply.credential


def _http_workflow(credential: str, *, active: bool = True) -> dict[str, Any]:
    return {
        "name": fresh("caller"),
        "active": active,
        "nodes": [
            {"name": "Start", "type": "manual"},
            {
                "name": "Call",
                "type": "httpRequest",
                "parameters": {"url": "http://127.0.0.1:9/x", "credential": credential},
            },
        ],
        "connections": [{"from": "Start", "to": "Call"}],
    }


async def _code(call_: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call_
    return caught.value.code(), caught.value.details() or ""


async def test_credentials_crud_answers_metadata_only(keyed: TriggerStub) -> None:
    token = fresh("tok")
    created = await _create(keyed, fresh("api"), "bearer", {"token": token})
    assert created.id and created.type == "bearer"
    assert token not in str(created)

    got = (await keyed.GetCredential(pb.GetCredentialRequest(id=created.id))).credential
    assert (got.name, got.type) == (created.name, "bearer")

    others = [await _create(keyed, fresh("more"), "hmac", {"secret": fresh("s")}) for _ in range(2)]
    first = await keyed.ListCredentials(pb.ListCredentialsRequest(limit=2))
    second = await keyed.ListCredentials(
        pb.ListCredentialsRequest(limit=2, cursor=first.next_cursor)
    )
    listed = [c.id for c in [*first.credentials, *second.credentials]]
    assert listed == [created.id, *(c.id for c in others)]
    assert first.next_cursor and not second.next_cursor

    # Renamed without data: the stored token is kept (resolved below).
    renamed = fresh("renamed")
    body = json.dumps({"name": renamed, "type": "bearer"}).encode()
    replaced = (
        await keyed.ReplaceCredential(pb.ReplaceCredentialRequest(id=created.id, credential_json=body))
    ).credential
    assert replaced.name == renamed and replaced.update_time.ToDatetime() > got.update_time.ToDatetime()
    resolved = await keyed.ResolveCredential(pb.ResolveCredentialRequest(name=renamed))
    assert (resolved.type, dict(resolved.data)) == ("bearer", {"token": token})

    await keyed.DeleteCredential(pb.DeleteCredentialRequest(id=created.id))
    code, _ = await _code(keyed.GetCredential(pb.GetCredentialRequest(id=created.id)))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await _code(keyed.ResolveCredential(pb.ResolveCredentialRequest(name=renamed)))
    assert code == grpc.StatusCode.NOT_FOUND


async def test_duplicate_name_is_already_exists(keyed: TriggerStub) -> None:
    name = fresh("dup")
    await _create(keyed, name, "bearer", {"token": "a"})
    code, message = await _code(_create(keyed, name, "hmac", {"secret": "b"}))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert name in message


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"name": "x", "type": "oauth", "data": {}}, "type:"),
        ({"name": "x", "type": "bearer", "data": {}}, "data.token: is required"),
        ({"name": "x", "type": "bearer", "data": {"token": 5}}, "data.token: must be a string"),
        ({"name": "x", "type": "httpHeader", "data": {"name": "X", "value": "v\nInjected: 1"}},
         "data.value"),
        ({"name": "x", "type": "hmac", "data": {"secret": "s", "extra": "y"}}, "data.extra"),
        ({"name": "", "type": "bearer", "data": {"token": "t"}}, "name:"),
        ({"name": "x", "type": "bearer"}, "data: is required"),
    ],
)
async def test_invalid_credentials_name_the_field(
    keyed: TriggerStub, document: dict[str, Any], field: str
) -> None:
    body = json.dumps(document).encode()
    code, message = await _code(
        keyed.CreateCredential(pb.CreateCredentialRequest(credential_json=body))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith(field) or field in message
    assert "Injected" not in message


async def test_delete_of_a_credential_in_use_names_the_active_workflows(keyed: TriggerStub) -> None:
    name = fresh("used")
    credential = await _create(keyed, name, "bearer", {"token": fresh("t")})
    active = await create(keyed, _http_workflow(name))
    inactive = await create(keyed, _http_workflow(name, active=False))
    hook = await create(keyed, _http_workflow(name))

    code, message = await _code(
        keyed.DeleteCredential(pb.DeleteCredentialRequest(id=credential.id))
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert active["name"] in message and active["id"] in message
    assert hook["name"] in message
    assert inactive["name"] not in message

    # Renaming it would break them too; a new token under the same name is fine.
    rename = json.dumps({"name": fresh("other"), "type": "bearer"}).encode()
    code, message = await _code(
        keyed.ReplaceCredential(pb.ReplaceCredentialRequest(id=credential.id, credential_json=rename))
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS and active["name"] in message
    same = json.dumps({"name": name, "type": "bearer", "data": {"token": "new"}}).encode()
    await keyed.ReplaceCredential(pb.ReplaceCredentialRequest(id=credential.id, credential_json=same))

    for workflow in (active, hook):
        await keyed.PatchWorkflow(
            pb.PatchWorkflowRequest(id=workflow["id"], patch_json=b'{"active": false}')
        )
    await keyed.DeleteCredential(pb.DeleteCredentialRequest(id=credential.id))


async def test_saving_a_workflow_checks_its_credentials(keyed: TriggerStub) -> None:
    missing = fresh("missing")
    code, message = await _code(create(keyed, _http_workflow(missing)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith('node "Call" parameter credential: no credential named')
    assert missing in message

    secret_name = fresh("hmac")
    await _create(keyed, secret_name, "hmac", {"secret": "s"})
    code, message = await _code(create(keyed, _http_workflow(secret_name)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "is of type hmac" in message and "httpHeader, httpBasic or bearer" in message

    bearer = fresh("bearer")
    await _create(keyed, bearer, "bearer", {"token": "t"})
    code, message = await _code(
        create(keyed, webhook_workflow(auth={"type": "hmac", "header": "X-S", "credential": bearer}))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith('node "Hook" parameter auth.credential:')

    code, message = await _code(
        create(keyed, webhook_workflow(auth={"type": "hmac", "header": "X-S"}))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "credential" in message


async def test_values_are_encrypted_at_rest(
    start_trigger: StartTrigger, connect: Connect, fresh_sqlite: Callable[[str], str]
) -> None:
    stub = connect(await start_trigger(encryption_key=KEY))
    token = "plain-" + fresh("token")
    credential = await _create(stub, fresh("rest"), "bearer", {"token": token})

    path = fresh_sqlite("trigger").removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT id, name, type, sealed FROM credentials").fetchall()
    (row,) = [r for r in rows if r[0] == credential.id]
    sealed = bytes(row[3])
    assert token.encode() not in sealed and b"token" not in sealed
    assert token.encode() not in Path(path).read_bytes()

    # Another key does not open it: a clear error, no value.
    other = base64.urlsafe_b64encode(os.urandom(32)).decode()
    stub2 = connect(await start_trigger(encryption_key=other))
    code, message = await _code(
        stub2.ResolveCredential(pb.ResolveCredentialRequest(name=credential.name))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "HOOKLINE_ENCRYPTION_KEY" in message and token not in message


async def test_without_a_key_credentials_are_refused_with_a_clear_error(
    start_trigger: StartTrigger, connect: Connect
) -> None:
    stub = connect(await start_trigger())
    code, message = await _code(_create(stub, fresh("nokey"), "bearer", {"token": "t"}))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "set HOOKLINE_ENCRYPTION_KEY" in message
    listed = await stub.ListCredentials(pb.ListCredentialsRequest())
    assert list(listed.credentials) == []


async def test_a_malformed_key_stops_the_service_without_repeating_it(
    make_settings: Callable[..., Settings], fake_execution: FakeExecution, fresh_sqlite: Callable[[str], str]
) -> None:
    bad = "not-a-key-" + fresh("k")
    settings = make_settings(
        database_url=fresh_sqlite("bad"), execution_addr=fake_execution.address, encryption_key=bad
    )
    with pytest.raises(EncryptionKeyInvalid) as caught:
        async with TriggerServer(settings):
            pass
    assert "HOOKLINE_ENCRYPTION_KEY" in caught.value.message
    assert bad not in caught.value.message
    assert bad not in repr(settings)


def _signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_webhook_auth_takes_credentials(
    keyed: TriggerStub, fake_execution: FakeExecution
) -> None:
    secret, password = fresh("secret"), fresh("pw")
    hmac_name, basic_name = fresh("gh"), fresh("basic")
    await _create(keyed, hmac_name, "hmac", {"secret": secret})
    await _create(keyed, basic_name, "httpBasic", {"username": "bob", "password": password})
    signed = await create(
        keyed,
        webhook_workflow(auth={"type": "hmac", "header": "X-Hub-Signature-256", "credential": hmac_name}),
    )
    basic = await create(keyed, webhook_workflow(auth={"type": "basic", "credential": basic_name}))
    assert signed["nodes"][0]["parameters"]["auth"] == {
        "type": "hmac", "header": "X-Hub-Signature-256", "credential": hmac_name
    }
    body = b'{"action": "opened"}'

    async def send(workflow: dict[str, Any], header: tuple[str, str]) -> pb.HandleWebhookResponse:
        path = workflow["nodes"][0]["parameters"]["path"]
        reply: pb.HandleWebhookResponse = await keyed.HandleWebhook(
            call(path, body=body, headers=[("Content-Type", "application/json"), header])
        )
        return reply

    wrong = await send(signed, ("X-Hub-Signature-256", _signature("wrong", body)))
    assert wrong.rejection == pb.WEBHOOK_REJECTION_UNAUTHORIZED
    right = await send(signed, ("X-Hub-Signature-256", _signature(secret, body)))
    assert right.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED and right.execution_id

    token = base64.b64encode(f"bob:{password}".encode()).decode()
    assert (await send(basic, ("Authorization", "Basic Ym9iOm5v"))).rejection == (
        pb.WEBHOOK_REJECTION_UNAUTHORIZED
    )
    accepted = await send(basic, ("Authorization", f"Basic {token}"))
    assert accepted.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED

    await fake_execution.service.wait_until(lambda runs: len(runs) == 2)
    for run in fake_execution.service.runs:
        text = run.raw_trigger_output.decode() + json.dumps(run.workflow)
        assert secret not in text and password not in text and token not in text


def test_dev_creates_a_key_file_beside_its_database(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    database = tmp_path / "dev.db"
    settings = make_settings(database_url=f"sqlite:///{database}")
    first = with_dev_key(settings)
    assert first.created and first.path == key_file_for(settings.database_url)
    assert first.path == tmp_path / "dev.db.key"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    key = first.settings.encryption_key
    assert key is not None and len(base64.urlsafe_b64decode(key.get_secret_value())) == 32

    again = with_dev_key(settings)
    assert not again.created and again.settings.encryption_key == key

    configured = with_dev_key(make_settings(database_url=f"sqlite:///{database}", encryption_key=KEY))
    assert configured.path is None
