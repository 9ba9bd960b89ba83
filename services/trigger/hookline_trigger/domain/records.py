"""What the trigger service stores and serves: workflow records, webhook routes and
schedule entries, as plain dataclasses."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hookline_runtime.clock import to_iso
from hookline_runtime.workflow import (
    ScheduleParameters,
    WebhookParameters,
    Workflow,
    WorkflowSettings,
)
from hookline_trigger.domain.webhook_secrets import masked

__all__ = [
    "ExecutionMode",
    "ScheduleEntry",
    "StartRequest",
    "WebhookRoute",
    "WorkflowRecord",
    "encode_trigger_output",
]


def encode_trigger_output(value: object) -> bytes:
    """A trigger output as a run carries it: compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class ExecutionMode(enum.Enum):
    """What started an execution."""

    WEBHOOK = "webhook"
    MANUAL = "manual"
    SCHEDULE = "schedule"


@dataclass(frozen=True, slots=True)
class StartRequest:
    """Everything the execution service needs to run a workflow once."""

    execution_id: str
    workflow_json: bytes
    mode: ExecutionMode
    trigger_output: object
    publish_early_response: bool = False
    trigger_output_json: bytes | None = None
    """``trigger_output`` already encoded (the webhook path encodes it to check its
    size); None to encode it when sent."""
    workflow: Mapping[str, Any] | None = None
    """``workflow_json`` already decoded (a webhook's route keeps it), for a starter in
    this process; None to decode it there."""
    keep_result_seconds: int = 0
    """Keep the finished record this long for idempotent repeats (0: no)."""


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    """One row of the ``workflows`` table. ``definition`` is the public JSON text,
    with id, createdAt, updatedAt and every setting filled in, and the webhook
    secrets in clear (``public_definition_bytes`` masks them for answers)."""

    id: str
    name: str
    active: bool
    trigger_type: str
    webhook_method: str | None
    webhook_path: str | None
    definition: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_workflow(
        cls, workflow: Workflow, *, id: str, created_at: datetime, updated_at: datetime
    ) -> WorkflowRecord:
        public = workflow.to_json(
            id=id, created_at=to_iso(created_at), updated_at=to_iso(updated_at)
        )
        hook = workflow.webhook
        return cls(
            id=id,
            name=workflow.name,
            active=workflow.active,
            trigger_type=workflow.trigger_type,
            webhook_method=hook.method if hook else None,
            webhook_path=hook.path if hook else None,
            definition=json.dumps(public, ensure_ascii=False, separators=(",", ":")),
            created_at=created_at,
            updated_at=updated_at,
        )

    @property
    def definition_bytes(self) -> bytes:
        """The stored definition, secrets included: for the trigger's own use."""
        return self.definition.encode()

    @property
    def public_definition_bytes(self) -> bytes:
        """The definition as answers show it: webhook secrets masked."""
        if '"auth"' not in self.definition:
            return self.definition_bytes
        public = masked(json.loads(self.definition))
        return json.dumps(public, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class WebhookRoute:
    """An active webhook workflow, ready to answer calls on ``method`` ``path``."""

    workflow_id: str
    method: str
    path: str
    params: WebhookParameters
    settings: WorkflowSettings
    definition: bytes
    input_copies: int = 1
    """How many times the webhook's input can appear in a run's record (see
    ``snapshot.input_copies``)."""
    document: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """``definition`` decoded, for callers in this process (shared: read, never
    changed)."""


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """An active schedule workflow."""

    workflow_id: str
    params: ScheduleParameters
    definition: bytes
    updated_at: datetime

    @property
    def timing(self) -> tuple[str, str]:
        """What decides when it fires; a change restarts its timer."""
        return (self.params.cron, self.params.timezone)
