"""Bad input through the real stack (edge, trigger, execution, cache): a clear 4xx with
an ``{error, message}`` body, never a 5xx. JSON is parsed strictly: at most
``MAX_JSON_DEPTH`` levels, no ``NaN``/``Infinity``/out-of-range numbers, no lone
surrogates; a Basic credential that is not ASCII is a plain 401."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hookline_runtime.strict_json import MAX_JSON_DEPTH
from tests.edge.test_stack_edge import create, greeter, hook_then

Unique = Callable[[str], str]

pytestmark = pytest.mark.asyncio(loop_scope="module")

JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BAD_JSON: dict[str, bytes] = {
    "deep-10000": nested(10_000),
    "deep-900": nested(900),
    "one-over-the-limit": nested(MAX_JSON_DEPTH + 1),
    "lone-surrogate": b'{"a":"\\ud800"}',
    "nan": b'{"a":NaN}',
    "infinity": b'{"a":Infinity}',
    "minus-infinity": b'{"a":-Infinity}',
    "overflow": b'{"a":1e999}',
    "bytes-not-utf8": b'{"a":"\xed\xa0\x80"}',
}


def assert_error(resp: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body: dict[str, Any] = resp.json()
    assert body["error"] == error and body["message"], body
    assert "x-execution-id" not in resp.headers
    return body


@pytest.mark.parametrize("case", list(BAD_JSON))
async def test_bad_json_in_a_webhook_body_is_400_and_starts_nothing(
    http: httpx.AsyncClient, unique: Unique, case: str
) -> None:
    path = unique("strict")
    await create(http, greeter(path, unique("Strict")))
    resp = await http.post(f"/webhook/{path}", content=BAD_JSON[case], headers=JSON)
    body = assert_error(resp, 400, "invalid_body")
    if case.startswith(("deep", "one-over")):
        assert f"{MAX_JSON_DEPTH} levels" in body["message"]


async def test_json_at_the_depth_limit_runs(http: httpx.AsyncClient, unique: Unique) -> None:
    path = unique("deep-ok")
    echo = {"name": "Echo", "type": "httpResponse", "parameters": {"body": "{{ json.body }}"}}
    await create(http, hook_then(path, unique("DeepOk"), [echo]))
    document = nested(MAX_JSON_DEPTH - 1)  # the body sits one level down in the record
    resp = await http.post(f"/webhook/{path}", content=document, headers=JSON)
    assert resp.status_code == 200, resp.text
    assert resp.content.replace(b" ", b"") == document


@pytest.mark.parametrize("case", list(BAD_JSON))
async def test_bad_json_to_the_management_api_is_400_invalid_json(
    http: httpx.AsyncClient, unique: Unique, case: str
) -> None:
    created = await create(http, greeter(unique("api-strict"), unique("ApiStrict")))
    workflow = f"/api/v1/workflows/{created['id']}"
    calls = [
        http.post("/api/v1/workflows", content=BAD_JSON[case], headers=JSON),
        http.put(workflow, content=BAD_JSON[case], headers=JSON),
        http.patch(workflow, content=BAD_JSON[case], headers=JSON),
        http.post(f"{workflow}/run", content=BAD_JSON[case], headers=JSON),
    ]
    for call in calls:
        body = assert_error(await call, 400, "invalid_json")
        if case.startswith(("deep", "one-over")):
            assert f"{MAX_JSON_DEPTH} levels" in body["message"]


async def test_a_workflow_with_nan_in_its_parameters_is_refused(
    http: httpx.AsyncClient, unique: Unique
) -> None:
    text = httpx.Request("POST", "/", json=greeter(unique("nan"), unique("Nan"))).content
    text = text.replace(b'"statusCode":201', b'"statusCode":NaN')
    assert b"NaN" in text
    resp = await http.post("/api/v1/workflows", content=text, headers=JSON)
    assert_error(resp, 400, "invalid_json")


@pytest.mark.parametrize(
    "authorization",
    [b"Basic \xc3\xa9\xc3\xa9", b"Basic \xff\xfe", b"Basic " + b"\x80" * 8, b"\xe9 abc"],
)
async def test_non_ascii_basic_credentials_are_401(
    http: httpx.AsyncClient, unique: Unique, authorization: bytes
) -> None:
    path = unique("basic")
    workflow = greeter(path, unique("Basic"), mode="onReceived")
    workflow["nodes"][0]["parameters"]["auth"] = {
        "type": "basic", "username": "ada", "password": "lovelace",
    }  # fmt: skip
    await create(http, workflow)
    resp = await http.post(f"/webhook/{path}", json={}, headers={b"Authorization": authorization})
    assert_error(resp, 401, "unauthorized")
    ok = await http.post(f"/webhook/{path}", json={}, auth=("ada", "lovelace"))
    assert ok.status_code == 200
