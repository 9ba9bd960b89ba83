"""/healthz, /readyz, /metrics, the OpenAPI document, and Litestar's own errors as JSON."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from grpc_health.v1 import health_pb2
from hookline.trigger.v1 import trigger_service_pb2 as trig_pb

from hookline_edge.clients.upstreams import SERVICE_NAMES
from tests.edge.edge_fakes import FakeUpstreams, result_event

MakeClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_healthz_is_ok(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


async def test_readyz_is_ready_when_every_service_and_redis_serve(
    make_client: MakeClient, own_fakes: FakeUpstreams
) -> None:
    await own_fakes.cache_server.health.set("redis", SERVING)
    await own_fakes.main.health.set("queue", SERVING)
    async with make_client(own_fakes) as client:
        resp = await client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ready",
        "checks": {
            "trigger": "ok",
            "execution": "ok",
            "cache": "ok",
            "redis": "ok",
            "queue": "ok",
        },
    }


async def test_readyz_is_degraded_when_the_run_queue_is_down(
    make_client: MakeClient, own_fakes: FakeUpstreams
) -> None:
    await own_fakes.cache_server.health.set("redis", SERVING)
    await own_fakes.main.health.set("queue", NOT_SERVING)
    async with make_client(own_fakes) as client:
        resp = await client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "degraded"
    assert resp.json()["checks"]["queue"] == "down"


async def test_readyz_is_degraded_when_redis_is_down(
    make_client: MakeClient, own_fakes: FakeUpstreams
) -> None:
    await own_fakes.cache_server.health.set("redis", NOT_SERVING)
    async with make_client(own_fakes) as client:
        resp = await client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "degraded"
    assert resp.json()["checks"]["redis"] == "down"


async def test_readyz_says_redis_is_not_configured_when_the_cache_has_no_redis(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ready"
    assert resp.json()["checks"]["redis"] == "not_configured"
    assert resp.json()["checks"]["queue"] == "not_configured"


async def test_readyz_is_503_not_ready_when_a_service_does_not_serve(
    make_client: MakeClient, own_fakes: FakeUpstreams
) -> None:
    await own_fakes.main.health.set(SERVICE_NAMES["execution"], NOT_SERVING)
    async with make_client(own_fakes) as client:
        resp = await client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["status"] == "not_ready"
    assert resp.json()["checks"]["execution"] == "down"
    assert resp.json()["checks"]["trigger"] == "ok"


async def test_readyz_is_503_when_the_cache_is_unreachable(
    make_client: MakeClient, own_fakes: FakeUpstreams
) -> None:
    await own_fakes.cache_server.stop(0)
    async with make_client(own_fakes) as client:
        resp = await client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["cache"] == "down"
    assert resp.json()["checks"]["redis"] == "unknown"


async def test_metrics_count_webhooks_by_mode_and_status_with_latency(
    client: httpx.AsyncClient, fakes: FakeUpstreams
) -> None:
    await client.post("/webhook/a")
    fakes.trigger.webhook_reply = trig_pb.HandleWebhookResponse(
        response_mode=trig_pb.RESPONSE_MODE_LAST_NODE, response_timeout_seconds=5
    )
    fakes.cache.events = [
        result_event(
            {"status": "success", "nodes": {}, "response": {"statusCode": 201, "body": "ok"}}
        )
    ]
    await client.post("/webhook/a")
    await client.post("/webhook/a")
    fakes.trigger.webhook_reply = trig_pb.HandleWebhookResponse(
        rejection=trig_pb.WEBHOOK_REJECTION_NOT_FOUND
    )
    await client.post("/webhook/b")
    resp = await client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert 'hookline_edge_webhook_requests_total{mode="onReceived",status="200"} 1.0' in text
    assert 'hookline_edge_webhook_requests_total{mode="lastNode",status="201"} 2.0' in text
    assert 'hookline_edge_webhook_requests_total{mode="none",status="404"} 1.0' in text
    assert 'hookline_edge_webhook_duration_seconds_count{mode="lastNode"} 2.0' in text


async def test_each_app_has_its_own_metrics(make_client: MakeClient) -> None:
    async with make_client() as first, make_client() as second:
        await first.post("/webhook/a")
        other = await second.get("/metrics")
    assert "hookline_edge_webhook_requests_total{" not in other.text


async def test_the_openapi_document_describes_every_route(client: httpx.AsyncClient) -> None:
    resp = await client.get("/schema/openapi.json")
    assert resp.status_code == 200
    document = resp.json()
    paths = document["paths"]
    for path in (
        "/webhook/{webhook_path}",
        "/api/v1/workflows",
        "/api/v1/workflows/{workflow_id}",
        "/api/v1/workflows/{workflow_id}/run",
        "/api/v1/executions",
        "/api/v1/executions/{execution_id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    operation_ids = [
        op["operationId"]
        for item in paths.values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert "createWorkflow" in operation_ids
    assert {"webhookGet", "webhookPost"} <= set(operation_ids)
    created = paths["/api/v1/workflows"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/WorkflowDocument")
    connection = document["components"]["schemas"]["WorkflowConnection"]
    assert {"from", "to", "output"} <= set(connection["properties"])


async def test_an_unknown_route_is_404_json(client: httpx.AsyncClient) -> None:
    for path in ("/nope", "/api/v1/nope", "/webhook"):
        resp = await client.get(path)
        assert resp.status_code == 404, path
        assert resp.json()["error"] == "not_found"
        assert resp.json()["message"]


async def test_a_method_the_route_lacks_is_405_json_with_allow(client: httpx.AsyncClient) -> None:
    resp = await client.delete("/api/v1/executions")
    assert resp.status_code == 405
    assert resp.json()["error"] == "method_not_allowed"
    assert "GET" in resp.headers["allow"]
