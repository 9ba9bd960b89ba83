"""The run queue as an execution replica sees it (DESIGN.md section 8): real
ExecutionServers reading a stream of their own on the real Redis, runs put on it with
the trigger's ``RunProducer``, results handed to the fake cache service.

- A queued run executes; its entry is acknowledged and deleted, its journal removed.
- While a run goes on, each finished node is in ``hookline:journal:{id}``.
- A run left pending by a dead consumer is claimed after the claim time and finishes;
  nodes its journal holds are not run again, and "Run resumed" names the next node.
- A poison run (delivered too often) ends as an error record, saved and acknowledged.
- On shutdown a run in flight is handed back: a second replica takes it at once.
- Admission: past ``max_queued_runs`` waiting runs, ``QueueFull``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from hookline_execution.domain.journal import JournaledNode
from hookline_execution.domain.service import StartRequest
from hookline_execution.run_messages import start_message
from hookline_execution.storage.redis_queue import RedisRunQueue
from hookline_runtime.errors import QueueFull
from hookline_runtime.redis.keys import RUN_GROUP, journal_key, journal_meta_key
from hookline_runtime.redis.run_queue import RunProducer, ensure_group
from tests.redis_server import ThrowawayRedis

from .conftest import RunningExecution, StartExecution, logged
from .local_http import LocalHttpServer, Reply, Request
from .workflows import node, workflow

pytestmark = pytest.mark.timeout(40)


@dataclass
class Queue:
    """A run stream of this test's own, with the producer the trigger uses."""

    redis: aioredis.Redis
    stream: str
    producer: RunProducer

    async def enqueue(
        self, data: dict[str, Any], trigger_output: Any = None, *, execution_id: str = ""
    ) -> str:
        execution_id = execution_id or uuid.uuid4().hex
        request = StartRequest(execution_id, data, trigger_output or {}, mode="manual")
        await self.producer.enqueue(start_message(request).SerializeToString())
        return execution_id

    async def take_as_dead_consumer(self) -> str:
        """Deliver the next entry to a consumer that will never acknowledge it."""
        reply: Any = await self.redis.xreadgroup(RUN_GROUP, "dead", {self.stream: ">"}, count=1)
        [(_stream, [(entry_id, _fields)])] = reply
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def pending(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = await self.redis.xpending_range(
            self.stream, RUN_GROUP, min="-", max="+", count=100
        )
        return entries

    async def drained(self, execution_id: str, timeout: float = 5.0) -> None:
        """Until the stream is empty, nothing is pending and the journal is gone."""
        deadline = time.monotonic() + timeout
        while True:
            length = await self.redis.xlen(self.stream)
            pending = (await self.redis.xpending(self.stream, RUN_GROUP))["pending"]
            journal = await self.redis.exists(
                journal_key(execution_id), journal_meta_key(execution_id)
            )
            if (length, pending, journal) == (0, 0, 0):
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"queue not drained: XLEN {length}, XPENDING {pending}, journal {journal}"
                )
            await asyncio.sleep(0.02)


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[Queue]:
    client = aioredis.Redis.from_url(redis_url)
    stream = f"hookline:runs:test:{uuid.uuid4().hex}"
    await ensure_group(client, stream)
    try:
        yield Queue(client, stream, RunProducer(client, stream=stream, max_queued=1000))
    finally:
        await client.delete(stream)
        await client.aclose()


Worker = Callable[..., Awaitable[RunningExecution]]


@pytest.fixture
def worker(start_execution: StartExecution, queue: Queue, redis_url: str) -> Worker:
    """``await worker(**settings)``: an ExecutionServer reading the test's stream."""

    def start(**overrides: Any) -> Awaitable[RunningExecution]:
        return start_execution(redis_url=redis_url, run_stream=queue.stream, **overrides)

    return start


def _counted(local_http: LocalHttpServer, path: str) -> Callable[[], int]:
    """Route ``path`` to a 200 reply; returns a function counting its requests."""
    local_http.routes[path] = Reply(
        200, body=b'{"ok": true}', headers={"Content-Type": "application/json"}
    )

    def count() -> int:
        return sum(1 for r in local_http.requests if r.target.split("?")[0] == path)

    return count


