"""One Litestar controller per resource: webhooks, workflows, executions, credentials,
health, metrics."""

from edge.controllers.credentials import CredentialController
from edge.controllers.executions import ExecutionController
from edge.controllers.health import HealthController
from edge.controllers.metrics import MetricsController
from edge.controllers.webhooks import WebhookController
from edge.controllers.workflows import WorkflowController

__all__ = [
    "CredentialController",
    "ExecutionController",
    "HealthController",
    "MetricsController",
    "WebhookController",
    "WorkflowController",
]
