"""``/metrics``: the edge's Prometheus metrics."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from edge.metrics import CONTENT_TYPE_LATEST, EdgeMetrics

__all__ = ["MetricsController"]


class MetricsController(Controller):
    path = "/metrics"
    tags = ("metrics",)

    @get("/", operation_id="metrics", summary="Prometheus metrics", include_in_schema=True)
    async def metrics(self, metrics: NamedDependency[EdgeMetrics]) -> Response[bytes]:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
