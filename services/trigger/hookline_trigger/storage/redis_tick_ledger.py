"""``TickLedger`` on Redis.

A claim is ``SET hookline:schedule:<workflowId>:<tickEpochSeconds> <replica> NX EX
<ttl>``: one replica gets OK, the others nil. The winner records the tick in
``hookline:schedule:last:<workflowId>`` (epoch seconds), read back on start.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hookline_runtime.errors import Unavailable
from hookline_runtime.logs import get_logger

__all__ = ["RedisTickLedger", "claim_key", "last_fired_key"]

log = get_logger(__name__)

_LAST_FIRED_TTL_SECONDS = 30 * 24 * 3600


def claim_key(workflow_id: str, tick: datetime) -> str:
    return f"hookline:schedule:{workflow_id}:{int(tick.timestamp())}"


def last_fired_key(workflow_id: str) -> str:
    return f"hookline:schedule:last:{workflow_id}"


class RedisTickLedger:
    def __init__(
        self, redis: aioredis.Redis, *, replica_id: str, claim_ttl_seconds: int = 120
    ) -> None:
        self._redis = redis
        self._replica_id = replica_id
        self._ttl = claim_ttl_seconds

    async def claim(self, workflow_id: str, tick: datetime) -> bool:
        try:
            won = await self._redis.set(
                claim_key(workflow_id, tick), self._replica_id, nx=True, ex=self._ttl
            )
            if won:
                await self._redis.set(
                    last_fired_key(workflow_id),
                    int(tick.timestamp()),
                    ex=_LAST_FIRED_TTL_SECONDS,
                )
        except RedisError as exc:
            log.error("Redis error while claiming a schedule tick", error=str(exc))
            raise Unavailable("Redis is unavailable (claim schedule tick)") from exc
        return bool(won)

    async def last_fired(self, workflow_id: str) -> datetime | None:
        try:
            value = await self._redis.get(last_fired_key(workflow_id))
        except RedisError as exc:
            raise Unavailable("Redis is unavailable (read last schedule tick)") from exc
        if value is None:
            return None
        return datetime.fromtimestamp(int(value), UTC)
