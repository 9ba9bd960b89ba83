"""Issue 10's checks with real processes: two edges, one trigger, two execution
processes, one cache, a Redis of the test's own and PostgreSQL behind a proxy the
test can cut (DESIGN.md section 8, the durability contract).

The workflows call a counting HTTP server in this process, then wait 2 s, then answer
201: webhook (lastNode) → httpRequest ``/count?id={{ execution.id }}`` → wait →
httpResponse. Under steady traffic (a few client threads calling both edges):

- ``kill -9`` of an execution process while runs wait: every call gets 201, each
  run's httpRequest reached the counting server once, each saved run has one row,
  ``success``. The kill happens while no httpRequest node is in progress (the
  counting server holds new requests back and every answered one is journaled):
  the node in progress is the one the contract lets run twice.
- a SIGTERM rolling restart of both execution processes: no caller fails, no run is
  lost (a run still waiting at the end of the grace is handed back and finished by
  the other process).
- a poison run (its httpRequest kills the execution processes, which the test then
  restarts) ends as "run abandoned after 3 deliveries", and its caller gets 500.
- admission: with no execution process and ``HOOKLINE_MAX_QUEUED_RUNS=5`` the 6th
  call answers 503 with ``Retry-After`` at once.
- Redis stopped under traffic: webhooks still answer (direct hand-off), the trigger
  logs the switch once and goes back to the queue when Redis returns.
- PostgreSQL cut under traffic (saving on): afterwards every answered run has its
  final row, none is left ``running``.

One deployment serves the module (starting six processes costs ~10 s); each test
leaves it whole again.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import redis
from hookline.execution.v1 import execution_service_pb2 as pb

from hookline_runtime.redis.keys import (
    RUN_FIELD,
    RUN_GROUP,
    journal_key,
    journal_meta_key,
    result_key,
)
from tests.cluster.processes import Cluster, ServiceProcess
from tests.redis_server import ThrowawayRedis

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

CLAIM_SECONDS = 3
"""HOOKLINE_RUN_CLAIM_SECONDS of the execution processes: short, to keep tests short."""

WAIT_SECONDS = 2


# --------------------------------------------------------------------- helpers
def _until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``predicate`` until it is truthy (returned), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class CountingServer:
    """A threaded HTTP server on 127.0.0.1 counting ``GET /count?id=…`` per id.

    ``held()`` closes a gate: requests arriving then wait before being counted,
    and one whose caller went away meanwhile (its process was killed) is dropped
    uncounted — it never completed. ``GET /poison`` calls ``on_poison`` (the test
    kills the execution processes there) and never answers.
    """

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.answered_at: dict[str, float] = {}
        self.poisoned: list[str] = []
        self.on_poison: Callable[[], None] = lambda: None
        self._cond = threading.Condition()
        self._open = True
        self._busy = 0
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                ident = parse_qs(url.query).get("id", [""])[0]
                if url.path == "/poison":
                    counter.poisoned.append(ident)
                    counter.on_poison()
                    self.close_connection = True
                    return
                if url.path != "/count" or not counter._enter(self.connection):
                    self.close_connection = True
                    return
                try:
                    body = b'{"counted": true}'
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    with counter._cond:
                        counter.counts[ident] += 1
                        counter.answered_at[ident] = time.monotonic()
                finally:
                    counter._leave()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}{path}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def answered_since(self, seconds: float) -> list[str]:
        since = time.monotonic() - seconds
        with self._cond:
            return [i for i, at in self.answered_at.items() if at >= since]

    def _enter(self, conn: socket.socket) -> bool:
        with self._cond:
            self._cond.wait_for(lambda: self._open, timeout=30)
            if _peer_gone(conn):
                return False
            self._busy += 1
            return True

    def _leave(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold new requests back; returns once no request is being answered."""
        with self._cond:
            self._open = False
            assert self._cond.wait_for(lambda: self._busy == 0, timeout=10)
        try:
            yield
        finally:
            with self._cond:
                self._open = True
                self._cond.notify_all()


