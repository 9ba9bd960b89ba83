"""Credentials through the whole stack (four services in this process, real Redis).

The API answers metadata only, pages, refuses duplicates and deletions of
credentials in use, and names bad fields. The secrecy check: a run whose httpRequest
uses a bearer credential against a local server that checks the header; the token
must then appear nowhere — not in the execution record, the API's answers, the
console's pages, the captured logs (caplog and stderr), nor in any Redis command
issued during the test (Redis MONITOR sees every value written, even ones deleted
since, such as the run queue's entry and the run's journal) or any key left after.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings
from tests.execution.local_http import LocalHttpServer, Reply, Request

Unique = Callable[[str], str]

KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], redis_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(make_settings(redis_url=redis_url, encryption_key=KEY)) as running:
        yield running


@pytest.fixture
async def http(stack: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as client:
        yield client


async def _credential(http: httpx.AsyncClient, name: str, type_: str, data: dict[str, str]) -> dict[str, Any]:
    answer = await http.post("/api/v1/credentials", json={"name": name, "type": type_, "data": data})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _caller(name: str, url: str, credential: str) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"name": "Start", "type": "manual"},
            {
                "name": "Call",
                "type": "httpRequest",
                "parameters": {"url": url, "credential": credential},
            },
            {
                "name": "Peek",
                "type": "set",
                "parameters": {
                    "values": {
                        "everything": "{{ nodes }}",
                        "tries": "{{ credential | default('none') }}",
                        "params": "{{ execution }}",
                    }
                },
            },
        ],
        "connections": [{"from": "Start", "to": "Call"}, {"from": "Call", "to": "Peek"}],
    }


async def test_credentials_api_answers_metadata_pages_and_refuses_conflicts(
    http: httpx.AsyncClient, unique: Unique
) -> None:
    token = unique("tok")
    name = unique("api")
    created = await _credential(http, name, "bearer", {"token": token})
    assert set(created) == {"id", "name", "type", "createdAt", "updatedAt"}
    assert (created["name"], created["type"]) == (name, "bearer")

    duplicate = await http.post(
        "/api/v1/credentials", json={"name": name, "type": "bearer", "data": {"token": "x"}}
    )
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "conflict"

    bad = await http.post("/api/v1/credentials", json={"name": unique("b"), "type": "bearer", "data": {}})
    assert bad.status_code == 422
    assert bad.json()["message"].startswith("data.token: is required")
    bad_type = await http.post("/api/v1/credentials", json={"name": "x", "type": "oauth", "data": {}})
    assert bad_type.status_code == 422 and bad_type.json()["message"].startswith("type:")
    not_json = await http.post("/api/v1/credentials", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_json"

    more = [await _credential(http, unique("page"), "hmac", {"secret": unique("s")}) for _ in range(2)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await http.get("/api/v1/credentials", params=params)
        assert page.status_code == 200 and token not in page.text
        seen.extend(item["id"] for item in page.json()["data"])
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    assert [created["id"], *(m["id"] for m in more)] == [i for i in seen if i in {created["id"], *(m["id"] for m in more)}]
    assert (await http.get("/api/v1/credentials", params={"limit": 101})).status_code == 400

    url = f"/api/v1/credentials/{created['id']}"
    got = await http.get(url)
    assert got.status_code == 200 and got.json() == created
    kept = await http.put(url, json={"name": name, "type": "bearer"})
    assert kept.status_code == 200 and kept.json()["updatedAt"] > created["updatedAt"]
    assert token not in kept.text

    workflow = _caller(unique("User"), "http://127.0.0.1:9/", name)
    used = await http.post("/api/v1/workflows", json=workflow)
    assert used.status_code == 201, used.text
    refused = await http.delete(url)
    assert refused.status_code == 409
    assert refused.json()["error"] == "conflict" and workflow["name"] in refused.json()["message"]

    missing = _caller(unique("Broken"), "http://127.0.0.1:9/", unique("nothing"))
    invalid = await http.post("/api/v1/workflows", json=missing)
    assert invalid.status_code == 422
    assert invalid.json()["message"].startswith('node "Call" parameter credential: no credential')

    await http.patch(f"/api/v1/workflows/{used.json()['id']}", json={"active": False})
    assert (await http.delete(url)).status_code == 204
    assert (await http.get(url)).status_code == 404

    schema = (await http.get("/schema/openapi.json")).json()
    assert {"post", "get"} <= set(schema["paths"]["/api/v1/credentials"])
    assert {"get", "put", "delete"} <= set(schema["paths"]["/api/v1/credentials/{credential_id}"])
    body = schema["paths"]["/api/v1/credentials"]["post"]["requestBody"]
    assert "data" in body["content"]["application/json"]["schema"]["properties"]


async def test_without_a_key_storing_a_credential_says_to_set_it(
    make_settings: Callable[..., Settings], redis_url: str, unique: Unique
) -> None:
    async with (
        LocalStack(make_settings(redis_url=redis_url)) as running,
        httpx.AsyncClient(base_url=running.edge_url, timeout=30) as http,
    ):
        answer = await http.post(
            "/api/v1/credentials", json={"name": unique("k"), "type": "bearer", "data": {"token": "t"}}
        )
        listed = await http.get("/api/v1/credentials")
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "encryption_key_missing"
    assert "HOOKLINE_ENCRYPTION_KEY" in answer.json()["message"]
    assert listed.status_code == 200 and listed.json() == {"data": [], "nextCursor": None}


async def _redis_values(client: aioredis.Redis) -> list[str]:
    """Every value of every key in the database, as text."""
    out: list[str] = []
    async for key in client.scan_iter(count=1000):
        kind = await client.type(key)
        value: Any
        if kind == b"string":
            value = await client.get(key)
        elif kind == b"hash":
            value = await client.hgetall(key)
        elif kind == b"list":
            value = await client.lrange(key, 0, -1)
        elif kind == b"set":
            value = await client.smembers(key)
        elif kind == b"zset":
            value = await client.zrange(key, 0, -1)
        elif kind == b"stream":
            value = await client.xrange(key)
        else:
            continue
        out.append(f"{key!r} {value!r}")
    return out


async def test_a_bearer_token_reaches_the_server_and_nothing_else(
    stack: LocalStack,
    http: httpx.AsyncClient,
    redis_url: str,
    unique: Unique,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "TOKEN" + uuid.uuid4().hex
    name = unique("bearer")

    # Every Redis command from here on is seen, values included.
    monitor_client = aioredis.Redis.from_url(redis_url)
    commands: list[str] = []
    marker = f"hookline:test:monitor-end:{uuid.uuid4().hex}"
    async with monitor_client.monitor() as monitor:
        async def collect() -> None:
            async for command in monitor.listen():
                commands.append(command["command"])
                if marker in command["command"]:
                    return

        listening = asyncio.create_task(collect())
        # MONITOR is on once its own echo of a probe arrives.
        probe = aioredis.Redis.from_url(redis_url)
        await probe.exists("hookline:test:monitor-start")

        def check(request: Request) -> Reply:
            ok = request.headers.get("authorization") == f"Bearer {token}"
            return Reply(status=200 if ok else 401, headers={"Content-Type": "application/json"},
                         body=json.dumps({"authorized": ok}).encode())

        async with LocalHttpServer() as server:
            server.routes["/check"] = check
            credential = await _credential(http, name, "bearer", {"token": token})
            workflow = await http.post(
                "/api/v1/workflows", json=_caller(unique("Secret"), server.url("/check"), name)
            )
            assert workflow.status_code == 201, workflow.text
            workflow_id = workflow.json()["id"]
            ran = await http.post(f"/api/v1/workflows/{workflow_id}/run", params={"wait": "true"}, json={})
            assert ran.status_code == 200, ran.text
            record = ran.json()
            assert record["status"] == "success", record
            assert record["nodes"]["Call"]["output"]["statusCode"] == 200
            assert record["nodes"]["Call"]["output"]["body"] == {"authorized": True}
            assert (await server.request_to("/check")).headers["authorization"] == f"Bearer {token}"

        execution_id = record["id"]
        answers = [
            ran,
            await http.get(f"/api/v1/executions/{execution_id}"),
            await http.get("/api/v1/executions", params={"workflowId": workflow_id}),
            await http.get(f"/api/v1/workflows/{workflow_id}"),
            await http.get("/api/v1/credentials", params={"limit": 100}),
            await http.get(f"/api/v1/credentials/{credential['id']}"),
            await http.get(f"/console/executions/{execution_id}"),
            await http.get(f"/console/workflows/{workflow_id}"),
            await http.get("/console/credentials"),
        ]
        for answer in answers:
            assert answer.status_code == 200, (answer.url, answer.status_code)
            assert token not in answer.text, answer.url

        await probe.exists(marker)
        await asyncio.wait_for(listening, 10)
        values = await _redis_values(probe)
        await probe.aclose()
    await monitor_client.aclose()

    assert any(execution_id in command for command in commands), "MONITOR saw the run"
    assert not [c for c in commands if token in c]
    assert not [v for v in values if token in v]
    logged = caplog.text + "".join(str(r.msg) + str(r.args) for r in caplog.records)
    assert token not in logged
    out, err = capfd.readouterr()
    assert token not in out and token not in err
