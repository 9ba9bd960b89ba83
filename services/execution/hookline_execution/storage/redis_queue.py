"""The run queue and run journals on Redis (DESIGN.md section 8): the adapters of
``RunQueue`` and ``RunJournal``.

- Queue: stream ``hookline:runs``, consumer group ``execution``, one consumer per
  process. New runs come from ``XREADGROUP`` (blocking for at most a second, on a
  client of its own whose socket timeout allows it); runs of dead workers from
  ``XAUTOCLAIM``, each with its delivery count (one Lua script, one round trip).
  Renewing and handing back use ``XCLAIM … JUSTID`` (which resets the idle time
  without counting a delivery), only on entries this consumer still owns (Lua). A run
  handed back gets ``IDLE`` past any claim time and its delivery count restored, so a
  graceful hand-back does not count towards the poison limit.
- Acknowledging: ``XACK``, ``XDEL`` and the journal's ``DEL``, pipelined.
- Journal: hash ``hookline:journal:{executionId}``, node name → its output (JSON), and
  beside it ``hookline:journal-meta:{executionId}``, node name → what a resume needs
  besides (emitted outputs, response, timing, tries). A write (one or more entries)
  is both ``HSET``s and their ``EXPIRE``s through the shared auto-pipeline: one
  round trip, shared by concurrent runs.

Every key is one stream or one execution's hash: nothing spans two hash slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from google.protobuf.message import DecodeError
from hookline.execution.v1 import execution_service_pb2 as pb
from redis.exceptions import RedisError

from hookline_execution.domain.service import StartRequest
from hookline_execution.domain.worker import QueuedRun, QueueStats
from hookline_execution.run_messages import start_message, start_request
from hookline_runtime.errors import InvalidArgument, Unavailable
from hookline_runtime.redis.keys import RUN_FIELD, RUN_GROUP, journal_key, journal_meta_key
from hookline_runtime.redis.pipeline import AutoPipeline
from hookline_runtime.redis.run_queue import RunProducer, ensure_group

__all__ = ["JOURNAL_TTL_SECONDS", "RedisRunEnqueuer", "RedisRunJournal", "RedisRunQueue"]

JOURNAL_TTL_SECONDS = 86_400
"""A journal outlives any run; it is deleted when its run ends."""

_HANDED_BACK_IDLE_MS = 86_400_000
"""Idle time given to a handed-back entry: past any claim time."""

_CLAIM = """
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local out = {}
for _, e in ipairs(r[2]) do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
  local delivered = 1
  if p[1] then delivered = p[1][4] end
  table.insert(out, {e[1], e[2], delivered})
end
return {r[1], out}
"""

_RENEW = """
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""

_HAND_BACK = """
for i = 4, #ARGV, 2 do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i],
               'IDLE', ARGV[3], 'RETRYCOUNT', ARGV[i + 1], 'JUSTID')
  end
end
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(reply: Any) -> list[tuple[Any, Any]]:
    """HGETALL's reply through the raw pipeline: a flat list (or a dict)."""
    if isinstance(reply, dict):
        return list(reply.items())
    return [(reply[i], reply[i + 1]) for i in range(0, len(reply), 2)]


def _fields(flat: list[Any] | dict[Any, Any]) -> dict[bytes, bytes]:
    if isinstance(flat, dict):
        return flat
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def _decode(entry_id: str, fields: dict[bytes, bytes]) -> tuple[str, StartRequest | None]:
    message = pb.StartExecutionRequest()
    try:
        message.ParseFromString(fields[RUN_FIELD])
        return message.execution_id, start_request(message)
    except (KeyError, DecodeError, InvalidArgument):
        return message.execution_id or "", None


