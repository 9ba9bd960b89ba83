"""Automatic pipelining: the commands of concurrent requests share one round trip.

Thousands of waiters each GET their key once when they start; sent one by one they
would take one pooled connection each while in flight. ``AutoPipeline`` queues the
commands of every caller and sends whatever has queued as one pipelined write on
one connection that it keeps, with at most one batch in flight
(``hookline_runtime.batching.Coalescer``), so all of a process's commands use a
single connection and a burst costs one round trip.

redis-py has no auto-pipelining of its own, and its ``Pipeline`` object costs more
than the round trip it saves here, so a batch is written with the connection's
``pack_commands``/``send_packed_command`` and read back reply by reply; redis-py's
``Retry`` (from the client's settings) still reconnects and retries a batch whose
connection broke. A command's own error comes back in its place; a connection
error fails every request of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.exceptions import RedisError, ResponseError

from hookline_runtime.batching import Coalescer

__all__ = ["AutoPipeline", "Command", "PipelineAborted"]

Command = tuple[Any, ...]


class PipelineAborted(RedisError):
    """The batch carrying a request stopped without an answer."""


class AutoPipeline:
    """``await pipeline.execute([("GET", key), ...])`` returns the replies in order."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._connection: Connection | None = None
        self._batches: Coalescer[Sequence[Command], list[Any]] = Coalescer(
            self._send,
            name="redis-autopipeline",
            max_items=None,
            aborted=lambda: PipelineAborted("Redis pipeline aborted"),
        )

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        return await self._batches.submit(commands)

    async def close(self) -> None:
        await self._batches.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.disconnect()
            await self._client.connection_pool.release(connection)

    async def _send(self, batch: list[Sequence[Command]]) -> list[list[Any]]:
        """One round trip for every request of ``batch``: each request's replies."""
        commands = [command for request in batch for command in request]
        try:
            if self._connection is None:
                self._connection = await self._client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
            connection = self._connection
            replies = await connection.retry.call_with_retry(
                lambda: self._round_trip(connection, commands),
                lambda error: connection.disconnect(),
            )
        except (RedisError, OSError):
            if self._connection is not None:  # never reuse a socket left mid-reply
                await self._connection.disconnect()
            raise
        split: list[list[Any]] = []
        start = 0
        for request in batch:
            split.append(replies[start : start + len(request)])
            start += len(request)
        return split

    @staticmethod
    async def _round_trip(connection: Connection, commands: list[Command]) -> list[Any]:
        await connection.send_packed_command(connection.pack_commands(commands))
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(await connection.read_response())
            except ResponseError as exc:
                replies.append(exc)
        return replies
