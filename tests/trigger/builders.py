"""Workflow JSON for the trigger tests, fresh names and paths each time."""

from __future__ import annotations

import uuid
from typing import Any


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
            {"name": "Shape", "type": "set", "parameters": {"values": {"at": "{{ json.firedAt }}"}}},
        ],
        "connections": [{"from": "Tick", "to": "Shape"}],
    }


def manual_workflow() -> dict[str, Any]:
    return {
        "name": fresh("manual"),
        "nodes": [{"name": "Start", "type": "manual"}],
        "connections": [],
    }
