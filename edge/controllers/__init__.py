"""One Litestar controller per resource: webhooks, workflows, executions, health, metrics."""

from edge.controllers.executions import ExecutionController
from edge.controllers.health import HealthController
from edge.controllers.metrics import MetricsController
from edge.controllers.webhooks import WebhookController
from edge.controllers.workflows import WorkflowController

__all__ = [
    "ExecutionController",
    "HealthController",
    "MetricsController",
    "WebhookController",
    "WorkflowController",
]