def _peer_gone(conn: socket.socket) -> bool:
    """Whether the client closed its side (a GET sends nothing after its head)."""
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class PgProxy:
    """A TCP proxy to PostgreSQL that the test can cut: ``cut()`` drops every
    connection and resets new ones until ``mend()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open = True
        self._socks: set[socket.socket] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed = True
        self._listener.close()
        self._drop_all()

    def cut(self) -> None:
        with self._lock:
            self._open = False
        self._drop_all()

    def mend(self) -> None:
        with self._lock:
            self._open = True

    def _drop_all(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, set()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = not self._open
            if refuse:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # a reset, as from a database that went away
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._socks |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass
class Call:
    path: str
    status: int
    execution_id: str
    body: str
    seconds: float


@dataclass
class Traffic:
    """Client threads calling webhooks on both edges until ``stop()``."""

    edges: list[str]
    paths: list[str]
    threads: int = 4
    calls: list[Call] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Self:
        for n in range(self.threads):
            worker = threading.Thread(target=self._client, args=(n,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> list[Call]:
        self._stop.set()
        for worker in self._workers:
            worker.join(45)
            assert not worker.is_alive(), "a client call never ended"
        return self.calls

    def done(self) -> int:
        return len(self.calls)

    def _client(self, n: int) -> None:
        with httpx.Client(timeout=40) as client:
            i = n
            while not self._stop.is_set():
                path = self.paths[i % len(self.paths)]
                url = f"{self.edges[(i // len(self.paths)) % len(self.edges)]}/webhook/{path}"
                started = time.monotonic()
                try:
                    resp = client.post(url, json={"n": i})
                    call = Call(path, resp.status_code, resp.headers.get("x-execution-id", ""),
                                resp.text, time.monotonic() - started)
                except httpx.HTTPError as exc:
                    call = Call(path, 0, "", repr(exc), time.monotonic() - started)
                self.calls.append(call)
                i += self.threads


def counted_workflow(path: str, name: str, counter: CountingServer, *, save: bool,
                     timeout: int = 30) -> dict[str, Any]:
    return {
        "name": name,
        "settings": {"saveExecutionToDatabase": save, "responseTimeoutSeconds": timeout},
        "nodes": [
            {"name": "Hook", "type": "webhook",
             "parameters": {"path": path, "method": "POST", "responseMode": "lastNode"}},
            {"name": "Call", "type": "httpRequest",
             "parameters": {"url": counter.url("/count?id={{ execution.id }}"),
                            "method": "GET", "timeoutSeconds": 10}},
            {"name": "Pause", "type": "wait", "parameters": {"seconds": WAIT_SECONDS}},
            {"name": "Reply", "type": "httpResponse",
             "parameters": {"statusCode": 201, "body": {"id": "{{ execution.id }}"}}},
        ],
        "connections": [{"from": "Hook", "to": "Call"}, {"from": "Call", "to": "Pause"},
                        {"from": "Pause", "to": "Reply"}],
    }


# ------------------------------------------------------------------ deployment
class Deployment:
    def __init__(self, cluster: Cluster, redis_server: ThrowawayRedis, proxy: PgProxy,
                 database_url: str, counter: CountingServer) -> None:
        self.cluster = cluster
        self.redis_server = redis_server
        self.proxy = proxy
        self.database_url = database_url
        self.counter = counter
        procs = {p.name: p for p in cluster.processes}
        self.edges = [procs["edge-a"], procs["edge-b"]]
        self.executions = [procs["execution-1"], procs["execution-2"]]
        self.trigger = procs["trigger"]
        self.redis = redis.Redis(port=redis_server.port, socket_timeout=5)

    @property
    def edge_urls(self) -> list[str]:
        return [f"http://{edge.address}" for edge in self.edges]

    @property
    def stream(self) -> str:
        return self.cluster.run_stream

    def create(self, workflow: dict[str, Any]) -> str:
        created = httpx.post(f"{self.edge_urls[0]}/api/v1/workflows", json=workflow, timeout=10)
        assert created.status_code == 201, created.text
        workflow_id: str = created.json()["id"]
        return workflow_id

    def make_whole(self) -> None:
        """Redis up, the database reachable, every process running."""
        self.proxy.mend()
        try:
            self.redis.ping()
        except redis.ConnectionError:
            self.redis_server.start()
        for proc in self.cluster.processes:
            if not proc.alive:
                proc.start()
        for proc in self.cluster.processes:
            proc.wait_ready()

    def in_flight(self, execution: ServiceProcess) -> list[str]:
        """Execution ids of the runs that process holds (its pending entries)."""
        ids: list[str] = []
        for consumer in self.redis.xinfo_consumers(self.stream, RUN_GROUP):
            name = consumer["name"].decode()
            if name.split(":")[-2] != str(execution.pid) or not consumer["pending"]:
                continue
            for entry in self.redis.xpending_range(self.stream, RUN_GROUP, "-", "+", 1000,
                                                   consumername=name):
                found: Any = self.redis.xrange(self.stream, entry["message_id"],
                                               entry["message_id"])
                if found:
                    message = pb.StartExecutionRequest()
                    message.ParseFromString(found[0][1][RUN_FIELD])
                    ids.append(message.execution_id)
        return ids

    def pausing(self, execution_id: str, margin: float = 0.5) -> bool:
        """Whether the run is in its Pause (its Call journaled, no result yet) with more
        than ``margin`` seconds of it left."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(journal_meta_key(execution_id), "Call")
        pipe.exists(result_key(execution_id))
        meta, done = pipe.execute()
        if meta is None or done:
            return False
        call = json.loads(meta)
        ended = datetime.fromisoformat(call["startedAt"]).timestamp() + call["durationMs"] / 1000
        left: float = ended + WAIT_SECONDS - time.time()
        return left > margin

    def journaled_or_done(self, execution_id: str) -> bool:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hexists(journal_key(execution_id), "Call")
        pipe.exists(result_key(execution_id))
        return any(pipe.execute())

    def rows(self, execution_ids: list[str]) -> dict[str, list[str]]:
        """Saved rows' statuses by execution id (read past the proxy)."""
        out: dict[str, list[str]] = collections.defaultdict(list)
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            for ident, status in conn.execute(
                "SELECT id, status FROM executions WHERE id = ANY(%s)", (execution_ids,)
            ):
                out[ident].append(status)
        return out

    def running_rows(self, workflow_ids: list[str]) -> list[str]:
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            return [row[0] for row in conn.execute(
                "SELECT id FROM executions WHERE workflow_id = ANY(%s) AND status = 'running'",
                (workflow_ids,),
            )]


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{port}"))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory,
               postgres_url: str) -> Iterator[Deployment]:
    tmp: Path = tmp_path_factory.mktemp("durable")
    pg = urlsplit(postgres_url)
    # Keeping what it was given (append-only file), as the README asks of a Redis that
    # runs durable queues: runs queued as it stops are still there when it returns.
    redis_server = ThrowawayRedis(tmp / "redis")
    (tmp / "redis").mkdir()
    redis_server.start()
    with (PgProxy((pg.hostname or "127.0.0.1", pg.port or 5432)) as proxy,
          CountingServer() as counter):
        cluster = Cluster(tmp, {
            "REDIS_URL": redis_server.url,
            "HOOKLINE_DATABASE_URL": _via(postgres_url, proxy.port),
            "HOOKLINE_SHUTDOWN_GRACE_SECONDS": "5",
            "HOOKLINE_RUN_CLAIM_SECONDS": str(CLAIM_SECONDS),
            "HOOKLINE_MAX_QUEUED_RUNS": "5",
        })
        cache = cluster.add("cache", "cache")
        # A run's wait (2 s) outlasts the grace (1 s): SIGTERM hands runs back.
        execs = [cluster.add(f"execution-{i}", "execution", HOOKLINE_CACHE_ADDR=cache.address,
                             HOOKLINE_SHUTDOWN_GRACE_SECONDS="1") for i in (1, 2)]
        exec_addrs = ",".join(p.address for p in execs)
        cache.env["HOOKLINE_EXECUTION_ADDR"] = exec_addrs
        trigger = cluster.add("trigger", "trigger", HOOKLINE_EXECUTION_ADDR=exec_addrs,
                              HOOKLINE_CACHE_ADDR=cache.address)
        for name in ("edge-a", "edge-b"):
            cluster.add(name, "edge", HOOKLINE_TRIGGER_ADDR=trigger.address,
                        HOOKLINE_EXECUTION_ADDR=exec_addrs, HOOKLINE_CACHE_ADDR=cache.address)
        try:
            cluster.start(cache, *execs, trigger)
            cluster.start(*[p for p in cluster.processes if p.service == "edge"])
            yield Deployment(cluster, redis_server, proxy, postgres_url, counter)
        finally:
            cluster.stop_all()
            redis_server.stop()


