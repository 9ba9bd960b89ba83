"""The spec's Test Case 3, with real processes: two edges, two execution services, a
trigger service and a cache service, each on its own ports, one Redis, one PostgreSQL.

A webhook received by either edge runs in one of the execution processes, and the
edge that received it answers with the httpResponse node's output — with saving on
and off. Every process then stops cleanly on SIGTERM.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.cluster.processes import Cluster, ServiceProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def greeter(path: str, name: str, save: bool) -> dict[str, Any]:
    return {
        "name": name,
        "settings": {"saveExecutionToDatabase": save, "resultTtlSeconds": 60},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Shape", "type": "set",
             "parameters": {"values": {"greeting": "Hello {{ json.body.name }}"}}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 201, "headers": {"X-Greeter": "1"},
                            "body": {"message": "{{ json.greeting }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Shape"}, {"from": "Shape", "to": "Reply"}],
    }


class Deployment:
    def __init__(self, cluster: Cluster, edges: list[ServiceProcess],
                 executions: list[ServiceProcess], triggers: list[ServiceProcess]) -> None:
        self.cluster = cluster
        self.edges = edges
        self.executions = executions
        self.triggers = triggers

    def url(self, index: int) -> str:
        return f"http://{self.edges[index].address}"


def _deploy(tmp_path: Path, redis_url: str, database_url: str,
            *, edges: int, executions: int, triggers: int) -> Deployment:
    cluster = Cluster(tmp_path, {
        "REDIS_URL": redis_url,
        "HOOKLINE_DATABASE_URL": database_url,
        "HOOKLINE_SHUTDOWN_GRACE_SECONDS": "5",
    })
    cache = cluster.add("cache", "cache")
    execs = [cluster.add(f"execution-{i + 1}", "execution", HOOKLINE_CACHE_ADDR=cache.address)
             for i in range(executions)]
    exec_addrs = ",".join(p.address for p in execs)
    cache.env["HOOKLINE_EXECUTION_ADDR"] = exec_addrs
    trigs = [cluster.add(f"trigger-{i + 1}", "trigger", HOOKLINE_EXECUTION_ADDR=exec_addrs,
                         HOOKLINE_CACHE_ADDR=cache.address) for i in range(triggers)]
    trig_addrs = ",".join(p.address for p in trigs)
    edge_procs = [cluster.add(f"edge-{'ab'[i]}", "edge", HOOKLINE_TRIGGER_ADDR=trig_addrs,
                              HOOKLINE_EXECUTION_ADDR=exec_addrs,
                              HOOKLINE_CACHE_ADDR=cache.address) for i in range(edges)]
    try:
        cluster.start(cache, *execs)
        cluster.start(*trigs)
        cluster.start(*edge_procs)
    except BaseException:
        cluster.stop_all()
        raise
    return Deployment(cluster, edge_procs, execs, trigs)


def _stop_cleanly(deployment: Deployment) -> None:
    codes = deployment.cluster.stop_all()
    logs = {p.name: p.log_text()[-3000:] for p in deployment.cluster.processes}
    assert all(code == 0 for code in codes.values()), (codes, logs)


@pytest.fixture
def deployment(tmp_path: Path, redis_url: str, postgres_url: str) -> Iterator[Deployment]:
    dep = _deploy(tmp_path, redis_url, postgres_url, edges=2, executions=2, triggers=1)
    yield dep
    _stop_cleanly(dep)


@pytest.mark.parametrize("save", [True, False], ids=["save-on", "save-off"])
def test_webhook_is_answered_by_the_receiving_edge_with_a_result_computed_elsewhere(
    deployment: Deployment, redis_url: str, unique: Callable[[str], str], save: bool
) -> None:
    path = unique("greet")
    created = httpx.post(f"{deployment.url(0)}/api/v1/workflows",
                         json=greeter(path, unique("Greeter"), save), timeout=10)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]

    ids = []
    for i in range(8):
        edge = deployment.url(i % 2)  # alternate edge A and edge B
        resp = httpx.post(f"{edge}/webhook/{path}", json={"name": f"caller-{i}"}, timeout=30)
        assert resp.status_code == 201, resp.text
        assert resp.headers["x-greeter"] == "1"
        assert resp.json() == {"message": f"Hello caller-{i}"}
        ids.append(resp.headers["x-execution-id"])
    assert len(set(ids)) == len(ids)

    # Every result went through Redis under the spec's key, with its TTL.
    r = redis.Redis.from_url(redis_url)
    try:
        for execution_id in ids:
            assert r.exists(f"execution:result:{execution_id}")
            assert 0 < r.ttl(f"execution:result:{execution_id}") <= 60
    finally:
        r.close()

    listed = httpx.get(f"{deployment.url(1)}/api/v1/executions",
                       params={"workflowId": workflow_id, "limit": 100}, timeout=10)
    assert listed.status_code == 200
    saved_ids = {rec["id"] for rec in listed.json()["data"]}
    if save:
        assert saved_ids == set(ids)
    else:
        assert saved_ids == set()
        # Both execution processes ran some of them (round-robin from the trigger).
        ran_on = collections.Counter(
            proc.name
            for proc in deployment.executions
            for event in proc.log_events()
            if event.get("event") == "Skipping database save for execution"
            and event.get("execution_id") in ids
        )
        assert set(ran_on) == {"execution-1", "execution-2"}, ran_on
        assert sum(ran_on.values()) == len(ids)

    # The record can be fetched from either edge (database or result cache).
    for i, execution_id in enumerate(ids[:2]):
        got = httpx.get(f"{deployment.url(i)}/api/v1/executions/{execution_id}", timeout=10)
        assert got.status_code == 200
        assert got.json()["status"] == "success"
        assert got.json()["response"]["statusCode"] == 201

    # Every process settled its heap once started (``hookline_runtime.heap``): what
    # start-up made is frozen, out of the collector's way.
    for proc in deployment.cluster.processes:
        started = [e for e in proc.log_events() if e.get("event") == "hookline started"]
        assert len(started) == 1, (proc.name, started)
        assert started[0]["frozen_objects"] > 10_000, (proc.name, started[0])


def test_every_schedule_tick_fires_exactly_once_across_two_trigger_processes(
    tmp_path: Path, redis_url: str, postgres_url: str, unique: Callable[[str], str]
) -> None:
    dep = _deploy(tmp_path, redis_url, postgres_url, edges=1, executions=1, triggers=2)
    try:
        workflow = {
            "name": unique("Every second"),
            "settings": {"saveExecutionToDatabase": True},
            "nodes": [
                {"name": "Tick", "type": "schedule", "parameters": {"cron": "* * * * * *"}},
                {"name": "Note", "type": "set", "parameters": {"values": {"at": "{{ json.firedAt }}"}}},
            ],
            "connections": [{"from": "Tick", "to": "Note"}],
        }
        created = httpx.post(f"{dep.url(0)}/api/v1/workflows", json=workflow, timeout=10)
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]
        started = time.monotonic()
        records: list[dict[str, Any]] = []
        while time.monotonic() - started < 20:
            listed = httpx.get(f"{dep.url(0)}/api/v1/executions",
                               params={"workflowId": workflow_id, "limit": 100}, timeout=10)
            records = listed.json()["data"]
            if len(records) >= 5:
                break
            time.sleep(0.25)  # polling the public API for an outside observation
        patched = httpx.patch(f"{dep.url(0)}/api/v1/workflows/{workflow_id}",
                              json={"active": False}, timeout=10)
        assert patched.status_code == 200
        listed = httpx.get(f"{dep.url(0)}/api/v1/executions",
                           params={"workflowId": workflow_id, "limit": 100}, timeout=10)
        records = listed.json()["data"]
        ticks = collections.Counter(rec["nodes"]["Tick"]["output"]["firedAt"] for rec in records)
        assert len(ticks) >= 5, ticks
        assert all(count == 1 for count in ticks.values()), ticks
        assert all(rec["mode"] == "schedule" for rec in records)
    finally:
        _stop_cleanly(dep)
