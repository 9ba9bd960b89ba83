"""Putting runs on the run queue (DESIGN.md section 8): the producer side, shared by
the trigger service (every webhook, manual and schedule run) and the execution
service (its ``StartExecution`` RPC).

A run is one entry of the stream ``hookline:runs`` with one field, ``run``: the
serialized ``hookline.execution.v1.StartExecutionRequest``. Admission and the append
are one Lua script, so one round trip both checks the backlog and adds the entry:
runs *waiting* are the entries not yet delivered to any worker — the stream's
length less the group's pending entries, since workers delete what they
acknowledge. At ``max_queued`` waiting runs the script adds nothing and
``QueueFull`` is raised: the caller answers 503 and nothing will run.

The script goes through the process's ``AutoPipeline`` (``EVALSHA``, loading the
script once when Redis answers ``NOSCRIPT``), so the runs that webhooks arriving
together start are appended in one round trip.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, ResponseError

from hookline_runtime.errors import QueueFull
from hookline_runtime.redis.keys import RUN_FIELD, RUN_GROUP
from hookline_runtime.redis.pipeline import AutoPipeline

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
if waiting >= tonumber(ARGV[2]) then
  return false
end
return redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[4])
"""


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

    def __init__(
        self, redis: aioredis.Redis, pipeline: AutoPipeline, *, stream: str, max_queued: int
    ) -> None:
        self._stream = stream
        self._max_queued = max_queued
        self._pipeline = pipeline
        self._script = redis.register_script(_ENQUEUE)

    @property
    def stream(self) -> str:
        return self._stream

    async def enqueue(self, run: bytes) -> str:
        """Append one run; returns its entry id. ``QueueFull`` when the backlog is at the
        limit; Redis errors (connection, timeout) propagate to the caller, which decides
        how to carry on without the queue."""
        command = (
            "EVALSHA", self._script.sha, 1, self._stream,
            RUN_GROUP, self._max_queued, RUN_FIELD, run,
        )  # fmt: skip
        (entry,) = await self._pipeline.execute([command])
        if isinstance(entry, NoScriptError):  # Redis restarted, or its scripts were flushed
            await self._script.registered_client.script_load(_ENQUEUE)
            (entry,) = await self._pipeline.execute([command])
        if isinstance(entry, Exception):
            raise entry
        if not entry:
            raise QueueFull(
                f"{self._max_queued} runs are already waiting to start; try again later"
            )
        return entry.decode() if isinstance(entry, bytes) else str(entry)