@pytest.fixture
def dep(deployment: Deployment) -> Deployment:
    deployment.make_whole()
    return deployment


def _log_mark(proc: ServiceProcess) -> int:
    return len(proc.log_events())


def _events_since(proc: ServiceProcess, mark: int, prefix: str) -> list[dict[str, Any]]:
    return [e for e in proc.log_events()[mark:] if str(e.get("event", "")).startswith(prefix)]


def _check_every_run_completed_once(dep: Deployment, calls: list[Call],
                                    saved_path: str, saved_workflow: str) -> None:
    failed = [c for c in calls if c.status != 201]
    assert not failed, failed[:5]
    ids = [c.execution_id for c in calls]
    assert len(set(ids)) == len(ids)
    counts = dep.counter.counts
    assert {i: counts[i] for i in ids if counts[i] != 1} == {}
    saved = [c.execution_id for c in calls if c.path == saved_path]

    def final_rows() -> dict[str, list[str]] | None:
        rows = dep.rows(saved)
        done = all(rows.get(i) == ["success"] for i in saved)
        return rows if done and not dep.running_rows([saved_workflow]) else None

    # The final row lands just after the caller's answer (the cache goes first).
    _until(final_rows, 30, "every saved run's final row")
    unsaved = [c.execution_id for c in calls if c.path != saved_path]
    assert dep.rows(unsaved) == {}


