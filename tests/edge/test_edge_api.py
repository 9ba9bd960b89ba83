"""The management API's HTTP mapping (/api/v1), against fake trigger, execution and
cache services."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hookline.execution.v1 import execution_service_pb2 as exec_pb

from hookline_runtime.errors import Unavailable
from tests.edge.edge_fakes import TIMED_OUT, FakeUpstreams, result_event, workflow_json

MakeClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]

pytestmark = pytest.mark.asyncio(loop_scope="module")

WORKFLOW = {"name": "Greeter", "nodes": [], "connections": []}


async def test_create_answers_201_with_the_stored_workflow_bytes_as_is(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    resp = await client.post("/api/v1/workflows", json=WORKFLOW)
    assert resp.status_code == 201
    assert resp.headers["content-type"] == "application/json"
    assert resp.content == workflow_json("wf-1", "Greeter")
    assert json.loads(fakes.trigger.received[0].workflow_json) == WORKFLOW


async def test_a_body_that_is_not_json_is_400_invalid_json_and_reaches_no_service(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.workflows["wf-9"] = workflow_json("wf-9", "x")
    for method, path in [
        ("POST", "/api/v1/workflows"),
        ("PUT", "/api/v1/workflows/wf-9"),
        ("PATCH", "/api/v1/workflows/wf-9"),
        ("POST", "/api/v1/workflows/wf-9/run"),
    ]:
        resp = await client.request(method, path, content=b"{not json")
        assert resp.status_code == 400, (method, path)
        assert resp.json()["error"] == "invalid_json"
        assert resp.json()["message"]
    assert fakes.trigger.received == []


async def test_an_invalid_workflow_is_422_with_the_services_message(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.workflows["wf-9"] = workflow_json("wf-9", "x")
    created = await client.post("/api/v1/workflows", json={"name": "no nodes"})
    replaced = await client.put("/api/v1/workflows/wf-9", json={"name": "no nodes"})
    patched = await client.patch("/api/v1/workflows/wf-9", json={"nodes": []})
    for resp in (created, replaced, patched):
        assert resp.status_code == 422
        assert resp.json()["error"] == "validation_error"
        assert "nodes" in resp.json()["message"]


async def test_a_taken_webhook_path_is_409(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/v1/workflows", json={**WORKFLOW, "name": "taken"})
    assert resp.status_code == 409
    assert resp.json()["error"] == "conflict"
    assert "POST /taken" in resp.json()["message"]


async def test_list_pages_with_data_and_next_cursor(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.workflows = {"a": workflow_json("a", "A"), "b": workflow_json("b", "B")}
    fakes.trigger.next_cursor = "opaque-2"
    first = await client.get("/api/v1/workflows", params={"limit": 2})
    fakes.trigger.next_cursor = ""
    last = await client.get("/api/v1/workflows", params={"cursor": "opaque-2"})
    assert first.status_code == 200
    assert first.json() == {
        "data": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        "nextCursor": "opaque-2",
    }
    assert last.json()["nextCursor"] is None
    assert [(r.limit, r.cursor) for r in fakes.trigger.received] == [(2, ""), (0, "opaque-2")]


async def test_a_limit_outside_1_to_100_is_400_json(client: httpx.AsyncClient) -> None:
    for limit in ("0", "101", "many"):
        resp = await client.get("/api/v1/workflows", params={"limit": limit})
        assert resp.status_code == 400, limit
        assert resp.json()["error"] == "bad_request"
        assert resp.json()["message"]


async def test_get_replace_patch_delete_a_workflow(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.workflows["wf-1"] = workflow_json("wf-1", "Old")
    got = await client.get("/api/v1/workflows/wf-1")
    replaced = await client.put("/api/v1/workflows/wf-1", json={**WORKFLOW, "name": "New"})
    patched = await client.patch("/api/v1/workflows/wf-1", json={"name": "Newer"})
    deleted = await client.delete("/api/v1/workflows/wf-1")
    missing = await client.get("/api/v1/workflows/wf-1")
    assert (got.status_code, got.json()["name"]) == (200, "Old")
    assert (replaced.status_code, replaced.json()["name"]) == (200, "New")
    assert (patched.status_code, patched.json()["name"]) == (200, "Newer")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "no workflow wf-1"}


async def test_unknown_workflow_is_404_for_every_verb(client: httpx.AsyncClient) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = None if method in ("GET", "DELETE") else b"{}"
        resp = await client.request(method, "/api/v1/workflows/nope", content=body)
        assert resp.status_code == 404, method
        assert resp.json()["error"] == "not_found"


async def test_run_answers_202_with_the_execution_id_and_passes_the_input(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.workflows["wf-1"] = workflow_json("wf-1", "Manual")
    with_body = await client.post("/api/v1/workflows/wf-1/run", json={"x": 1})
    empty = await client.post("/api/v1/workflows/wf-1/run")
    for resp in (with_body, empty):
        assert resp.status_code == 202
        assert resp.json() == {"executionId": resp.headers["x-execution-id"]}
    first, second = fakes.trigger.run_requests
    assert json.loads(first.input_json) == {"x": 1}
    assert second.input_json == b"{}"
    assert first.execution_id == with_body.headers["x-execution-id"]
    assert fakes.cache.watch_requests == []


async def test_run_with_wait_answers_200_with_the_record(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.workflows["wf-1"] = workflow_json("wf-1", "Manual")
    record = {"id": "r", "status": "error", "nodes": {}, "error": {"node": "A", "message": "m"}}
    fakes.cache.events = [result_event(record)]
    resp = await client.post("/api/v1/workflows/wf-1/run", params={"wait": "true"}, json={})
    assert resp.status_code == 200
    assert resp.json() == record
    (watch,) = fakes.cache.watch_requests
    assert watch.execution_id == resp.headers["x-execution-id"]
    assert watch.timeout_ms == fakes.trigger.run_timeout_seconds * 1000
    assert watch.saved_to_database is True
    assert watch.accept_early_response is False


async def test_run_with_wait_that_times_out_is_504(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.workflows["wf-1"] = workflow_json("wf-1", "Manual")
    fakes.cache.events = [TIMED_OUT]
    resp = await client.post("/api/v1/workflows/wf-1/run?wait=true")
    assert resp.status_code == 504
    assert resp.json()["error"] == "timeout"
    assert resp.json()["executionId"] == resp.headers["x-execution-id"]


async def test_run_of_an_unknown_workflow_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/v1/workflows/nope/run")
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"


async def test_executions_list_passes_filters_and_pages(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.execution.records = {"e2": b'{"id": "e2"}', "e1": b'{"id": "e1"}'}
    fakes.execution.next_cursor = "next"
    resp = await client.get(
        "/api/v1/executions",
        params={"workflowId": "wf-1", "status": "error", "limit": 5, "cursor": "c"},
    )
    everything = await client.get("/api/v1/executions")
    assert resp.status_code == 200
    assert resp.json() == {"data": [{"id": "e2"}, {"id": "e1"}], "nextCursor": "next"}
    filtered, unfiltered = fakes.execution.list_requests
    assert (filtered.workflow_id, filtered.status, filtered.limit, filtered.cursor) == (
        "wf-1",
        exec_pb.EXECUTION_STATUS_ERROR,
        5,
        "c",
    )
    assert unfiltered.status == exec_pb.EXECUTION_STATUS_UNSPECIFIED
    assert everything.status_code == 200


async def test_an_unknown_status_filter_is_400(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    resp = await client.get("/api/v1/executions", params={"status": "done"})
    assert resp.status_code == 400
    assert resp.json()["message"].startswith("status: ")  # the values: the OpenAPI enum
    assert fakes.execution.list_requests == []


async def test_an_execution_comes_from_the_database_when_saved(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.execution.records["e1"] = b'{"id": "e1",  "from": "db"}'
    fakes.cache.results["e1"] = (b'{"id": "e1"}', datetime.now(UTC) + timedelta(seconds=60))
    resp = await client.get("/api/v1/executions/e1")
    assert resp.status_code == 200
    assert resp.content == b'{"id": "e1",  "from": "db"}'
    assert resp.headers["x-hookline-source"] == "database"
    assert "x-hookline-expires-at" not in resp.headers


async def test_a_saved_running_row_gives_way_to_the_final_record_in_the_cache(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    # The final record reaches the cache a moment before it replaces the running row.
    fakes.execution.records["e3"] = b'{"id": "e3", "status": "running"}'
    fakes.cache.results["e3"] = (
        b'{"id": "e3", "status": "success"}', datetime.now(UTC) + timedelta(seconds=60)
    )
    resp = await client.get("/api/v1/executions/e3")
    assert resp.json() == {"id": "e3", "status": "success"}
    assert resp.headers["x-hookline-source"] == "cache"
    # Still running: the running row.
    fakes.execution.records["e4"] = b'{"id": "e4", "status": "running"}'
    resp = await client.get("/api/v1/executions/e4")
    assert resp.status_code == 200
    assert resp.json() == {"id": "e4", "status": "running"}
    assert resp.headers["x-hookline-source"] == "database"


async def test_an_unsaved_execution_comes_from_the_result_cache_with_its_expiry(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    fakes.cache.results["e2"] = (b'{"id": "e2", "from": "cache"}', expires)
    resp = await client.get("/api/v1/executions/e2")
    assert resp.status_code == 200
    assert resp.json() == {"id": "e2", "from": "cache"}
    assert resp.headers["x-hookline-source"] == "cache"
    assert resp.headers["x-hookline-expires-at"] == "2030-01-02T03:04:05Z"


async def test_an_execution_in_neither_place_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/executions/gone")
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"


async def test_the_api_key_is_required_when_configured(
    make_client: MakeClient, fakes: FakeUpstreams
) -> None:
    async with make_client(api_key="s3cret") as client:
        missing = await client.get("/api/v1/workflows")
        wrong = await client.get("/api/v1/workflows", headers={"X-API-Key": "s3creT"})
        right = await client.get("/api/v1/workflows", headers={"X-API-Key": "s3cret"})
        webhook = await client.post("/webhook/greet")
        health = await client.get("/healthz")
    for resp in (missing, wrong):
        assert resp.status_code == 401
        assert resp.json()["error"] == "unauthorized"
        assert resp.json()["message"]
    assert right.status_code == 200
    assert webhook.status_code == 200
    assert health.status_code == 200
    assert len(fakes.trigger.received) == 2  # the list that passed, and the webhook


async def test_without_an_api_key_setting_the_api_is_open(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/workflows")
    assert resp.status_code == 200


async def test_an_upstream_internal_error_is_500_with_a_general_message(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    fakes.trigger.fail_with = Unavailable("database at 10.1.2.3 is down")
    unavailable = await client.get("/api/v1/workflows")
    fakes.trigger.fail_with = None
    fakes.trigger.workflows["x"] = b"{}"
    fakes.trigger.received.clear()
    # A servicer bug (an exception that is not a HooklineError) reaches the edge as UNKNOWN.
    fakes.trigger.fail_with = KeyError("internal detail")
    broken = await client.get("/api/v1/workflows/x")
    assert unavailable.status_code == 503
    assert unavailable.json()["error"] == "unavailable"
    assert "10.1.2.3" not in unavailable.text
    assert broken.status_code == 500
    assert broken.json()["error"] == "internal"
    assert "internal detail" not in broken.text


@pytest.mark.parametrize(
    "document",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b"[" * 900 + b"]" * 900,
        b'{"a":"\\ud800"}',
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1e999}',
    ],
    ids=["deep-10000", "deep-900", "lone-surrogate", "nan", "inf", "minus-inf", "overflow"],
)
async def test_json_that_is_too_deep_or_not_strictly_json_is_400_and_reaches_no_service(
    client: httpx.AsyncClient, fakes: FakeUpstreams, document: bytes
) -> None:
    fakes.trigger.workflows["wf-9"] = workflow_json("wf-9", "x")
    for method, path in [
        ("POST", "/api/v1/workflows"),
        ("PUT", "/api/v1/workflows/wf-9"),
        ("PATCH", "/api/v1/workflows/wf-9"),
        ("POST", "/api/v1/workflows/wf-9/run"),
    ]:
        resp = await client.request(
            method, path, content=document, headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 400, (method, path, resp.text)
        assert resp.json()["error"] == "invalid_json"
        assert resp.json()["message"]
    assert fakes.trigger.received == []
