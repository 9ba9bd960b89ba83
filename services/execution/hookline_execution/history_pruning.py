"""Wiring of execution history pruning (``domain.pruning``) for the execution service.

The lease is ``hookline:lease:prune-executions:{deployment id}`` in Redis when Redis
is configured, else the ``prune-executions`` row of the database's ``leases`` table;
either way one replica of the deployment prunes at a time.
"""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline_execution.domain.pruning import HistoryPruner, Lease
from hookline_execution.metrics import ExecutionMetrics
from hookline_execution.storage.sql_pruning import SqlExecutionPruning
from hookline_runtime.deployment import deployment_id
from hookline_runtime.leases import RedisLease, SqlLease
from hookline_runtime.redis.keys import lease_key
from hookline_runtime.settings import Settings

__all__ = ["LEASE_NAME", "start_pruning", "stop_pruning"]

LEASE_NAME = "prune-executions"
_LEASE_SECONDS = 60.0
"""A replica that dies while pruning frees the lease after this long (it is renewed
after every batch)."""


async def start_pruning(
    settings: Settings,
    engine: AsyncEngine,
    redis: aioredis.Redis | None,
    *,
    holder: str,
    metrics: ExecutionMetrics,
) -> asyncio.Task[None] | None:
    """The background pruning task, or None when neither limit is set."""
    if settings.executions_max_age_hours is None and settings.executions_max_count is None:
        return None
    lease: Lease
    if redis is not None:
        key = lease_key(LEASE_NAME, await deployment_id(engine))
        lease = RedisLease(redis, key, holder, _LEASE_SECONDS)
    else:
        lease = SqlLease(engine, LEASE_NAME, holder, _LEASE_SECONDS)
    pruner = HistoryPruner(
        SqlExecutionPruning(engine),
        lease,
        max_age_hours=settings.executions_max_age_hours,
        max_count=settings.executions_max_count,
        on_pruned=lambda reason, rows: metrics.pruned.labels(reason).inc(rows),
    )
    return asyncio.create_task(pruner.run(), name="prune-executions")


async def stop_pruning(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
