"""``hookline dev``'s in-process wiring, through the HTTP API of a whole stack.

- The management API (workflows, credentials, manual runs, execution records) and
  what its runs need from other services (a credential for httpRequest, a child
  workflow found, started and waited for) make no gRPC call at all in-process. The
  count comes from gRPC itself: channelz, the per-server call counters of gRPC core,
  read for the stack's three listen addresses. The same work on the ``grpc`` wiring
  must show calls on every server: that is what proves the counters are read right.
- Every error of the management API answers the same status and body on both
  wirings (ids that differ between the two stacks are replaced by their role).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

# channelz, gRPC core's own per-server call counters: grpcio exposes them to Python
# only here (the grpcio-channelz package serves this same module over gRPC).
from grpc._cython import cygrpc  # type: ignore[attr-defined]

from hookline_launcher.stack import LocalStack, Wiring
from hookline_runtime.settings import Settings
from tests.stack.support import saved_rows_reach

pytestmark = pytest.mark.timeout(90)

Unique = Callable[[str], str]

KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


def grpc_calls_received(stack: LocalStack) -> dict[str, int]:
    """Calls each of the stack's gRPC servers has received (unary and streams alike),
    by service, from channelz."""
    addresses = {
        "trigger": stack.trigger_address,
        "execution": stack.execution_address,
        "cache": stack.cache_address,
    }
    calls: dict[str, int] = {}
    start = 0
    while True:
        page = json.loads(cygrpc.channelz_get_servers(start))
        # In id order: a stopped server that had the same port is older, so the
        # stack's own server, listed after it, is the one kept.
        for server in page.get("server", []):
            names = [socket["name"] for socket in server.get("listenSocket", [])]
            for service, address in addresses.items():
                if any(name.endswith(f":{address}") for name in names):
                    calls[service] = int(server["data"].get("callsStarted", 0))
            start = max(start, int(server["ref"]["serverId"]) + 1)
        if page.get("end", True):
            break
    missing = set(addresses) - set(calls)
    assert not missing, f"channelz lists no server for {missing}"
    return calls


async def _created(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def manage_and_run(http: httpx.AsyncClient, stack: LocalStack, unique: Unique) -> None:
    """Management work of every kind, and runs that need the trigger's credentials and
    workflows and the cache's results: every answer as documented."""
    credential = await _created(await http.post("/api/v1/credentials", json={
        "name": unique("probe"), "type": "httpHeader",
        "data": {"name": "X-Probe", "value": "not-a-secret"},
    }))
    assert (await http.get(f"/api/v1/credentials/{credential['id']}")).status_code == 200
    assert (await http.get("/api/v1/credentials")).status_code == 200

    child = await _created(await http.post("/api/v1/workflows", json={
        "name": unique("child"),
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [{"name": "Start", "type": "manual"},
                  {"name": "Shape", "type": "set",
                   "parameters": {"values": {"n": "{{ json.n }}"}}}],
        "connections": [{"from": "Start", "to": "Shape"}],
    }))
    parent_document = {
        "name": unique("parent"),
        "nodes": [
            {"name": "Start", "type": "manual"},
            {"name": "Probe", "type": "httpRequest",
             "parameters": {"url": f"{stack.edge_url}/healthz", "credential": credential["name"]}},
            {"name": "Call", "type": "executeWorkflow",
             "parameters": {"workflowName": child["name"], "input": {"n": 7}}},
        ],
        "connections": [{"from": "Start", "to": "Probe"}, {"from": "Probe", "to": "Call"}],
    }
    parent = await _created(await http.post("/api/v1/workflows", json=parent_document))
    assert (await http.get("/api/v1/workflows")).status_code == 200
    assert (await http.get(f"/api/v1/workflows/{parent['id']}")).status_code == 200
    replaced = await http.put(f"/api/v1/workflows/{parent['id']}", json=parent_document)
    assert replaced.status_code == 200, replaced.text
    patched = await http.patch(f"/api/v1/workflows/{parent['id']}",
                               json={"settings": {"responseTimeoutSeconds": 20}})
    assert patched.status_code == 200, patched.text

    run = await http.post(f"/api/v1/workflows/{parent['id']}/run?wait=true", json={})
    assert run.status_code == 200, run.text
    record = run.json()
    assert record["status"] == "success", record
    assert record["nodes"]["Probe"]["output"]["statusCode"] == 200
    assert record["nodes"]["Call"]["output"] == {"n": 7}
    # The answer leaves before the database write: wait (bounded) for the final row.
    assert await saved_rows_reach(stack.settings.database_url, parent["id"], 1) == 1
    saved = await http.get(f"/api/v1/executions/{record['id']}")
    assert saved.status_code == 200 and saved.headers["x-hookline-source"] == "database"
    listed = await http.get("/api/v1/executions", params={"workflowId": parent["id"]})
    assert [r["id"] for r in listed.json()["data"]] == [record["id"]]

    started = await http.post(f"/api/v1/workflows/{child['id']}/run?wait=true", json={"n": 1})
    assert started.status_code == 200, started.text
    cached = await http.get(f"/api/v1/executions/{started.json()['id']}")
    assert cached.status_code == 200 and cached.headers["x-hookline-source"] == "cache"

    for path in (f"/api/v1/workflows/{parent['id']}", f"/api/v1/workflows/{child['id']}",
                 f"/api/v1/credentials/{credential['id']}"):
        assert (await http.delete(path)).status_code == 204
    assert (await http.get(f"/api/v1/workflows/{parent['id']}")).status_code == 404