def _two_workflows(dep: Deployment, unique: Callable[[str], str]) -> tuple[str, str, str]:
    """(saved path, unsaved path, saved workflow id)."""
    saved, unsaved = unique("durable-save"), unique("durable-nosave")
    saved_id = dep.create(counted_workflow(saved, unique("Saved"), dep.counter, save=True))
    dep.create(counted_workflow(unsaved, unique("Unsaved"), dep.counter, save=False))
    return saved, unsaved, saved_id


def _kill_while_pausing(dep: Deployment) -> tuple[ServiceProcess, list[str]] | None:
    """Kill an execution process that holds a run in its Pause (its Call journaled,
    time left), while no Call is answered but not yet journaled; returns it and the
    runs it held, or None when no process holds such a run right now."""
    with dep.counter.held():
        answered = dep.counter.answered_since(30)  # results outlive this by far
        _until(lambda: all(dep.journaled_or_done(i) for i in answered), 10,
               "answered requests journaled")
        victim = next((p for p in dep.executions
                       if any(dep.pausing(i) for i in dep.in_flight(p))), None)
        if victim is None:
            return None
        lost = dep.in_flight(victim)
        victim.kill()
        return victim, lost


def _more_traffic(traffic: Traffic) -> None:
    seen = traffic.done()
    _until(lambda: traffic.done() > seen, 30, "more traffic")


