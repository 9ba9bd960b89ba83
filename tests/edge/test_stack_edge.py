"""The edge in front of the real services (``hookline_launcher.stack.LocalStack``): the HTTP
contract of DESIGN.md section 3, end to end, on SQLite and the shared Redis."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

for _module in ("hookline_cache.server", "hookline_execution.server", "hookline_trigger.server"):
    pytest.importorskip(_module)

from hookline_edge.server import EdgeServer
from hookline_launcher.stack import LocalStack

Unique = Callable[[str], str]


pytestmark = pytest.mark.asyncio(loop_scope="module")


def greeter(path: str, name: str, *, save: bool = True, mode: str = "lastNode") -> dict[str, Any]:
    """DESIGN.md's example workflow on a fresh path."""
    return {
        "name": name,
        "active": True,
        "settings": {
            "saveExecutionToDatabase": save,
            "resultTtlSeconds": 60,
            "responseTimeoutSeconds": 30,
        },
        "nodes": [
            {
                "name": "Hook",
                "type": "webhook",
                "parameters": {"path": path, "method": "POST", "responseMode": mode},
            },
            {
                "name": "Shape",
                "type": "set",
                "parameters": {"values": {"greeting": "Hello {{ json.body.name }}"}},
            },
            {
                "name": "Reply",
                "type": "httpResponse",
                "parameters": {
                    "statusCode": 201,
                    "headers": {"X-Greeter": "1"},
                    "body": {"message": "{{ json.greeting }}"},
                },
            },
        ],
        "connections": [{"from": "Hook", "to": "Shape"}, {"from": "Shape", "to": "Reply"}],
    }


def hook_then(
    path: str,
    name: str,
    nodes: list[dict[str, Any]],
    *,
    mode: str = "lastNode",
    timeout: int = 30,
    save: bool = True,
    method: str = "POST",
) -> dict[str, Any]:
    """A webhook followed by ``nodes`` in a chain."""
    all_nodes = [
        {
            "name": "Hook",
            "type": "webhook",
            "parameters": {"path": path, "method": method, "responseMode": mode},
        },
        *nodes,
    ]
    names = [n["name"] for n in all_nodes]
    return {
        "name": name,
        "settings": {"saveExecutionToDatabase": save, "responseTimeoutSeconds": timeout},
        "nodes": all_nodes,
        "connections": [{"from": a, "to": b} for a, b in itertools.pairwise(names)],
    }


async def create(http: httpx.AsyncClient, workflow: dict[str, Any]) -> dict[str, Any]:
    resp = await http.post("/api/v1/workflows", json=workflow)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


async def test_greeter_answers_with_its_http_response_node(
    http: httpx.AsyncClient, unique: Unique
) -> None:
    path = unique("greet")
    await create(http, greeter(path, unique("Greeter")))
    resp = await http.post(f"/webhook/{path}", json={"name": "Ada"})
    assert resp.status_code == 201, resp.text
    assert resp.headers["x-greeter"] == "1"
    assert resp.json() == {"message": "Hello Ada"}
    execution_id = resp.headers["x-execution-id"]
    # The record reaches the cache (and the caller) first, the database a moment later.
    async with asyncio.timeout(5):
        while True:
            record = await http.get(f"/api/v1/executions/{execution_id}")
            assert record.status_code == 200
            if record.headers["x-hookline-source"] == "database":
                break
            await asyncio.sleep(0.02)
    assert record.json()["status"] == "success"
    assert record.json()["response"]["statusCode"] == 201


async def test_with_saving_off_the_record_comes_from_the_result_cache(
    http: httpx.AsyncClient, unique: Unique
) -> None:
    path = unique("greet")
    workflow = await create(http, greeter(path, unique("Greeter"), save=False))
    resp = await http.post(f"/webhook/{path}", json={"name": "Bo"})
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"message": "Hello Bo"}
    record = await http.get(f"/api/v1/executions/{resp.headers['x-execution-id']}")
    assert record.status_code == 200
    assert record.headers["x-hookline-source"] == "cache"
    assert record.headers["x-hookline-expires-at"].endswith("Z")
    listed = await http.get("/api/v1/executions", params={"workflowId": workflow["id"]})
    assert listed.json() == {"data": [], "nextCursor": None}


