"""``/healthz`` (the edge process is alive) and ``/readyz`` (its upstreams serve)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from hookline_edge.clients.upstreams import Upstreams
from hookline_edge.readiness import check_readiness
from hookline_edge.schemas import Liveness, Readiness, documented

__all__ = ["HealthController"]


class HealthController(Controller):
    path = "/"
    tags = ("health",)

    @get("/healthz", operation_id="liveness", summary="Liveness")
    async def healthz(self) -> Liveness:
        return Liveness()

    @get(
        "/readyz",
        operation_id="readiness",
        summary="Readiness: upstream services and Redis",
        description="200 ready|degraded (Redis down) when all three services serve; "
        "503 not_ready otherwise.",
        responses=documented(
            503, Readiness, "not_ready: an upstream service is down (with error and message)"
        ),
    )
    async def readyz(self, upstreams: NamedDependency[Upstreams]) -> Response[Readiness]:
        readiness = await check_readiness(upstreams)
        return Response(readiness, status_code=503 if readiness.status == "not_ready" else 200)
