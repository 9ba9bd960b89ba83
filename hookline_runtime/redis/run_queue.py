"""Putting runs on the run queue (DESIGN.md section 8): the producer side, shared by
the trigger service (every webhook, manual and schedule run) and the execution
service (its ``StartExecution`` RPC).

A run is one entry of the stream ``hookline:runs`` with one field, ``run``: the
serialized ``hookline.execution.v1.StartExecutionRequest``. Admission and the append
are one Lua script, so one round trip both checks the backlog and adds the entries:
runs *waiting* are the entries not yet delivered to any worker — the stream's
length less the group's pending entries, since workers delete what they
acknowledge. Past ``max_queued`` waiting runs the script adds nothing more and
``QueueFull`` is raised for each run it refused: the caller answers 503 and nothing
will run.

The runs started together (the webhooks of one event-loop turn, and those arriving
while an append is on its way) are appended by one call of the script
(``hookline_runtime.batching.Coalescer``: one call in flight at a time, so one
connection; redis-py's ``Script`` sends ``EVALSHA`` and loads the script again when
Redis answers ``NOSCRIPT``). One script is one step for Redis: a worker blocked in
``XREADGROUP`` wakes once and reads the whole burst, rather than one run per wake-up,
so the burst travels on through the execution and cache services as one batch too.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from hookline_runtime.batching import Coalescer
from hookline_runtime.errors import QueueFull
from hookline_runtime.redis.keys import RUN_FIELD, RUN_GROUP

__all__ = ["RunProducer", "ensure_group"]

_ENQUEUE = """
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
local waiting
if ok then
  waiting = redis.call('XLEN', KEYS[1]) - pending[1]
else
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
  waiting = 0
end
local limit = tonumber(ARGV[2])
local ids = {}
for i = 4, #ARGV do
  if waiting < limit then
    ids[i - 3] = redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[i])
    waiting = waiting + 1
  else
    ids[i - 3] = false
  end
end
return ids
"""
"""KEYS[1] the stream; ARGV: the group, the admission limit, the field, then the runs.
Returns one entry id per run, or false for a run refused at the limit."""

_BATCH_RUNS = 128
_BATCH_BYTES = 4 * 1024 * 1024
"""At most this many runs, or bytes of runs past the first, per script call: one
call is one step for Redis, which serves nobody else meanwhile."""


async def ensure_group(redis: aioredis.Redis, stream: str) -> None:
    """Create the stream and its consumer group, reading from the start, unless they
    exist. Producers and consumers both call it, so neither waits for the other."""
    try:
        await redis.xgroup_create(stream, RUN_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class RunProducer:
    """Appends runs to the stream, refusing them past the admission limit."""

    def __init__(self, redis: aioredis.Redis, *, stream: str, max_queued: int) -> None:
        self._stream = stream
        self._max_queued = max_queued
        self._script = redis.register_script(_ENQUEUE)
        self._appends: Coalescer[bytes, str | None] = Coalescer(
            self._append,
            name="run-queue-append",
            max_items=_BATCH_RUNS,
            weight=len,
            max_weight=_BATCH_BYTES,
        )

    @property
    def stream(self) -> str:
        return self._stream

    async def enqueue(self, run: bytes) -> str:
        """Append one run; returns its entry id. ``QueueFull`` when the backlog is at the
        limit; Redis errors (connection, timeout) propagate to the caller, which decides
        how to carry on without the queue."""
        entry = await self._appends.submit(run)
        if entry is None:
            raise QueueFull(
                f"{self._max_queued} runs are already waiting to start; try again later"
            )
        return entry

    async def _append(self, runs: list[bytes]) -> list[str | None]:
        """One script call for ``runs``: their entry ids, None where refused."""
        reply = await self._script(
            keys=[self._stream], args=[RUN_GROUP, self._max_queued, RUN_FIELD, *runs]
        )
        return [_text(entry) if entry else None for entry in reply]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
