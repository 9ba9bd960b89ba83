"""A body the edge accepts either runs to a deliverable record or is refused up front
with a 413 naming the record limit — never accepted and then failed as "too large"."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings

pytestmark = pytest.mark.timeout(60)

BODY_LIMIT = 400_000
RECORD_LIMIT = 600_000


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], redis_url: str) -> AsyncIterator[LocalStack]:
    settings = make_settings(
        redis_url=redis_url, max_body_bytes=BODY_LIMIT, max_result_bytes=RECORD_LIMIT
    )
    async with LocalStack(settings) as running:
        yield running


def _greeter(path: str, *, keep_only_set: bool = False) -> dict[str, Any]:
    return {
        "name": path,
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Shape", "type": "set",
             "parameters": {"values": {"size": "{{ json.body.blob | length }}"},
                            "keepOnlySet": keep_only_set}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 201, "body": {"size": "{{ json.size }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Shape"}, {"from": "Shape", "to": "Reply"}],
    }


async def test_a_body_that_fits_the_record_runs(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    path = unique("limits")
    assert (await client.post("/api/v1/workflows", json=_greeter(path))).status_code == 201
    # Hook, Shape (merging) and Reply each hold the body: 3 × 150 kB < 600 kB.
    resp = await client.post(f"/webhook/{path}", json={"blob": "x" * 150_000})
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"size": 150_000}


async def test_a_body_the_record_cannot_hold_is_413_naming_the_limit(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    path = unique("limits")
    assert (await client.post("/api/v1/workflows", json=_greeter(path))).status_code == 201
    # Under the body limit, but 3 × 390 kB is over the record limit.
    resp = await client.post(f"/webhook/{path}", json={"blob": "x" * 390_000})
    assert resp.status_code == 413, resp.text
    body = resp.json()
    assert body["error"] == "payload_too_large"
    assert "HOOKLINE_MAX_RESULT_BYTES" in body["message"]
    assert str(RECORD_LIMIT) in body["message"]
    assert "x-execution-id" not in resp.headers  # nothing started


async def test_a_workflow_that_drops_the_body_takes_more(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    path = unique("limits")
    workflow = _greeter(path, keep_only_set=True)
    assert (await client.post("/api/v1/workflows", json=workflow)).status_code == 201
    # Shape keeps only its own field, and Reply's input is Shape's small output: the
    # body is held by the trigger's output alone.
    resp = await client.post(f"/webhook/{path}", json={"blob": "x" * 390_000})
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"size": 390_000}


async def test_over_the_body_limit_is_413_at_the_edge(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    path = unique("limits")
    assert (await client.post("/api/v1/workflows", json=_greeter(path))).status_code == 201
    resp = await client.post(f"/webhook/{path}", json={"blob": "x" * (BODY_LIMIT + 1)})
    assert resp.status_code == 413