@pytest.mark.parametrize(("wiring", "over_grpc"), [("in-process", False), ("grpc", True)])
async def test_management_work_makes_grpc_calls_only_when_wired_over_grpc(
    wiring: Wiring, over_grpc: bool, make_settings: Callable[..., Settings], redis_url: str,
    unique: Unique,
) -> None:
    settings = make_settings(redis_url=redis_url, encryption_key=KEY)
    async with (
        LocalStack(settings, wiring=wiring) as stack,
        httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as http,
    ):
        before = grpc_calls_received(stack)
        await manage_and_run(http, stack, unique)
        after = grpc_calls_received(stack)

    made = {service: after[service] - before[service] for service in after}
    if over_grpc:
        assert all(count > 0 for count in made.values()), made
    else:
        assert made == {"trigger": 0, "execution": 0, "cache": 0}


# ---------------------------------------------------------------- the same errors

Answer = tuple[str, int, Any]


class Recorder:
    """Calls the API and keeps ``(label, status, body)``, with the ids this stack
    made replaced by their role (``<workflow W1>``), so two stacks compare."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.answers: list[Answer] = []
        self._roles: dict[str, str] = {}

    def name(self, value: str, role: str) -> None:
        self._roles[value] = f"<{role}>"

    async def call(self, label: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        answer = await self.http.request(method, url, **kwargs)
        text = answer.text
        for value, role in self._roles.items():
            text = text.replace(value, role)
        body: Any = json.loads(text) if text else None
        if answer.is_success and isinstance(body, dict):
            body = sorted(body)  # stored documents: timestamps differ, their shape does not
        self.answers.append((label, answer.status_code, body))
        return answer


def _hook(name: str, path: str, **params: Any) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [{"name": "Hook", "type": "webhook",
                   "parameters": {"path": path, "method": "POST", **params}}],
        "connections": [],
    }


async def management_errors(http: httpx.AsyncClient) -> list[Answer]:
    """Every way a management call can be refused, with fixed names (each stack has
    a database of its own)."""
    api = Recorder(http)
    # Workflows.
    await api.call("create invalid", "POST", "/api/v1/workflows",
                   json={"name": "Broken", "nodes": [{"name": "A", "type": "nope"}]})
    first = await api.call("create", "POST", "/api/v1/workflows", json=_hook("First", "taken"))
    api.name(first.json()["id"], "workflow First")
    first_id = first.json()["id"]
    await api.call("create taken path", "POST", "/api/v1/workflows", json=_hook("Second", "taken"))
    await api.call("get unknown", "GET", "/api/v1/workflows/nope-1")
    await api.call("list bad cursor", "GET", "/api/v1/workflows", params={"cursor": "AAAA"})
    await api.call("replace unknown", "PUT", "/api/v1/workflows/nope-1", json=_hook("X", "x"))
    await api.call("replace invalid", "PUT", f"/api/v1/workflows/{first_id}",
                   json={"name": "First", "nodes": []})
    await api.call("patch a field that cannot be", "PATCH", f"/api/v1/workflows/{first_id}",
                   json={"nodes": []})
    await api.call("patch bad settings", "PATCH", f"/api/v1/workflows/{first_id}",
                   json={"settings": {"resultTtlSeconds": 0}})
    await api.call("patch unknown", "PATCH", "/api/v1/workflows/nope-1", json={"active": False})
    await api.call("delete unknown", "DELETE", "/api/v1/workflows/nope-1")
    await api.call("run unknown", "POST", "/api/v1/workflows/nope-1/run", json={})
    run = await api.call("run", "POST", f"/api/v1/workflows/{first_id}/run", json={"a": 1},
                         headers={"Idempotency-Key": "k-1"})
    api.name(run.json()["executionId"], "execution of First")
    await api.call("run with a reused key", "POST", f"/api/v1/workflows/{first_id}/run",
                   json={"a": 2}, headers={"Idempotency-Key": "k-1"})
    # Credentials.
    await api.call("credential without data", "POST", "/api/v1/credentials",
                   json={"name": "Token", "type": "bearer"})
    await api.call("credential bad type", "POST", "/api/v1/credentials",
                   json={"name": "Token", "type": "nope", "data": {}})
    token = await api.call("credential", "POST", "/api/v1/credentials",
                           json={"name": "Token", "type": "bearer", "data": {"token": "t"}})
    token_id = token.json()["id"]
    api.name(token_id, "credential Token")
    await api.call("credential taken name", "POST", "/api/v1/credentials",
                   json={"name": "Token", "type": "bearer", "data": {"token": "u"}})
    await api.call("credential get unknown", "GET", "/api/v1/credentials/nope-1")
    await api.call("credential list bad cursor", "GET", "/api/v1/credentials",
                   params={"cursor": "AAAA"})
    await api.call("credential replace unknown", "PUT", "/api/v1/credentials/nope-1",
                   json={"name": "Other", "type": "bearer", "data": {"token": "t"}})
    await api.call("credential delete unknown", "DELETE", "/api/v1/credentials/nope-1")
    user = await api.call("workflow using it", "POST", "/api/v1/workflows", json={
        "name": "User",
        "nodes": [{"name": "Start", "type": "manual"},
                  {"name": "Get", "type": "httpRequest",
                   "parameters": {"url": "http://127.0.0.1:9/", "credential": "Token"}}],
        "connections": [{"from": "Start", "to": "Get"}],
    })
    api.name(user.json()["id"], "workflow User")
    await api.call("credential delete in use", "DELETE", f"/api/v1/credentials/{token_id}")
    await api.call("credential rename in use", "PUT", f"/api/v1/credentials/{token_id}",
                   json={"name": "Renamed", "type": "bearer"})
    await api.call("workflow naming no credential", "POST", "/api/v1/workflows", json={
        "name": "Lost",
        "nodes": [{"name": "Start", "type": "manual"},
                  {"name": "Get", "type": "httpRequest",
                   "parameters": {"url": "http://127.0.0.1:9/", "credential": "Missing"}}],
        "connections": [{"from": "Start", "to": "Get"}],
    })
    # Execution records.
    await api.call("execution unknown", "GET", "/api/v1/executions/nope-1")
    await api.call("executions bad cursor", "GET", "/api/v1/executions", params={"cursor": "AAAA"})
    await api.call("executions of no workflow", "GET", "/api/v1/executions",
                   params={"workflowId": "nope-1"})
    return api.answers


async def _answers_on(
    wiring: Wiring, settings: Settings, calls: Callable[[httpx.AsyncClient], Any]
) -> list[Answer]:
    async with (
        LocalStack(settings, wiring=wiring) as stack,
        httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as http,
    ):
        answers: list[Answer] = await calls(http)
    return answers


def _fresh(make_settings: Callable[..., Settings], redis_url: str, database: Path,
           **overrides: Any) -> Settings:
    return make_settings(redis_url=redis_url, database_url=f"sqlite:///{database}", **overrides)


async def test_management_errors_answer_the_same_on_both_wirings(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path: Path
) -> None:
    answers = {
        wiring: await _answers_on(
            wiring,
            _fresh(make_settings, redis_url, tmp_path / f"{wiring}.db", encryption_key=KEY),
            management_errors,
        )
        for wiring in ("in-process", "grpc")
    }

    in_process, over_grpc = answers["in-process"], answers["grpc"]
    assert [a[0] for a in in_process] == [a[0] for a in over_grpc]
    for mine, theirs in zip(in_process, over_grpc, strict=True):
        assert mine == theirs
    # And they are the documented answers.
    statuses = {label: status for label, status, _ in in_process}
    assert statuses == {
        "create invalid": 422, "create": 201, "create taken path": 409, "get unknown": 404,
        "list bad cursor": 400, "replace unknown": 404, "replace invalid": 422,
        "patch a field that cannot be": 422, "patch bad settings": 422, "patch unknown": 404,
        "delete unknown": 404, "run unknown": 404, "run": 202, "run with a reused key": 422,
        "credential without data": 422, "credential bad type": 422, "credential": 201,
        "credential taken name": 409, "credential get unknown": 404,
        "credential list bad cursor": 400, "credential replace unknown": 404,
        "credential delete unknown": 404, "workflow using it": 201,
        "credential delete in use": 409, "credential rename in use": 409,
        "workflow naming no credential": 422, "execution unknown": 404,
        "executions bad cursor": 400, "executions of no workflow": 200,
    }


async def _without_key(http: httpx.AsyncClient) -> list[Answer]:
    api = Recorder(http)
    await api.call("credential", "POST", "/api/v1/credentials",
                   json={"name": "Token", "type": "bearer", "data": {"token": "t"}})
    await api.call("credentials", "GET", "/api/v1/credentials")
    return api.answers


async def test_without_an_encryption_key_storing_a_credential_answers_the_same_on_both_wirings(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path: Path
) -> None:
    answers = {
        wiring: await _answers_on(
            wiring, _fresh(make_settings, redis_url, tmp_path / f"{wiring}.db"), _without_key
        )
        for wiring in ("in-process", "grpc")
    }

    assert answers["in-process"] == answers["grpc"]
    (_, status, body), (_, listed, _) = answers["in-process"]
    assert status == 503 and body["error"] == "encryption_key_missing"
    assert "HOOKLINE_ENCRYPTION_KEY" in body["message"]
    assert listed == 200