async def test_on_received_answers_at_once_and_the_run_is_saved(
    http: httpx.AsyncClient, unique: Unique
) -> None:
    path = unique("fire")
    workflow = await create(http, greeter(path, unique("Fire"), mode="onReceived"))
    resp = await http.post(f"/webhook/{path}", json={"name": "Cy"})
    assert resp.status_code == 200
    execution_id = resp.headers["x-execution-id"]
    assert resp.json() == {"executionId": execution_id, "status": "started"}
    wait = await http.post(
        f"/api/v1/workflows/{workflow['id']}/run", params={"wait": "true"}, json={}
    )
    assert wait.status_code == 200, wait.text  # a later run finished: so did this one, likely
    for _ in range(50):
        record = await http.get(f"/api/v1/executions/{execution_id}")
        if record.status_code == 200 and record.json()["status"] != "running":
            break
        await asyncio.sleep(0.05)  # polling the public API for an outside observation
    assert record.status_code == 200
    assert record.json()["status"] == "success"


async def test_response_node_answers_before_the_run_ends(
    http: httpx.AsyncClient, unique: Unique
) -> None:
    path = unique("early")
    await create(
        http,
        hook_then(
            path,
            unique("Early"),
            [
                {
                    "name": "Reply",
                    "type": "httpResponse",
                    "parameters": {"statusCode": 202, "body": "accepted"},
                },
                {"name": "Slow", "type": "wait", "parameters": {"seconds": 3}},
            ],
            mode="responseNode",
            save=False,
        ),
    )
    started = asyncio.get_running_loop().time()
    resp = await http.post(f"/webhook/{path}", json={})
    assert resp.status_code == 202, resp.text
    assert resp.text == "accepted"
    assert resp.headers["content-type"].startswith("text/plain")
    assert asyncio.get_running_loop().time() - started < 2.5


async def test_without_a_response_node_the_last_output_is_the_answer(
    http: httpx.AsyncClient, unique: Unique
) -> None:
    path = unique("last")
    await create(
        http,
        hook_then(
            path,
            unique("Last"),
            [
                {
                    "name": "Shape",
                    "type": "set",
                    "parameters": {"values": {"n": "{{ json.body.n }}"}, "keepOnlySet": True},
                },
            ],
        ),
    )
    resp = await http.post(f"/webhook/{path}", json={"n": 7})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"n": 7}


async def test_a_failed_run_is_500_naming_the_node(http: httpx.AsyncClient, unique: Unique) -> None:
    path = unique("fail")
    await create(
        http,
        hook_then(
            path,
            unique("Fail"),
            [
                {"name": "Boom", "type": "stopAndError", "parameters": {"message": "no luck"}},
            ],
        ),
    )
    resp = await http.post(f"/webhook/{path}", json={})
    assert resp.status_code == 500, resp.text
    body = resp.json()
    assert body["error"] == "execution_failed"
    assert body["executionId"] == resp.headers["x-execution-id"]
    assert body["node"] == "Boom"
    assert "no luck" in body["message"]


async def test_a_slow_run_is_504_and_its_record_can_be_fetched_later(
    http: httpx.AsyncClient, unique: Unique
) -> None:
    path = unique("slow")
    await create(
        http,
        hook_then(
            path,
            unique("Slow"),
            [
                {"name": "Nap", "type": "wait", "parameters": {"seconds": 1.5}},
            ],
            timeout=1,
            save=False,
        ),
    )
    resp = await http.post(f"/webhook/{path}", json={})
    assert resp.status_code == 504, resp.text
    execution_id = resp.headers["x-execution-id"]
    assert resp.json()["executionId"] == execution_id
    assert resp.json()["error"] == "timeout"
    for _ in range(60):
        record = await http.get(f"/api/v1/executions/{execution_id}")
        if record.status_code == 200:
            break
        await asyncio.sleep(0.05)  # polling the public API for an outside observation
    assert record.status_code == 200, record.text
    assert record.json()["status"] == "success"


