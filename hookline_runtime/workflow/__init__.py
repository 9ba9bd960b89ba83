"""The workflow language (DESIGN.md section 2): a workflow's JSON checked and parsed
into plain dataclasses. ``model`` holds the workflow, its nodes and their parameters
and ``parse_workflow``; ``node_settings`` the settings every node may carry (retry,
onError, forEach); ``routing`` which outputs connections may name; ``calls`` the
executeWorkflow and errorWorkflow references."""

from hookline_runtime.workflow.model import (
    NODE_TYPES,
    TRIGGER_TYPES,
    BasicAuth,
    Connection,
    HeaderAuth,
    HmacAuth,
    Node,
    NodeSettings,
    ScheduleParameters,
    SlackAuth,
    StripeAuth,
    WebhookParameters,
    Workflow,
    WorkflowSettings,
    parse_workflow,
    validate_settings,
)

__all__ = [
    "NODE_TYPES",
    "TRIGGER_TYPES",
    "BasicAuth",
    "Connection",
    "HeaderAuth",
    "HmacAuth",
    "Node",
    "NodeSettings",
    "ScheduleParameters",
    "SlackAuth",
    "StripeAuth",
    "WebhookParameters",
    "Workflow",
    "WorkflowSettings",
    "parse_workflow",
    "validate_settings",
]
