"""Workflow JSON for the trigger tests, fresh names and paths each time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from hookline.trigger.v1 import trigger_service_pb2 as pb


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def webhook_workflow(
    path: str | None = None,
    *,
    method: str = "POST",
    response_mode: str | None = None,
    auth: dict[str, Any] | None = None,
    active: bool = True,
    settings: dict[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    parameters: dict[str, Any] = {"path": path or fresh("hook"), "method": method}
    if response_mode is not None:
        parameters["responseMode"] = response_mode
    if auth is not None:
        parameters["auth"] = auth
    workflow: dict[str, Any] = {
        "name": name or fresh("webhook"),
        "active": active,
        "nodes": [
            {"name": "Hook", "type": "webhook", "parameters": parameters},
            {"name": "Shape", "type": "set", "parameters": {"values": {"seen": "{{ json.body }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Shape"}],
    }
    if settings is not None:
        workflow["settings"] = settings
    return workflow


def schedule_workflow(cron: str = "* * * * * *", *, active: bool = True) -> dict[str, Any]:
    return {
        "name": fresh("schedule"),
        "active": active,
        "nodes": [
            {"name": "Tick", "type": "schedule", "parameters": {"cron": cron}},
            {
                "name": "Shape",
                "type": "set",
                "parameters": {"values": {"at": "{{ json.firedAt }}"}},
            },
        ],
        "connections": [{"from": "Tick", "to": "Shape"}],
    }


def manual_workflow() -> dict[str, Any]:
    return {
        "name": fresh("manual"),
        "nodes": [{"name": "Start", "type": "manual"}],
        "connections": [],
    }


def call(
    path: str,
    *,
    method: str = "POST",
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    query: Sequence[tuple[str, str]] = (),
    execution_id: str = "",
) -> pb.HandleWebhookRequest:
    return pb.HandleWebhookRequest(
        method=method,
        path=path,
        headers=[pb.HttpHeader(name=n, value=v) for n, v in headers],
        query=[pb.QueryParameter(name=n, value=v) for n, v in query],
        body=body,
        execution_id=execution_id,
    )
