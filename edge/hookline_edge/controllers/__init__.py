"""One Litestar controller per resource: webhooks, workflows, executions, credentials,
health, metrics."""

from hookline_edge.controllers.credentials import CredentialController
from hookline_edge.controllers.executions import ExecutionController
from hookline_edge.controllers.health import HealthController
from hookline_edge.controllers.metrics import MetricsController
from hookline_edge.controllers.webhooks import WebhookController
from hookline_edge.controllers.workflows import WorkflowController

__all__ = [
    "CredentialController",
    "ExecutionController",
    "HealthController",
    "MetricsController",
    "WebhookController",
    "WorkflowController",
]
