"""Named, expiring leases: one replica at a time does a background job.

``acquire`` takes the lease when it is free or expired, or renews it when this
holder has it; ``release`` gives it up (only when this holder has it). A holder that
dies loses the lease when ``ttl_seconds`` pass.

- ``RedisLease``: ``SET key holder NX PX ttl``; renewing and releasing check the holder
  in one Lua script, so a lease that expired and went to another is never touched.
- ``SqlLease``: a row of the ``leases`` table (migration 0003), taken by one
  conditional ``UPDATE … WHERE holder = me OR expires_at < now`` (the row is made
  first if missing), so it works alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis.asyncio as aioredis
import sqlalchemy as sa
from redis.exceptions import RedisError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline_runtime.errors import Unavailable

__all__ = ["Lease", "RedisLease", "SqlLease", "leases"]

leases = sa.Table(
    "leases",
    sa.MetaData(),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Lease(Protocol):
    """One named lease, seen by one holder. Backend failures raise ``Unavailable``."""

    async def acquire(self) -> bool:
        """Take or renew the lease; False when another holder has it."""

    async def release(self) -> None:
        """Give the lease up if this holder has it."""


_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == false then
  return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
elseif current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease:
    def __init__(self, redis: aioredis.Redis, key: str, holder: str, ttl_seconds: float) -> None:
        self._redis = redis
        self.key = key
        self.holder = holder
        self._ttl_ms = max(1, int(ttl_seconds * 1000))

    async def acquire(self) -> bool:
        try:
            taken = await self._redis.eval(_RENEW, 1, self.key, self.holder, str(self._ttl_ms))
        except RedisError as exc:
            raise Unavailable(f"lease {self.key}: {exc}") from exc
        return bool(taken)

    async def release(self) -> None:
        try:
            await self._redis.eval(_RELEASE, 1, self.key, self.holder)
        except RedisError as exc:
            raise Unavailable(f"lease {self.key}: {exc}") from exc


class SqlLease:
    def __init__(self, engine: AsyncEngine, name: str, holder: str, ttl_seconds: float) -> None:
        self._engine = engine
        self.name = name
        self.holder = holder
        self._ttl = timedelta(seconds=ttl_seconds)
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    async def acquire(self) -> bool:
        now = datetime.now(UTC)
        make = (
            self._insert(leases)
            .values(name=self.name, holder="", expires_at=_EPOCH)
            .on_conflict_do_nothing(index_elements=[leases.c.name])
        )
        take = (
            sa.update(leases)
            .where(
                leases.c.name == self.name,
                sa.or_(leases.c.holder == self.holder, leases.c.expires_at < now),
            )
            .values(holder=self.holder, expires_at=now + self._ttl)
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(make)
                taken = (await conn.execute(take)).rowcount
        except (SQLAlchemyError, OSError) as exc:
            raise Unavailable(f"lease {self.name}: {exc}") from exc
        return taken == 1

    async def release(self) -> None:
        free = (
            sa.update(leases)
            .where(leases.c.name == self.name, leases.c.holder == self.holder)
            .values(expires_at=_EPOCH)
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(free)
        except (SQLAlchemyError, OSError) as exc:
            raise Unavailable(f"lease {self.name}: {exc}") from exc
