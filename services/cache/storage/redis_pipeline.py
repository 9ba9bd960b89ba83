"""Automatic pipelining: the commands of concurrent requests share one round trip.

Thousands of waiters each GET their key once when they start; sent one by one they
would take one pooled connection each while in flight. ``AutoPipeline`` queues the
commands of every caller and sends whatever has queued as one non-transactional
pipeline, with at most one pipeline in flight, so all of a process's commands use a
single connection and a burst costs one round trip (redis-py has no auto-pipelining
of its own; its ``Retry`` still applies to each pipeline).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

__all__ = ["AutoPipeline", "Command"]

Command = tuple[Any, ...]
_Request = tuple[Sequence[Command], "asyncio.Future[list[Any]]"]


class PipelineAborted(RedisError):
    """The pipeline carrying a request stopped without an answer."""


class AutoPipeline:
    """``await pipeline.execute([("GET", key), ...])`` returns the replies in order;
    a command's own error comes back in its place, a connection error is raised."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._pending: list[_Request] = []
        self._sender: asyncio.Task[None] | None = None

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending.append((commands, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all(), name="redis-autopipeline")
        return await future

    async def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send_all(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._send(batch)
                finally:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(PipelineAborted("Redis pipeline aborted"))
        finally:
            self._sender = None

    async def _send(self, batch: list[_Request]) -> None:
        try:
            if len(batch) == 1 and len(batch[0][0]) == 1:  # alone: skip the pipeline's cost
                replies = [await self._one(batch[0][0][0])]
            else:
                pipe = self._client.pipeline(transaction=False)
                for commands, _ in batch:
                    for command in commands:
                        pipe.execute_command(*command)
                replies = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for commands, future in batch:
            end = start + len(commands)
            if not future.done():
                future.set_result(replies[start:end])
            start = end

    async def _one(self, command: Command) -> Any:
        """One command, its own error returned in place like a pipeline's."""
        try:
            return await self._client.execute_command(*command)  # type: ignore[no-untyped-call]
        except ResponseError as exc:
            return exc
