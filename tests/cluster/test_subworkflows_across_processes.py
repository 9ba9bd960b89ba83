"""executeWorkflow across processes: two execution processes, saving off for parent
and child. Each execution process runs one run at a time, so when a parent puts its
child on the run queue, the parent's process is full and not reading (it gives its
slot up only afterwards, while it waits): the child is taken by the other process,
and its httpResponse body still reaches the parent's webhook caller (through the
cache service's watch)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.processes import Cluster, ServiceProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _child(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Start", "type": "manual"},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 200, "body": {"hello": "{{ json.name }}"}}},
        ],
        "connections": [{"from": "Start", "to": "Reply"}],
    }


def _parent(name: str, child: str) -> dict[str, Any]:
    return {
        "name": name,
        "settings": {"saveExecutionToDatabase": False},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": name, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Build", "type": "executeWorkflow",
             "parameters": {"workflowName": child, "input": {"name": "{{ json.body.name }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Build"}],
    }


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str, postgres_url: str) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, {
        "REDIS_URL": redis_url,
        "HOOKLINE_DATABASE_URL": postgres_url,
        "HOOKLINE_SHUTDOWN_GRACE_SECONDS": "5",
    })
    cache = cluster.add("cache", "cache")
    trigger = cluster.add("trigger", "trigger", HOOKLINE_CACHE_ADDR=cache.address)
    executions = [
        cluster.add(f"execution-{n}", "execution", HOOKLINE_CACHE_ADDR=cache.address,
                    HOOKLINE_TRIGGER_ADDR=trigger.address,
                    HOOKLINE_MAX_CONCURRENT_EXECUTIONS="1")
        for n in (1, 2)
    ]
    addresses = ",".join(p.address for p in executions)
    cache.env["HOOKLINE_EXECUTION_ADDR"] = addresses
    trigger.env["HOOKLINE_EXECUTION_ADDR"] = addresses
    edge = cluster.add("edge", "edge", HOOKLINE_TRIGGER_ADDR=trigger.address,
                       HOOKLINE_EXECUTION_ADDR=addresses, HOOKLINE_CACHE_ADDR=cache.address)
    try:
        cluster.start(cache, *executions)
        cluster.start(trigger)
        cluster.start(edge)
        yield cluster
    finally:
        codes = cluster.stop_all()
    assert all(code == 0 for code in codes.values()), codes


def _ran_on(executions: list[ServiceProcess], execution_id: str) -> set[str]:
    """The execution processes that ran a run (saving off: each run logs it once)."""
    return {
        proc.name
        for proc in executions
        for event in proc.log_events()
        if event.get("event") == "Skipping database save for execution"
        and event.get("execution_id") == execution_id
    }


def _child_of(executions: list[ServiceProcess], parent_id: str) -> str:
    for proc in executions:
        for event in proc.log_events():
            if event.get("event") == "Started a sub-workflow run" and (
                event.get("execution_id") == parent_id
            ):
                return str(event["child_execution_id"])
    raise AssertionError(f"no child started by {parent_id}")


def test_the_child_runs_on_the_other_process_and_its_body_reaches_the_caller(
    cluster: Cluster, unique: Callable[[str], str]
) -> None:
    edge = next(p for p in cluster.processes if p.service == "edge")
    executions = [p for p in cluster.processes if p.service == "execution"]
    url = f"http://{edge.address}"
    child, parent = unique("child"), unique("parent")
    for workflow in (_child(child), _parent(parent, child)):
        created = httpx.post(f"{url}/api/v1/workflows", json=workflow, timeout=10)
        assert created.status_code == 201, created.text

    for n in range(3):
        reply = httpx.post(f"{url}/webhook/{parent}", json={"name": f"caller-{n}"}, timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"hello": f"caller-{n}"}
        parent_id = reply.headers["x-execution-id"]
        child_id = _child_of(executions, parent_id)
        parent_ran_on, child_ran_on = _ran_on(executions, parent_id), _ran_on(executions, child_id)
        assert len(parent_ran_on) == len(child_ran_on) == 1
        assert parent_ran_on != child_ran_on  # parent and child on different processes
