"""The whole stack (``LocalStack``) with the gRPC ports guarded: a token alone, and a
token with mutual TLS. Every hop between the services must still work, and an
outsider on the cache port must still be refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from hookline.cache.v1 import cache_service_pb2 as pb
from hookline.cache.v1 import cache_service_pb2_grpc as pb_grpc

from hookline_launcher.stack import LocalStack
from hookline_runtime.settings import Settings
from tests.runtime.certificates import make_tls_files

pytestmark = pytest.mark.timeout(60)

TOKEN = "stack-token-for-tests"


@pytest.fixture(params=["token", "token-and-mutual-tls"])
async def stack(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[LocalStack]:
    extra: dict[str, Any] = {"grpc_token": TOKEN}
    if request.param == "token-and-mutual-tls":
        files = make_tls_files(tmp_path)
        extra |= {
            "grpc_tls_cert": str(files.cert),
            "grpc_tls_key": str(files.key),
            "grpc_tls_ca": str(files.ca),
        }
    async with LocalStack(make_settings(redis_url=redis_url, **extra)) as running:
        yield running


async def test_a_last_node_webhook_answers_through_guarded_ports(
    stack: LocalStack, unique: Callable[[str], str]
) -> None:
    path = unique("guarded")
    workflow = {
        "name": unique("Guarded"),
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {
                "name": "Hook",
                "type": "webhook",
                "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"},
            },
            {
                "name": "Reply",
                "type": "httpResponse",
                "parameters": {"statusCode": 201, "body": {"hello": "{{ json.body.name }}"}},
            },
        ],
        "connections": [{"from": "Hook", "to": "Reply"}],
    }
    async with httpx.AsyncClient(base_url=stack.edge_url, timeout=30) as http:
        created = await http.post("/api/v1/workflows", json=workflow)
        assert created.status_code == 201, created.text
        answer = await http.post(f"/webhook/{path}", json={"name": "Ada"})
        ready = await http.get("/readyz")

    assert answer.status_code == 201, answer.text
    assert answer.json() == {"hello": "Ada"}
    assert ready.status_code == 200, ready.text


async def test_an_outsider_cannot_plant_a_result_in_the_guarded_stack(stack: LocalStack) -> None:
    request = pb.StoreResultRequest(
        execution_id="forged", record_json=b'{"status":"success"}', ttl_seconds=60
    )
    async with grpc.aio.insecure_channel(stack.cache_address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.CacheServiceStub(channel).StoreResult(request, timeout=5)
    # Plaintext meets a TLS port (UNAVAILABLE) or the token check (UNAUTHENTICATED).
    assert caught.value.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAVAILABLE)
