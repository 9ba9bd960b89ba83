"""Webhook auth: header, basic and HMAC, each right, wrong and missing. A failure
starts nothing; a success keeps the credentials out of the trigger output."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any

import grpc
import pytest
from hookline.trigger.v1 import trigger_service_pb2 as pb

from hookline_runtime.workflow import SlackAuth, StripeAuth
from hookline_trigger.domain.webhook_auth import authenticate
from hookline_trigger.domain.webhook_request import header_map

from ..builders import call, fresh, webhook_workflow
from ..conftest import FakeExecution, TriggerStub, create

pytestmark = pytest.mark.asyncio(loop_scope="module")


BODY = b'{"order": 42}'


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _signature(secret: str, body: bytes = BODY) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _hook(stub: TriggerStub, auth: dict[str, Any]) -> str:
    stored = await create(stub, webhook_workflow(auth=auth))
    path: str = stored["nodes"][0]["parameters"]["path"]
    return path


async def _send(
    stub: TriggerStub, path: str, headers: Sequence[tuple[str, str]]
) -> pb.HandleWebhookResponse:
    response: pb.HandleWebhookResponse = await stub.HandleWebhook(
        call(path, body=BODY, headers=[("Content-Type", "application/json"), *headers])
    )
    return response


def _assert_no_secret(fake: FakeExecution, *secrets: str) -> None:
    (run,) = fake.service.runs
    text = run.raw_trigger_output.decode()
    for secret in secrets:
        assert secret not in text
    assert "authorization" not in run.trigger_output["headers"]


async def test_header_auth(trigger: TriggerStub, fake_execution: FakeExecution) -> None:
    token = fresh("token")
    path = await _hook(trigger, {"type": "header", "name": "X-Api-Token", "value": token})

    for headers in ([], [("X-Api-Token", "wrong")], [("X-Other", token)]):
        rejected = await _send(trigger, path, headers)
        assert rejected.rejection == pb.WEBHOOK_REJECTION_UNAUTHORIZED
    assert fake_execution.service.runs == []

    accepted = await _send(trigger, path, [("x-api-token", token), ("X-Keep", "1")])
    assert accepted.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    _assert_no_secret(fake_execution, token)
    headers = fake_execution.service.runs[0].trigger_output["headers"]
    assert "x-api-token" not in headers
    assert headers["x-keep"] == "1"


async def test_basic_auth(trigger: TriggerStub, fake_execution: FakeExecution) -> None:
    password = fresh("pw")
    path = await _hook(trigger, {"type": "basic", "username": "ada", "password": password})

    for headers in (
        [],
        [("Authorization", _basic("ada", "wrong"))],
        [("Authorization", _basic("bob", password))],
        [("Authorization", "Basic !!not-base64!!")],
        [("Authorization", "Bearer " + password)],
        [("Authorization", "Basic " + base64.b64encode(b"ada").decode())],
    ):
        rejected = await _send(trigger, path, headers)
        assert rejected.rejection == pb.WEBHOOK_REJECTION_UNAUTHORIZED, headers
    assert fake_execution.service.runs == []

    accepted = await _send(trigger, path, [("Authorization", _basic("ada", password))])
    assert accepted.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    _assert_no_secret(fake_execution, password, _basic("ada", password))


@pytest.mark.parametrize("prefix", ["", "sha256="])
async def test_hmac_auth_accepts_a_true_signature(
    trigger: TriggerStub, fake_execution: FakeExecution, prefix: str
) -> None:
    secret = fresh("secret")
    path = await _hook(trigger, {"type": "hmac", "header": "X-Signature", "secret": secret})
    accepted = await _send(trigger, path, [("X-Signature", prefix + _signature(secret))])
    assert accepted.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    _assert_no_secret(fake_execution, secret, _signature(secret))
    assert fake_execution.service.runs[0].trigger_output["body"] == {"order": 42}


async def test_hmac_auth_refuses_forged_and_missing_signatures(
    trigger: TriggerStub, fake_execution: FakeExecution
) -> None:
    secret = fresh("secret")
    path = await _hook(trigger, {"type": "hmac", "header": "X-Signature", "secret": secret})
    for headers in (
        [],
        [("X-Signature", _signature("guessed-secret"))],
        [("X-Signature", "sha256=" + _signature(secret, b'{"order": 43}'))],
        [("X-Signature", "sha1=" + _signature(secret))],
        [("X-Signature", "")],
    ):
        rejected = await _send(trigger, path, headers)
        assert rejected.rejection == pb.WEBHOOK_REJECTION_UNAUTHORIZED, headers
    assert fake_execution.service.runs == []


async def test_auth_is_checked_before_the_body(
    trigger: TriggerStub, fake_execution: FakeExecution
) -> None:
    token = fresh("token")
    path = await _hook(trigger, {"type": "header", "name": "X-Token", "value": token})
    response = await trigger.HandleWebhook(
        call(path, body=b"{broken", headers=[("Content-Type", "application/json")])
    )
    assert response.rejection == pb.WEBHOOK_REJECTION_UNAUTHORIZED
    response = await trigger.HandleWebhook(
        call(
            path,
            body=b"{broken",
            headers=[("Content-Type", "application/json"), ("X-Token", token)],
        )
    )
    assert response.rejection == pb.WEBHOOK_REJECTION_INVALID_BODY
    assert fake_execution.service.runs == []


@pytest.mark.parametrize("credential", ["Basic éé", "Basic \xff\xfe", "Basic " + "\x80" * 8])
async def test_basic_auth_with_non_ascii_bytes_is_unauthorized(
    trigger: TriggerStub, fake_execution: FakeExecution, credential: str
) -> None:
    """The edge passes header bytes on as latin-1: a non-ASCII Basic credential is a
    plain failure, not an uncaught ``ValueError`` from base64."""
    path = await _hook(trigger, {"type": "basic", "username": "ada", "password": fresh("pw")})
    rejected = await _send(trigger, path, [("Authorization", credential)])
    assert rejected.rejection == pb.WEBHOOK_REJECTION_UNAUTHORIZED
    assert fake_execution.service.runs == []


# ------------------------------------------------ timestamped signatures (replay)
def _slack_headers(secret: str, timestamp: int, body: bytes = BODY) -> list[tuple[str, str]]:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return [("X-Slack-Signature", signature), ("X-Slack-Request-Timestamp", str(timestamp))]


def _stripe_signature(secret: str, timestamp: int, body: bytes = BODY) -> str:
    base = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _stripe_headers(secret: str, timestamp: int, body: bytes = BODY) -> list[tuple[str, str]]:
    signature = _stripe_signature(secret, timestamp, body)
    return [("Stripe-Signature", f"t={timestamp},v1={signature},v0=ignored")]


async def test_slack_signatures_within_the_window_pass_and_others_do_not(
    trigger: TriggerStub, fake_execution: FakeExecution
) -> None:
    secret = fresh("slack")
    path = await _hook(trigger, {"type": "slack", "secret": secret})
    now = int(time.time())
    for headers in (
        [],
        _slack_headers(secret, now - 301),  # replayed after the default 300 s
        _slack_headers(secret, now + 301),  # from the future
        _slack_headers("guessed", now),
        _slack_headers(secret, now, b'{"order": 43}'),  # the body was tampered with
        [_slack_headers(secret, now)[0]],  # no timestamp
        [_slack_headers(secret, now)[0], ("X-Slack-Request-Timestamp", str(now + 1))],
        [_slack_headers(secret, now)[0], ("X-Slack-Request-Timestamp", "soon")],
    ):
        rejected = await _send(trigger, path, headers)
        assert rejected.rejection == pb.WEBHOOK_REJECTION_UNAUTHORIZED, headers
    assert fake_execution.service.runs == []

    accepted = await _send(trigger, path, _slack_headers(secret, now))
    assert accepted.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    (run,) = fake_execution.service.runs
    assert "x-slack-signature" not in run.trigger_output["headers"]
    assert run.trigger_output["headers"]["x-slack-request-timestamp"] == str(now)


async def test_stripe_signatures_within_the_window_pass_and_others_do_not(
    trigger: TriggerStub, fake_execution: FakeExecution
) -> None:
    secret = fresh("whsec")
    path = await _hook(trigger, {"type": "stripe", "secret": secret, "toleranceSeconds": 60})
    now = int(time.time())
    good = _stripe_signature(secret, now)
    for headers in (
        [],
        _stripe_headers(secret, now - 61),  # outside this workflow's 60 s
        _stripe_headers("guessed", now),
        _stripe_headers(secret, now, b'{"order": 43}'),
        [("Stripe-Signature", f"v1={good}")],  # no timestamp
        [("Stripe-Signature", f"t={now}")],  # no signature
        [("Stripe-Signature", f"t={now + 1},v1={good}")],  # the timestamp was changed
        [("Stripe-Signature", f"t={now},v0={good}")],  # only v1 counts
    ):
        rejected = await _send(trigger, path, headers)
        assert rejected.rejection == pb.WEBHOOK_REJECTION_UNAUTHORIZED, headers
    assert fake_execution.service.runs == []

    # While a secret is rolled, Stripe sends one v1 per secret: any one may match.
    rolled = [("Stripe-Signature", f"t={now},v1={'0' * 64},v1={good}")]
    accepted = await _send(trigger, path, rolled)
    assert accepted.rejection == pb.WEBHOOK_REJECTION_UNSPECIFIED
    _assert_no_secret(fake_execution, secret, good)
    assert "stripe-signature" not in fake_execution.service.runs[0].trigger_output["headers"]


@pytest.mark.parametrize("kind", ["slack", "stripe"])
async def test_the_tolerance_window_is_inclusive_and_symmetric(kind: str) -> None:
    auth = (
        SlackAuth(type="slack", secret="s")
        if kind == "slack"
        else StripeAuth(type="stripe", secret="s", toleranceSeconds=300)
    )
    signed_at = 1_700_000_000
    make = _slack_headers if kind == "slack" else _stripe_headers
    headers = header_map(make("s", signed_at))
    for now, expected in (
        (signed_at, True),
        (signed_at + 300, True),
        (signed_at - 300, True),
        (signed_at + 301, False),
        (signed_at - 301, False),
    ):
        assert authenticate(auth, headers, BODY, now=now) is expected, now


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ({"type": "slack"}, "auth.secret"),
        ({"type": "slack", "secret": ""}, "auth.secret"),
        ({"type": "stripe", "secret": "s", "toleranceSeconds": 0}, "auth.toleranceSeconds"),
        ({"type": "stripe", "secret": "s", "toleranceSeconds": "x"}, "auth.toleranceSeconds"),
        ({"type": "slack", "secret": "s", "header": "X"}, "auth.header"),
    ],
)
async def test_invalid_timestamped_auth_is_refused_naming_the_field(
    trigger: TriggerStub, auth: dict[str, Any], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await create(trigger, webhook_workflow(auth=auth))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (info.value.details() or ""), info.value.details()


@pytest.mark.parametrize("kind", ["slack", "stripe"])
async def test_timestamped_secrets_are_write_only(trigger: TriggerStub, kind: str) -> None:
    secret = fresh("signing")
    stored = await create(trigger, webhook_workflow(auth={"type": kind, "secret": secret}))
    auth = stored["nodes"][0]["parameters"]["auth"]
    assert auth == {"type": kind, "secret": "********"}
    fetched = await trigger.GetWorkflow(pb.GetWorkflowRequest(id=stored["id"]))
    assert secret.encode() not in fetched.workflow.workflow_json