def _journaled(output: Any, started_at: datetime | None = None) -> tuple[bytes, bytes]:
    """A finished node's journal entry: (output, metadata)."""
    return JournaledNode(started_at or datetime.now(UTC), 1.0, output, "main").encode_parts()


async def test_a_queued_run_executes_and_its_entry_and_journal_are_removed(
    worker: Worker, queue: Queue
) -> None:
    running = await worker()
    execution_id = await queue.enqueue(
        workflow([node("Shape", "set", values={"n": "{{ json.n * 2 }}"})]), {"n": 21}
    )
    record = await running.cache.result(execution_id)
    assert record["status"] == "success"
    assert record["nodes"]["Shape"]["output"] == {"n": 42}
    await queue.drained(execution_id)


async def test_only_a_run_that_wrote_a_journal_deletes_one(
    worker: Worker, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    acknowledged: list[tuple[str, str]] = []
    real_ack = RedisRunQueue.ack

    async def ack(self: RedisRunQueue, runs: list[tuple[str, str]]) -> None:
        acknowledged.extend(runs)
        await real_ack(self, runs)

    monkeypatch.setattr(RedisRunQueue, "ack", ack)
    running = await worker()
    replayable = await queue.enqueue(workflow([node("Shape", "set", values={"n": 1})]))
    waited = await queue.enqueue(workflow([node("Pause", "wait", seconds=0)]))
    for execution_id in (replayable, waited):
        assert (await running.cache.result(execution_id))["status"] == "success"
        await queue.drained(execution_id)
    # (entry, execution whose journal goes too): none for the run of replayable nodes.
    assert sorted(execution for _, execution in acknowledged) == sorted(["", waited])


async def test_each_finished_node_is_journaled_while_the_run_goes_on(
    worker: Worker, queue: Queue, local_http: LocalHttpServer
) -> None:
    release = asyncio.Event()
    local_http.routes["/hold"] = Reply(200, body=b"released", hold=release)
    running = await worker()
    execution_id = await queue.enqueue(
        workflow(
            [
                node("Shape", "set", values={"n": "{{ json.n * 2 }}"}),
                node("Call", "httpRequest", url=local_http.url("/hold"), timeoutSeconds=30),
            ]
        ),
        {"n": 21},
    )
    await local_http.request_to("/hold")
    # "Call" is in progress: the node before it is in the journal, with its output.
    journal: dict[Any, Any] = await queue.redis.hgetall(journal_key(execution_id))
    assert set(journal) == {b"Shape"}
    assert json.loads(journal[b"Shape"]) == {"n": 42}  # node name -> its output
    meta: dict[Any, Any] = await queue.redis.hgetall(journal_meta_key(execution_id))
    assert json.loads(meta[b"Shape"])["emit"] == "main"
    assert await queue.redis.ttl(journal_key(execution_id)) > 0
    release.set()
    record = await running.cache.result(execution_id)
    assert record["status"] == "success"
    await queue.drained(execution_id)


async def test_a_run_left_by_a_dead_consumer_is_claimed_and_completes(
    worker: Worker, queue: Queue, local_http: LocalHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls = _counted(local_http, "/count")
    execution_id = await queue.enqueue(
        workflow([node("Call", "httpRequest", url=local_http.url("/count"))])
    )
    entry = await queue.take_as_dead_consumer()
    taken = time.monotonic()
    running = await worker(run_claim_seconds=0.5)
    record = await running.cache.result(execution_id)
    assert time.monotonic() - taken >= 0.5  # not before it was idle for the claim time
    assert record["status"] == "success"
    assert calls() == 1
    assert logged(caplog, "Run claimed", entry=entry, deliveries=2)
    await queue.drained(execution_id)
    sample = running.server.metrics.registry.get_sample_value
    assert sample("hookline_run_claims_total") == 1
    assert sample("hookline_run_redeliveries_total") == 1
    assert sample("hookline_run_start_age_seconds_count") == 1
    assert (sample("hookline_run_start_age_seconds_sum") or 0) >= 0.5  # waited for its claim


async def test_a_run_longer_than_the_claim_time_is_renewed_not_taken_by_another_replica(
    worker: Worker, queue: Queue, local_http: LocalHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls = _counted(local_http, "/count")
    first = await worker(run_claim_seconds=0.5)
    execution_id = await queue.enqueue(
        workflow(
            [
                node("Call", "httpRequest", url=local_http.url("/count")),
                node("Pause", "wait", seconds=2),  # four claim times
            ]
        )
    )
    await local_http.request_to("/count")
    await worker(run_claim_seconds=0.5)  # a second replica, claiming every tick
    record = await first.cache.result(execution_id)
    assert record["status"] == "success"
    assert calls() == 1
    assert len(first.cache.results[execution_id]) == 1
    assert not logged(caplog, "Run claimed")
    await queue.drained(execution_id)


async def test_a_claimed_run_resumes_after_the_nodes_its_journal_holds(
    worker: Worker, queue: Queue, local_http: LocalHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first = _counted(local_http, "/first")
    second = _counted(local_http, "/second")
    execution_id = await queue.enqueue(
        workflow(
            [
                node("Shape", "set", values={"n": "{{ json.n * 2 }}"}),
                node("First", "httpRequest", url=local_http.url("/first")),
                node(
                    "Second",
                    "httpRequest",
                    url=local_http.url("/second"),
                    body="{{ nodes.First.body.journaled }}",
                    method="POST",
                ),
            ]
        ),
        {"n": 21},
    )
    await queue.take_as_dead_consumer()
    # The dead worker had finished "Shape" and "First" before it died, a minute ago.
    began = datetime.now(UTC) - timedelta(minutes=1)
    first_output = {"statusCode": 200, "headers": {}, "body": {"journaled": "yes"}}
    for name, (output, meta) in {
        "Shape": _journaled({"n": 42}, began),
        "First": _journaled(first_output, began + timedelta(seconds=1)),
    }.items():
        await queue.redis.hset(journal_key(execution_id), name, output)
        await queue.redis.hset(journal_meta_key(execution_id), name, meta)
    running = await worker(run_claim_seconds=0.5)
    record = await running.cache.result(execution_id)
    assert record["status"] == "success", record
    assert first() == 0  # journaled: not run again
    assert second() == 1
    # The journaled output fed the next node, as if "First" had just run.
    sent: list[Request] = [r for r in local_http.requests if r.target == "/second"]
    assert sent[0].body == b"yes"
    assert record["nodes"]["First"]["output"] == first_output
    # The record starts when the run first started, not when it was taken over.
    assert datetime.fromisoformat(record["startedAt"]) == began
    assert logged(caplog, "Run resumed", node="Second", finished_nodes=2)
    await queue.drained(execution_id)


async def test_a_poison_run_ends_as_an_error_record_and_is_acknowledged(
    worker: Worker, queue: Queue, local_http: LocalHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls = _counted(local_http, "/count")
    execution_id = await queue.enqueue(
        workflow([node("Call", "httpRequest", url=local_http.url("/count"))], save=True)
    )
    entry = await queue.take_as_dead_consumer()
    # Delivered three times already, and long idle: the next delivery is the fourth.
    await queue.redis.xclaim(
        queue.stream, RUN_GROUP, "dead", 0, [entry], idle=10_000_000, retrycount=3, justid=True
    )
    running = await worker(run_claim_seconds=0.5)
    record = await running.cache.result(execution_id)
    assert record["status"] == "error"
    assert record["error"] == {"node": "Call", "message": "run abandoned after 3 deliveries"}
    assert calls() == 0
    await queue.drained(execution_id)
    # Acknowledged only once saved: the final row is there by now.
    assert running.saved_rows(id=execution_id, status="error") == 1
    assert logged(caplog, "Run abandoned", deliveries=3, node="Call")
    assert running.server.metrics.registry.get_sample_value("hookline_run_poison_total") == 1


async def test_an_abandoned_run_keeps_the_start_and_the_nodes_its_journal_holds(
    worker: Worker, queue: Queue, local_http: LocalHttpServer
) -> None:
    calls = _counted(local_http, "/count")
    execution_id = await queue.enqueue(
        workflow(
            [
                node("Shape", "set", values={"n": 1}),
                node("Call", "httpRequest", url=local_http.url("/count")),
            ]
        )
    )
    entry = await queue.take_as_dead_consumer()
    began = datetime.now(UTC) - timedelta(minutes=5)
    output, meta = _journaled({"n": 1}, began)
    await queue.redis.hset(journal_key(execution_id), "Shape", output)
    await queue.redis.hset(journal_meta_key(execution_id), "Shape", meta)
    await queue.redis.xclaim(
        queue.stream, RUN_GROUP, "dead", 0, [entry], idle=10_000_000, retrycount=3, justid=True
    )
    running = await worker(run_claim_seconds=0.5)
    record = await running.cache.result(execution_id)
    assert record["error"] == {"node": "Call", "message": "run abandoned after 3 deliveries"}
    assert record["nodes"]["Shape"]["output"] == {"n": 1}
    assert datetime.fromisoformat(record["startedAt"]) == began
    assert calls() == 0
    await queue.drained(execution_id)


async def test_shutdown_hands_a_run_back_and_another_replica_finishes_it_at_once(
    worker: Worker, queue: Queue, local_http: LocalHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls = _counted(local_http, "/count")
    first = await worker(run_claim_seconds=30, shutdown_grace_seconds=0.2)
    execution_id = await queue.enqueue(
        workflow(
            [
                node("Call", "httpRequest", url=local_http.url("/count")),
                node("Pause", "wait", seconds=2),
            ]
        )
    )
    await local_http.request_to("/count")
    deadline = time.monotonic() + 5
    while not await queue.redis.hexists(journal_key(execution_id), "Call"):
        assert time.monotonic() < deadline, "the run never reached its wait"
        await asyncio.sleep(0.02)

    await first.stop()
    [pending] = await queue.pending()
    # Handed back: claimable at once, and the delivery it had does not count.
    assert pending["time_since_delivered"] > 30_000
    assert pending["times_delivered"] == 0
    assert execution_id not in first.cache.results

    stopped = time.monotonic()
    await worker(run_claim_seconds=30)
    record = await first.cache.result(execution_id, timeout=10)
    assert time.monotonic() - stopped < 6  # far under the 30 s claim time
    assert record["status"] == "success"
    assert calls() == 1
    assert logged(caplog, "Run resumed", node="Pause", finished_nodes=1)
    await queue.drained(execution_id)


async def test_the_run_past_the_admission_limit_is_refused(
    queue: Queue,
) -> None:
    producer = RunProducer(queue.redis, stream=queue.stream, max_queued=5)
    data = workflow([node("Shape", "set", values={"n": 1})])
    for _ in range(5):
        await producer.enqueue(
            start_message(StartRequest(uuid.uuid4().hex, data, {})).SerializeToString()
        )
    with pytest.raises(QueueFull):
        await producer.enqueue(
            start_message(StartRequest(uuid.uuid4().hex, data, {})).SerializeToString()
        )
    assert await queue.redis.xlen(queue.stream) == 5
    # A run taken by a worker no longer waits: there is room for one more.
    await queue.take_as_dead_consumer()
    await producer.enqueue(
        start_message(StartRequest(uuid.uuid4().hex, data, {})).SerializeToString()
    )
    assert await queue.redis.xlen(queue.stream) == 6


async def test_runs_appended_together_each_get_an_entry_even_after_a_script_flush(
    queue: Queue,
) -> None:
    data = workflow([node("Shape", "set", values={"n": 1})])

    def run() -> bytes:
        return start_message(StartRequest(uuid.uuid4().hex, data, {})).SerializeToString()

    # Appended together: one script call carries them all.
    entries = await asyncio.gather(*(queue.producer.enqueue(run()) for _ in range(20)))
    assert len(set(entries)) == 20
    assert await queue.redis.xlen(queue.stream) == 20
    # A Redis that lost its scripts (a restart, SCRIPT FLUSH) is given the script again.
    await queue.redis.script_flush()
    await queue.producer.enqueue(run())
    assert await queue.redis.xlen(queue.stream) == 21


async def test_runs_started_together_reach_a_blocked_reader_in_one_read(
    queue: Queue, redis_url: str
) -> None:
    data = workflow([node("Shape", "set", values={"n": 1})])
    name = f"test-reader-{uuid.uuid4().hex[:8]}"
    reader = aioredis.Redis.from_url(redis_url, client_name=name)
    try:
        # A worker waiting for runs, as the execution service's reader waits.
        read = asyncio.ensure_future(
            reader.xreadgroup(RUN_GROUP, "reader", {queue.stream: ">"}, count=100, block=5000)
        )
        deadline = time.monotonic() + 5
        while not any(
            c["name"] == name and "b" in c["flags"] for c in await queue.redis.client_list()
        ):
            assert time.monotonic() < deadline, "the reader never blocked on the stream"
            await asyncio.sleep(0.01)
        entries = await asyncio.gather(
            *(
                queue.producer.enqueue(
                    start_message(StartRequest(uuid.uuid4().hex, data, {})).SerializeToString()
                )
                for _ in range(20)
            )
        )
        reply: Any = await read
        [(_stream, delivered)] = reply
    finally:
        await reader.aclose()

    # One script call appended them all, so the reader woke once and got every one.
    assert [entry_id.decode() for entry_id, _ in delivered] == entries


async def test_admission_inside_one_append_refuses_the_runs_past_the_limit(
    queue: Queue,
) -> None:
    producer = RunProducer(queue.redis, stream=queue.stream, max_queued=5)
    data = workflow([node("Shape", "set", values={"n": 1})])

    outcomes = await asyncio.gather(
        *(
            producer.enqueue(
                start_message(StartRequest(uuid.uuid4().hex, data, {})).SerializeToString()
            )
            for _ in range(8)
        ),
        return_exceptions=True,
    )

    assert [isinstance(o, str) for o in outcomes] == [True] * 5 + [False] * 3
    assert all(isinstance(o, QueueFull) for o in outcomes[5:])
    assert await queue.redis.xlen(queue.stream) == 5


async def test_a_run_delivered_while_the_worker_stops_is_handed_back_not_left_pending(
    worker: Worker, queue: Queue, local_http: LocalHttpServer
) -> None:
    calls = _counted(local_http, "/count")
    first = await worker(run_claim_seconds=30, shutdown_grace_seconds=0)
    # Until its reader is blocked in XREADGROUP (tests run one at a time: the only
    # blocked reader connection on the server is this one).
    deadline = time.monotonic() + 5
    while not any(
        c["name"] == "hookline-execution-reader" and "b" in c["flags"]
        for c in await queue.redis.client_list()
    ):
        assert time.monotonic() < deadline, "the worker never blocked reading the queue"
        await asyncio.sleep(0.01)
    stopping = asyncio.create_task(first.stop())
    await asyncio.sleep(0)  # the stop begins: nothing new is read from here on
    execution_id = await queue.enqueue(
        workflow([node("Call", "httpRequest", url=local_http.url("/count"))])
    )
    await stopping
    # Delivered to the stopping worker's last read, or not at all: either way it is
    # claimable at once, never left to wait out the claim time.
    for entry in await queue.pending():
        assert entry["time_since_delivered"] > 30_000, entry
    await worker(run_claim_seconds=30)
    record = await first.cache.result(execution_id, timeout=5)
    assert record["status"] == "success"
    assert calls() == 1
    await queue.drained(execution_id)


async def test_the_workers_own_log_lines_name_no_run_after_it_took_one(
    start_execution: StartExecution, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = ThrowawayRedis()
    server.start()
    client = aioredis.Redis(port=server.port)
    try:
        stream = f"hookline:runs:test:{uuid.uuid4().hex}"
        await ensure_group(client, stream)
        producer = RunProducer(client, stream=stream, max_queued=10)
        queue = Queue(client, stream, producer)
        execution_id = await queue.enqueue(workflow([node("Shape", "set", values={"n": 1})]))
        await queue.take_as_dead_consumer()
        running = await start_execution(
            redis_url=server.url, run_stream=stream, run_claim_seconds=0.5
        )
        await running.cache.result(execution_id)  # claimed by the keeper, and run
        server.stop()
        deadline = time.monotonic() + 10
        while not logged(caplog, "Run queue unavailable: retrying"):
            assert time.monotonic() < deadline, "the outage was never noticed"
            await asyncio.sleep(0.05)
        outage = [
            r.msg
            for r in caplog.records
            if isinstance(r.msg, dict) and r.msg.get("event") == "Run queue unavailable: retrying"
        ]
        assert "execution_id" not in outage[0]
    finally:
        server.stop()
        await client.aclose()
