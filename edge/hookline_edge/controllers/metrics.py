"""``/metrics``: the edge's Prometheus metrics."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from hookline_edge.metrics import METRICS_MEDIA_TYPE, EdgeMetrics

__all__ = ["MetricsController"]


class MetricsController(Controller):
    path = "/metrics"
    tags = ("metrics",)

    @get(
        "/",
        operation_id="metrics",
        summary="Prometheus metrics",
        description="The Prometheus text exposition format, version 0.0.4.",
        media_type=METRICS_MEDIA_TYPE,
    )
    async def metrics(self, metrics: NamedDependency[EdgeMetrics]) -> Response[str]:
        # Litestar adds "; charset=utf-8" to text/ types.
        return Response(metrics.render().decode(), media_type=METRICS_MEDIA_TYPE)