# ----------------------------------------------------------------------- tests
def test_a_worker_killed_mid_run_loses_no_run_and_reruns_no_finished_node(
    dep: Deployment, unique: Callable[[str], str]
) -> None:
    saved, unsaved, saved_id = _two_workflows(dep, unique)
    with Traffic(dep.edge_urls, [saved, unsaved]) as traffic:
        started = time.monotonic()
        _until(lambda: traffic.done() >= 4, 30, "steady traffic")
        for _ in range(10):  # until the kill lands while a run is in its Pause
            killed = _kill_while_pausing(dep)
            if killed is not None:
                break
            _more_traffic(traffic)
        assert killed is not None, "no run was ever in its Pause at a kill"
        victim, lost = killed
        _until(lambda: time.monotonic() - started > 8 and traffic.done() >= len(lost) + 12,
               40, "traffic after the kill")
        calls = traffic.stop()
    answered_ids = {c.execution_id for c in calls}
    assert set(lost) <= answered_ids  # the killed process's runs finished elsewhere
    survivor = next(p for p in dep.executions if p is not victim)
    claimed = [e for e in survivor.log_events() if e.get("event") == "Run claimed"]
    assert {e.get("execution_id") for e in claimed} >= set(lost)
    assert any(e.get("event") == "Run resumed" and e.get("node") == "Pause"
               for e in survivor.log_events())
    _check_every_run_completed_once(dep, calls, saved, saved_id)


def test_a_rolling_sigterm_restart_fails_no_caller_and_loses_no_run(
    dep: Deployment, unique: Callable[[str], str]
) -> None:
    saved, unsaved, saved_id = _two_workflows(dep, unique)
    with Traffic(dep.edge_urls, [saved, unsaved]) as traffic:
        _until(lambda: traffic.done() >= 4, 30, "steady traffic")
        for proc in dep.executions:
            assert proc.stop() == 0, proc.log_text()[-3000:]
            dep.cluster.start(proc)
        seen = traffic.done()
        _until(lambda: traffic.done() >= seen + 8, 40, "traffic after the restart")
        calls = traffic.stop()
    _check_every_run_completed_once(dep, calls, saved, saved_id)


def test_a_poison_run_ends_as_an_error_after_three_deliveries(
    dep: Deployment, unique: Callable[[str], str]
) -> None:
    path = unique("poison")
    workflow = counted_workflow(path, unique("Poison"), dep.counter, save=True, timeout=90)
    workflow["nodes"][1]["parameters"]["url"] = dep.counter.url("/poison?id={{ execution.id }}")
    dep.create(workflow)

    def kill_executions() -> None:
        for proc in dep.executions:
            os.kill(proc.pid, signal.SIGKILL)

    dep.counter.on_poison = kill_executions
    answer: list[httpx.Response] = []
    caller = threading.Thread(target=lambda: answer.append(
        httpx.post(f"{dep.edge_urls[0]}/webhook/{path}", json={}, timeout=100)), daemon=True)
    caller.start()
    try:
        deadline = time.monotonic() + 80
        while caller.is_alive() and time.monotonic() < deadline:
            for proc in dep.executions:
                if not proc.alive:
                    proc.start()  # a crashed process comes back, as under systemd
            time.sleep(0.05)  # the restart loop's period
        caller.join(5)
    finally:
        dep.counter.on_poison = lambda: None
    assert answer, "the caller got no answer"
    resp = answer[0]
    assert resp.status_code == 500, resp.text
    body = resp.json()
    assert body["error"] == "execution_failed"
    assert body["message"] == "run abandoned after 3 deliveries"
    execution_id = resp.headers["x-execution-id"]
    assert dep.counter.poisoned == [execution_id] * 3
    record = httpx.get(f"{dep.edge_urls[1]}/api/v1/executions/{execution_id}", timeout=10)
    assert record.json()["status"] == "error"
    _until(lambda: dep.rows([execution_id]).get(execution_id) == ["error"], 10, "the row")


