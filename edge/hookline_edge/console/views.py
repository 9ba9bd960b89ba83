"""What the pages show, read out of the API's JSON: workflow rows and execution timing.

The API's documents are the source of truth; these functions only pick fields and
tolerate missing ones (a page never fails because a record lacks an optional key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "WorkflowRow",
    "editable_document",
    "format_ms",
    "format_time",
    "parse_time",
    "pretty_body",
    "pretty_json",
    "run_duration_ms",
    "short_id",
    "trigger_node",
    "workflow_row",
]

TRIGGER_TYPES = ("webhook", "schedule", "manual")


@dataclass(frozen=True, slots=True)
class WorkflowRow:
    id: str
    name: str
    trigger_type: str
    method: str | None
    path: str | None
    response_mode: str | None
    schedule: str | None
    active: bool
    saves_history: bool
    result_ttl_seconds: int
    response_timeout_seconds: int

    def webhook_url(self, base_url: str) -> str | None:
        if self.path is None:
            return None
        return f"{base_url.rstrip('/')}/webhook/{self.path.lstrip('/')}"


def trigger_node(workflow: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for node in workflow.get("nodes") or []:
        if isinstance(node, Mapping) and node.get("type") in TRIGGER_TYPES:
            return node
    return None


def workflow_row(workflow: Mapping[str, Any]) -> WorkflowRow:
    trigger = trigger_node(workflow) or {}
    params: Mapping[str, Any] = trigger.get("parameters") or {}
    settings: Mapping[str, Any] = workflow.get("settings") or {}
    trigger_type = str(trigger.get("type") or "none")
    is_webhook = trigger_type == "webhook"
    schedule = None
    if trigger_type == "schedule":
        schedule = f"{params.get('cron', '')} ({params.get('timezone') or 'UTC'})"
    return WorkflowRow(
        id=str(workflow.get("id", "")),
        name=str(workflow.get("name", "")),
        trigger_type=trigger_type,
        method=str(params.get("method") or "POST").upper() if is_webhook else None,
        path=str(params.get("path") or "") if is_webhook else None,
        response_mode=str(params.get("responseMode") or "onReceived") if is_webhook else None,
        schedule=schedule,
        active=bool(workflow.get("active", True)),
        saves_history=bool(settings.get("saveExecutionToDatabase", True)),
        result_ttl_seconds=int(settings.get("resultTtlSeconds", 60)),
        response_timeout_seconds=int(settings.get("responseTimeoutSeconds", 30)),
    )


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(value: Any) -> str:
    """``2026-11-28 00:40:12 UTC``, or an em dash when there is no time."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_ms(value: Any) -> str:
    if not isinstance(value, int | float):
        return "—"
    if value < 1:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    seconds = value / 1000
    return f"{seconds:.2f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def run_duration_ms(record: Mapping[str, Any]) -> float | None:
    started, finished = parse_time(record.get("startedAt")), parse_time(record.get("finishedAt"))
    if started is None or finished is None:
        return None
    return (finished - started).total_seconds() * 1000


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def pretty_body(text: str, content_type: str) -> str:
    """A response body for reading: JSON indented, anything else as it came."""
    if "json" in content_type.lower():
        try:
            return pretty_json(json.loads(text))
        except ValueError:
            return text
    return text


def short_id(value: Any) -> str:
    """The distinctive end of a time-ordered id (its start is the timestamp)."""
    text = str(value or "")
    return text if len(text) <= 13 else "…" + text[-12:]


def editable_document(workflow: Mapping[str, Any]) -> str:
    """The workflow as JSON to paste back (server-assigned times left out)."""
    kept = {k: v for k, v in workflow.items() if k not in ("createdAt", "updatedAt")}
    return pretty_json(kept)
