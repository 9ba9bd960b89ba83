"""Webhook secrets through the real stack: the HTTP API (and the console) never show
them, a PATCH keeps them, and authentication goes on working."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.edge.test_stack_edge import create, greeter

Unique = Callable[[str], str]

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLACEHOLDER = "********"
BODY = b'{"name": "Ada"}'


AUTHS: dict[str, tuple[dict[str, Any], str]] = {
    "header": ({"type": "header", "name": "X-Token"}, "value"),
    "basic": ({"type": "basic", "username": "ada"}, "password"),
    "hmac": ({"type": "hmac", "header": "X-Signature"}, "secret"),
}


def credentials(kind: str, secret: str) -> dict[str, str]:
    if kind == "header":
        return {"X-Token": secret}
    if kind == "basic":
        return {"Authorization": "Basic " + base64.b64encode(f"ada:{secret}".encode()).decode()}
    return {"X-Signature": hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()}


@pytest.mark.parametrize("kind", list(AUTHS))
async def test_the_api_never_shows_webhook_secrets_and_patch_keeps_them(
    http: httpx.AsyncClient, unique: Unique, kind: str
) -> None:
    secret = unique("s3cret")
    auth, field = AUTHS[kind]
    path = unique("secret")
    workflow = greeter(path, unique("Secret"))
    workflow["nodes"][0]["parameters"]["auth"] = {**auth, field: secret}
    created = await create(http, workflow)
    url = f"/api/v1/workflows/{created['id']}"

    patched = await http.patch(url, json={"active": False})
    await http.patch(url, json={"active": True})
    fetched = await http.get(url)
    listed = await http.get("/api/v1/workflows", params={"limit": 100})
    console = await http.get(f"/console/workflows/{created['id']}")
    for answer in (patched, fetched, listed, console):
        assert answer.status_code == 200, answer.text
        assert secret not in answer.text
    assert secret not in str(created)
    assert fetched.json()["nodes"][0]["parameters"]["auth"][field] == PLACEHOLDER

    headers = {"Content-Type": "application/json"}
    right = await http.post(
        f"/webhook/{path}", content=BODY, headers={**headers, **credentials(kind, secret)}
    )
    wrong = await http.post(
        f"/webhook/{path}", content=BODY, headers={**headers, **credentials(kind, "wrong")}
    )
    assert right.status_code == 201, right.text
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized"


def slack_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return {
        "X-Slack-Signature": "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest(),
        "X-Slack-Request-Timestamp": str(timestamp),
    }


def stripe_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    base = str(timestamp).encode() + b"." + body
    signature = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={signature}"}


@pytest.mark.parametrize("kind", ["slack", "stripe"])
async def test_timestamped_signatures_pass_fresh_and_refuse_replays_and_tampering(
    http: httpx.AsyncClient, unique: Unique, kind: str
) -> None:
    secret = unique("signing")
    path = unique(kind)
    workflow = greeter(path, unique(kind.title()))
    workflow["nodes"][0]["parameters"]["auth"] = {"type": kind, "secret": secret}
    created = await create(http, workflow)
    assert secret not in str(created)
    sign = slack_headers if kind == "slack" else stripe_headers
    now = int(time.time())
    json_type = {"Content-Type": "application/json"}

    async def send(headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
        return await http.post(f"/webhook/{path}", content=body, headers={**json_type, **headers})

    fresh = await send(sign(secret, now, BODY))
    replayed = await send(sign(secret, now - 600, BODY))
    tampered = await send(sign(secret, now, BODY), body=b'{"name": "Eve"}')
    assert fresh.status_code == 201 and fresh.json() == {"message": "Hello Ada"}
    for refused in (replayed, tampered):
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
        assert "x-execution-id" not in refused.headers