class RedisRunQueue:
    """``RunQueue`` on a Redis stream. ``blocking`` must allow a socket read of about
    ``block_ms`` (redis-py's default 5 s timeout does; the shared clients' 2 s does
    too for the 1 s block used here)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        blocking: aioredis.Redis,
        pipeline: AutoPipeline,
        *,
        stream: str,
        consumer: str,
        block_ms: int = 1000,
    ) -> None:
        self._redis = redis
        self._blocking = blocking
        self._pipeline = pipeline
        self._stream = stream
        self._consumer = consumer
        self._block_ms = block_ms
        self._claim_script = redis.register_script(_CLAIM)
        self._renew_script = redis.register_script(_RENEW)
        self._hand_back_script = redis.register_script(_HAND_BACK)
        self._cursor = "0-0"

    async def prepare(self) -> None:
        try:
            await ensure_group(self._redis, self._stream)
        except RedisError as exc:
            raise Unavailable(f"run queue: {exc}") from exc

    async def read(self, count: int) -> list[QueuedRun]:
        try:
            reply: Any = await self._blocking.xreadgroup(
                RUN_GROUP,
                self._consumer,
                {self._stream: ">"},
                count=count,
                block=self._block_ms,
            )
        except RedisError as exc:
            if "NOGROUP" in str(exc):  # the stream was deleted under us
                await self.prepare()
                return []
            raise Unavailable(f"run queue: {exc}") from exc
        runs: list[QueuedRun] = []
        for _stream, entries in reply or []:
            for raw_id, fields in entries:
                entry_id = _text(raw_id)
                execution_id, request = _decode(entry_id, _fields(fields))
                runs.append(QueuedRun(entry_id, execution_id, request, 1, claimed=False))
        return runs

    async def claim(self, count: int, min_idle_seconds: float) -> list[QueuedRun]:
        try:
            cursor, entries = await self._claim_script(
                keys=[self._stream],
                args=[
                    RUN_GROUP,
                    self._consumer,
                    int(min_idle_seconds * 1000),
                    self._cursor,
                    count,
                ],
            )
        except RedisError as exc:
            if "NOGROUP" in str(exc):
                await self.prepare()
                return []
            raise Unavailable(f"run queue: {exc}") from exc
        self._cursor = _text(cursor)
        runs: list[QueuedRun] = []
        for raw_id, fields, delivered in entries:
            entry_id = _text(raw_id)
            execution_id, request = _decode(entry_id, _fields(fields))
            runs.append(QueuedRun(entry_id, execution_id, request, int(delivered), claimed=True))
        return runs

    async def renew(self, entry_ids: list[str]) -> list[str]:
        try:
            lost = await self._renew_script(
                keys=[self._stream], args=[RUN_GROUP, self._consumer, *entry_ids]
            )
        except RedisError as exc:
            raise Unavailable(f"run queue: {exc}") from exc
        return [_text(entry) for entry in lost]

    async def ack(self, runs: list[tuple[str, str]]) -> None:
        entries = [entry for entry, _ in runs]
        commands: list[tuple[Any, ...]] = [
            ("XACK", self._stream, RUN_GROUP, *entries),
            ("XDEL", self._stream, *entries),
        ]
        commands += [
            ("DEL", key)
            for _, execution_id in runs
            if execution_id
            for key in (journal_key(execution_id), journal_meta_key(execution_id))
        ]
        try:
            replies = await self._pipeline.execute(commands)
        except (RedisError, OSError) as exc:
            raise Unavailable(f"run queue: {exc}") from exc
        for reply in replies:
            if isinstance(reply, Exception):
                raise Unavailable(f"run queue: {reply}")

    async def hand_back(self, runs: list[tuple[str, int]]) -> None:
        args: list[Any] = [RUN_GROUP, self._consumer, _HANDED_BACK_IDLE_MS]
        for entry, deliveries in runs:
            args += [entry, max(0, deliveries)]
        try:
            await self._hand_back_script(keys=[self._stream], args=args)
        except RedisError as exc:
            raise Unavailable(f"run queue: {exc}") from exc

    async def stats(self) -> QueueStats:
        try:
            length, pending = await self._pipeline.execute(
                [("XLEN", self._stream), ("XPENDING", self._stream, RUN_GROUP)]
            )
        except (RedisError, OSError) as exc:
            raise Unavailable(f"run queue: {exc}") from exc
        if isinstance(length, Exception) or isinstance(pending, Exception):
            return QueueStats(0, 0)
        return QueueStats(int(length), int(pending[0]))


class RedisRunJournal:
    """``RunJournal`` on one Redis hash per run."""

    def __init__(self, redis: aioredis.Redis, pipeline: AutoPipeline) -> None:
        self._redis = redis
        self._pipeline = pipeline

    async def record(self, execution_id: str, entries: Sequence[tuple[str, bytes, bytes]]) -> None:
        key, meta_key = journal_key(execution_id), journal_meta_key(execution_id)
        outputs = [part for node, output, _ in entries for part in (node, output)]
        metas = [part for node, _, meta in entries for part in (node, meta)]
        try:
            replies = await self._pipeline.execute(
                [
                    ("HSET", key, *outputs),
                    ("EXPIRE", key, JOURNAL_TTL_SECONDS),
                    ("HSET", meta_key, *metas),
                    ("EXPIRE", meta_key, JOURNAL_TTL_SECONDS),
                ]
            )
        except (RedisError, OSError) as exc:
            raise Unavailable(f"run journal: {exc}") from exc
        for reply in replies:
            if isinstance(reply, Exception):
                raise Unavailable(f"run journal: {reply}")

    async def load(self, execution_id: str) -> dict[str, tuple[bytes, bytes | None]]:
        try:
            outputs, metas = await self._pipeline.execute(
                [
                    ("HGETALL", journal_key(execution_id)),
                    ("HGETALL", journal_meta_key(execution_id)),
                ]
            )
        except (RedisError, OSError) as exc:
            raise Unavailable(f"run journal: {exc}") from exc
        if isinstance(outputs, Exception) or isinstance(metas, Exception):
            raise Unavailable(
                f"run journal: {outputs if isinstance(outputs, Exception) else metas}"
            )
        meta_of = {_text(name): bytes(value) for name, value in _pairs(metas)}
        return {
            _text(name): (bytes(value), meta_of.get(_text(name))) for name, value in _pairs(outputs)
        }


class RedisRunEnqueuer:
    """``RunEnqueuer``: the shared producer, for ``StartExecution`` calls."""

    def __init__(self, producer: RunProducer) -> None:
        self._producer = producer

    async def enqueue(self, request: StartRequest) -> None:
        try:
            await self._producer.enqueue(start_message(request).SerializeToString())
        except (RedisError, OSError) as exc:
            raise Unavailable(f"run queue: {exc}") from exc
