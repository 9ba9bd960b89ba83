"""Readiness: the stock gRPC health check of each upstream service, plus two
pseudo-services: the cache service's ``redis`` and the execution service's ``queue``
(the run queue on Redis).

A service is ``ok`` when one of its channels answers SERVING for its service name,
else ``down``. ``redis`` is ``ok`` (SERVING), ``down`` (NOT_SERVING),
``not_configured`` (NOT_FOUND or SERVICE_UNKNOWN: the cache runs without Redis) or
``unknown`` (the cache service itself could not be asked); ``queue`` the same, as
the execution replicas see the run queue.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hookline_edge.clients.upstreams import HEALTH_TIMEOUT_SECONDS, SERVICE_NAMES, Upstreams
from hookline_edge.schemas import Readiness
from hookline_runtime.logs import get_logger

__all__ = ["QUEUE_HEALTH_SERVICE", "REDIS_HEALTH_SERVICE", "check_readiness"]

log = get_logger(__name__)

REDIS_HEALTH_SERVICE = "redis"
QUEUE_HEALTH_SERVICE = "queue"

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


async def _status(stub: health_pb2_grpc.HealthStub, service: str) -> int | grpc.StatusCode:
    """The health status of ``service``, or the gRPC code of the failed check."""
    try:
        reply = await stub.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=HEALTH_TIMEOUT_SECONDS
        )
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return int(reply.status)


async def _service_ok(upstreams: Upstreams, name: str) -> bool:
    statuses = await asyncio.gather(
        *(_status(stub, SERVICE_NAMES[name]) for stub in upstreams.health_stubs(name))
    )
    if not any(status == _SERVING for status in statuses):
        log.warning("Upstream not ready", upstream=name, statuses=[str(s) for s in statuses])
        return False
    return True


async def _pseudo_state(upstreams: Upstreams, service: str, pseudo: str) -> str:
    statuses = await asyncio.gather(
        *(_status(stub, pseudo) for stub in upstreams.health_stubs(service))
    )
    if any(status == _SERVING for status in statuses):
        return "ok"
    if any(status == _NOT_SERVING for status in statuses):
        return "down"
    if any(status in (grpc.StatusCode.NOT_FOUND, _UNKNOWN) for status in statuses):
        return "not_configured"
    return "unknown"


async def check_readiness(upstreams: Upstreams) -> Readiness:
    trigger, execution, cache, redis, queue = await asyncio.gather(
        _service_ok(upstreams, "trigger"),
        _service_ok(upstreams, "execution"),
        _service_ok(upstreams, "cache"),
        _pseudo_state(upstreams, "cache", REDIS_HEALTH_SERVICE),
        _pseudo_state(upstreams, "execution", QUEUE_HEALTH_SERVICE),
    )
    checks = {
        "trigger": "ok" if trigger else "down",
        "execution": "ok" if execution else "down",
        "cache": "ok" if cache else "down",
        "redis": redis,
        "queue": queue,
    }
    status: Literal["ready", "degraded", "not_ready"]
    if not (trigger and execution and cache):
        down = ", ".join(
            name for name in ("trigger", "execution", "cache") if checks[name] == "down"
        )
        return Readiness(
            status="not_ready",
            checks=checks,
            error="not_ready",
            message=f"upstream services are not serving: {down}",
        )
    if redis == "down" or queue == "down":
        status = "degraded"
    else:
        status = "ready"
    return Readiness(status=status, checks=checks)