def test_with_the_queue_full_calls_answer_503_at_once(
    dep: Deployment, unique: Callable[[str], str]
) -> None:
    path = unique("admit")
    dep.create({
        "name": unique("Admit"),
        "nodes": [{"name": "Hook", "type": "webhook",
                   "parameters": {"path": path, "responseMode": "onReceived"}},
                  {"name": "Shape", "type": "set", "parameters": {"values": {"ok": True}}}],
        "connections": [{"from": "Hook", "to": "Shape"}],
    })
    for proc in dep.executions:
        assert proc.stop() == 0
    _until(lambda: dep.redis.xlen(dep.stream) == dep.redis.xpending(dep.stream, RUN_GROUP)[
        "pending"], 10, "no run waiting")
    with httpx.Client(base_url=dep.edge_urls[0], timeout=10) as client:
        for _ in range(5):
            assert client.post(f"/webhook/{path}", json={}).status_code == 200
        started = time.perf_counter()
        refused = client.post(f"/webhook/{path}", json={})
        elapsed = time.perf_counter() - started
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"]
    assert "x-execution-id" not in refused.headers
    assert elapsed < 0.1
    dep.cluster.start(*dep.executions)
    _until(lambda: dep.redis.xlen(dep.stream) == 0, 20, "the five runs to be taken and end")


def test_webhooks_answer_through_a_redis_outage_and_runs_return_to_the_queue(
    dep: Deployment, unique: Callable[[str], str]
) -> None:
    saved, unsaved, _ = _two_workflows(dep, unique)
    mark = _log_mark(dep.trigger)
    with Traffic(dep.edge_urls, [saved, unsaved]) as traffic:
        _until(lambda: traffic.done() >= 4, 30, "steady traffic")
        dep.redis_server.stop()
        down = time.monotonic()
        _until(lambda: _events_since(dep.trigger, mark, "Run queue unavailable"), 20,
               "the trigger to notice")
        seen = traffic.done()
        _until(lambda: time.monotonic() - down > 6 and traffic.done() >= seen + 4, 30,
               "calls answered during the outage")
        dep.redis_server.start()
        _until(lambda: _events_since(dep.trigger, mark, "Run queue available again"), 20,
               "the trigger to return to the queue")
        back = dep.redis.xinfo_stream(dep.stream)
        assert back["entries-added"] >= 1
        seen = traffic.done()
        _until(lambda: traffic.done() >= seen + 4, 30, "calls answered after the outage")
        calls = traffic.stop()
    failed = [c for c in calls if c.status != 201]
    assert not failed, failed[:5]
    assert len(_events_since(dep.trigger, mark, "Run queue unavailable")) == 1
    assert len(_events_since(dep.trigger, mark, "Run queue available again")) == 1


def test_every_answered_run_has_its_final_row_after_a_database_outage(
    dep: Deployment, unique: Callable[[str], str]
) -> None:
    path = unique("pg-outage")
    workflow_id = dep.create(counted_workflow(path, unique("PgOutage"), dep.counter, save=True))
    with Traffic(dep.edge_urls, [path]) as traffic:
        _until(lambda: traffic.done() >= 4, 30, "steady traffic")
        dep.proxy.cut()
        cut = time.monotonic()
        seen = traffic.done()
        _until(lambda: time.monotonic() - cut > 6 and traffic.done() >= seen + 4, 30,
               "calls answered during the outage")
        dep.proxy.mend()
        seen = traffic.done()
        _until(lambda: traffic.done() >= seen + 4, 30, "calls answered after the outage")
        calls = traffic.stop()
    failed = [c for c in calls if c.status != 201]
    assert not failed, failed[:5]  # the answer never waits for the database
    ids = [c.execution_id for c in calls]

    def all_final() -> bool:
        rows = dep.rows(ids)
        return all(rows.get(i) == ["success"] for i in ids) and not dep.running_rows(
            [workflow_id])

    _until(all_final, 40, "every answered run's final row", every=0.5)