async def test_webhook_rejections(http: httpx.AsyncClient, unique: Unique) -> None:
    path = unique("guarded")
    await create(
        http,
        {
            **hook_then(path, unique("Guarded"), [], method="PUT"),
            "nodes": [
                {
                    "name": "Hook",
                    "type": "webhook",
                    "parameters": {
                        "path": path,
                        "method": "PUT",
                        "responseMode": "onReceived",
                        "auth": {"type": "header", "name": "X-Token", "value": "t0ken"},
                    },
                }
            ],
            "connections": [],
        },
    )
    missing = await http.post(f"/webhook/{unique('nowhere')}")
    wrong_method = await http.post(f"/webhook/{path}")
    no_auth = await http.put(f"/webhook/{path}", json={})
    bad_json = await http.put(
        f"/webhook/{path}",
        content=b"{",
        headers={"X-Token": "t0ken", "Content-Type": "application/json"},
    )
    too_big = await http.put(
        f"/webhook/{path}", content=b"x" * (64 * 1024 + 1), headers={"X-Token": "t0ken"}
    )
    ok = await http.put(f"/webhook/{path}", json={}, headers={"X-Token": "t0ken"})
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert wrong_method.status_code == 405 and "PUT" in wrong_method.headers["allow"]
    assert no_auth.status_code == 401 and no_auth.json()["error"] == "unauthorized"
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "invalid_body"
    assert too_big.status_code == 413 and too_big.json()["error"] == "payload_too_large"
    assert ok.status_code == 200
    for rejected in (missing, wrong_method, no_auth, bad_json, too_big):
        assert "x-execution-id" not in rejected.headers


async def test_the_management_api_round_trip(http: httpx.AsyncClient, unique: Unique) -> None:
    path = unique("crud")
    created = await create(http, greeter(path, unique("Crud")))
    assert created["settings"]["resultTtlSeconds"] == 60
    assert created["id"] and created["createdAt"]
    conflict = await http.post("/api/v1/workflows", json=greeter(path, unique("Other")))
    invalid = await http.post(
        "/api/v1/workflows", json={"name": "x", "nodes": [], "connections": []}
    )
    got = await http.get(f"/api/v1/workflows/{created['id']}")
    patched = await http.patch(
        f"/api/v1/workflows/{created['id']}", json={"settings": {"resultTtlSeconds": 5}}
    )
    replaced = await http.put(f"/api/v1/workflows/{created['id']}", json=greeter(path, "Renamed"))
    page = await http.get("/api/v1/workflows", params={"limit": 1})
    deleted = await http.delete(f"/api/v1/workflows/{created['id']}")
    gone = await http.get(f"/api/v1/workflows/{created['id']}")
    assert conflict.status_code == 409, conflict.text
    assert invalid.status_code == 422 and invalid.json()["message"]
    assert got.json()["id"] == created["id"]
    assert patched.status_code == 200
    assert patched.json()["settings"]["resultTtlSeconds"] == 5
    assert patched.json()["settings"]["saveExecutionToDatabase"] is True
    assert replaced.status_code == 200 and replaced.json()["name"] == "Renamed"
    assert page.status_code == 200 and len(page.json()["data"]) == 1
    assert "nextCursor" in page.json()
    assert deleted.status_code == 204
    assert gone.status_code == 404


async def test_the_api_key_guards_the_management_api(stack: LocalStack) -> None:
    settings = stack.settings.model_copy(update={"api_key": "k3y", "edge_addr": "127.0.0.1:0"})
    async with EdgeServer(settings) as edge, httpx.AsyncClient(base_url=edge.url) as http:
        denied = await http.get("/api/v1/workflows")
        allowed = await http.get("/api/v1/workflows", headers={"X-API-Key": "k3y"})
        ready = await http.get("/readyz")
    assert denied.status_code == 401 and denied.json()["error"] == "unauthorized"
    assert allowed.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"]["redis"] == "ok"
