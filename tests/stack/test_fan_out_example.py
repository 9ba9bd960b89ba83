"""The fan-out example through the whole stack: a webhook call runs forEach with a
retry over local URLs, skips or takes the notify branch, and the merge answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from hookline_launcher.stack import LocalStack
from tests.execution.local_http import LocalHttpServer, Reply, Request

pytestmark = pytest.mark.timeout(60)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fan-out.json"


async def test_fan_out_example_keeps_order_retries_and_merges_what_ran(
    stack: LocalStack, client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    workflow = json.loads(EXAMPLE.read_text())
    path = unique("fan-out")
    workflow["nodes"][0]["parameters"]["path"] = path
    workflow["name"] = path
    workflow["nodes"][1]["retry"]["waitSeconds"] = 0
    created = await client.post("/api/v1/workflows", json=workflow)
    assert created.status_code == 201, created.text

    hangups = {"/b": 1}

    def answer(request: Request) -> Reply:
        name = request.target
        if hangups.get(name, 0) > 0:
            hangups[name] -= 1
            raise ConnectionResetError  # a flaky server: the first try fails
        return Reply(200, {"Content-Type": "application/json"}, json.dumps(name).encode())

    async with LocalHttpServer() as server:
        for name in ("/a", "/b", "/c", "/notify"):
            server.routes[name] = answer
        urls = [server.url(name) for name in ("/a", "/b", "/c")]

        reply = await client.post(f"/webhook/{path}", json={"urls": urls})
        assert reply.status_code == 200, reply.text
        assert reply.json() == {
            "statuses": [200, 200, 200], "bodies": ["/a", "/b", "/c"], "notified": False
        }
        record = (await client.get(f"/api/v1/executions/{reply.headers['X-Execution-Id']}")).json()
        fetch = record["nodes"]["Fetch"]
        assert [(t["index"], t["status"]) for t in fetch["tries"] if t["index"] == 1] == [
            (1, "error"), (1, "success")
        ]
        assert record["nodes"]["Notify"]["status"] == "skipped"
        assert set(record["nodes"]["Join"]["output"]) == {"Fetch"}

        notified = await client.post(
            f"/webhook/{path}", json={"urls": urls[:1], "notifyUrl": server.url("/notify")}
        )
        assert notified.json()["notified"] is True
        assert (await server.request_to("/notify")).method == "POST"
