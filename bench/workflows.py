"""The workflows the benchmark drives, built with fresh webhook paths per run and
applied through the public API (``POST /api/v1/workflows``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from hookline_runtime.logs import get_logger

__all__ = ["REQUEST_BODY", "BenchWorkflow", "apply_workflows", "bench_workflows"]

log = get_logger(__name__)

REQUEST_BODY = json.dumps({"name": "bench"})


@dataclass(frozen=True)
class BenchWorkflow:
    """A workflow and the webhook path that starts it."""

    key: str
    path: str
    definition: dict[str, Any]
    expected_status: int

    def url(self, edge_url: str) -> str:
        return f"{edge_url}/webhook/{self.path}"


def _greeter(name: str, path: str, *, mode: str, save: bool) -> dict[str, Any]:
    """The DESIGN.md example: webhook -> set -> httpResponse (201)."""
    return {
        "name": name,
        "active": True,
        "settings": {"saveExecutionToDatabase": save, "resultTtlSeconds": 60},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": mode}},
            {"name": "Shape", "type": "set",
             "parameters": {"values": {"greeting": "Hello {{ json.body.name }}"}}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 201, "headers": {"X-Greeter": "1"},
                            "body": {"message": "{{ json.greeting }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Shape"}, {"from": "Shape", "to": "Reply"}],
    }


def _response_node(name: str, path: str) -> dict[str, Any]:
    """responseNode: answers at the httpResponse node while a set node still runs after it."""
    workflow = _greeter(name, path, mode="responseNode", save=False)
    workflow["nodes"].append(
        {"name": "After", "type": "set", "parameters": {"values": {"done": "yes"}}}
    )
    workflow["connections"].append({"from": "Reply", "to": "After"})
    return workflow


def _large(name: str, path: str, size: int) -> dict[str, Any]:
    """lastNode, saving off, whose httpResponse body is a string of ``size`` bytes."""
    return {
        "name": name,
        "active": True,
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 200, "body": f"{{{{ 'x' * {size} }}}}"}},
        ],
        "connections": [{"from": "Hook", "to": "Reply"}],
    }


def _waiting(name: str, path: str, seconds: float) -> dict[str, Any]:
    """lastNode, saving off, held ``seconds`` by a wait node before answering."""
    return {
        "name": name,
        "active": True,
        "settings": {"saveExecutionToDatabase": False, "responseTimeoutSeconds": 300},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Hold", "type": "wait", "parameters": {"seconds": seconds}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 200, "body": {"waited": seconds}}},
        ],
        "connections": [{"from": "Hook", "to": "Hold"}, {"from": "Hold", "to": "Reply"}],
    }


def bench_workflows(run_id: str, *, large_bytes: int, wait_seconds: float
                    ) -> dict[str, BenchWorkflow]:
    """Every workflow of one run, keyed by role; paths and names carry ``run_id``."""

    def make(key: str, build: Any, expected: int, **kwargs: Any) -> BenchWorkflow:
        path = f"bench-{run_id}/{key}"
        return BenchWorkflow(key, path, build(f"bench {run_id} {key}", path, **kwargs), expected)

    return {
        "on_received": make("on_received", _greeter, 200, mode="onReceived", save=False),
        "last_node_save_off": make("last_node_save_off", _greeter, 201,
                                   mode="lastNode", save=False),
        "last_node_save_on": make("last_node_save_on", _greeter, 201,
                                  mode="lastNode", save=True),
        "response_node": make("response_node", _response_node, 201),
        "large_result": make("large_result", _large, 200, size=large_bytes),
        "waiting": make("waiting", _waiting, 200, seconds=wait_seconds),
    }


def apply_workflows(edge_url: str, workflows: dict[str, BenchWorkflow],
                    api_key: str | None = None) -> dict[str, str]:
    """Create every workflow through the API and check each webhook answers as expected.

    Returns workflow ids by key.
    """
    headers = {"X-API-Key": api_key} if api_key else {}
    ids: dict[str, str] = {}
    with httpx.Client(base_url=edge_url, headers=headers, timeout=30.0) as client:
        for key, workflow in workflows.items():
            created = client.post("/api/v1/workflows", json=workflow.definition)
            if created.status_code != 201:
                raise RuntimeError(f"creating workflow {key} answered "
                                   f"{created.status_code}: {created.text[:500]}")
            ids[key] = created.json()["id"]
        for key, workflow in workflows.items():
            if key == "waiting":
                continue
            probe = client.post(f"/webhook/{workflow.path}", content=REQUEST_BODY,
                                headers={"Content-Type": "application/json"})
            if probe.status_code != workflow.expected_status:
                raise RuntimeError(f"webhook {key} answered {probe.status_code}, expected "
                                   f"{workflow.expected_status}: {probe.text[:500]}")
    log.info("workflows applied", count=len(ids))
    return ids
