"""Idempotency-key claims in Redis: ``hookline:idempotency:{workflowId}:{sha256(key)}``
holding the owning execution and the request fingerprint, with the key's TTL."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hookline_runtime.errors import Unavailable
from hookline_runtime.redis.keys import idempotency_key
from hookline_trigger.domain.idempotency import Claim

__all__ = ["RedisIdempotencyKeys"]

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisIdempotencyKeys:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._release = redis.register_script(_RELEASE)

    async def claim(self, workflow_id: str, key: str, claim: Claim, ttl: int) -> Claim | None:
        try:
            earlier = await self._redis.set(
                idempotency_key(workflow_id, key), claim.encode(), nx=True, get=True, ex=ttl
            )
        except (RedisError, OSError) as exc:
            raise Unavailable(f"idempotency keys: {exc}") from exc
        if earlier is None:
            return None
        return Claim.decode(earlier if isinstance(earlier, bytes) else str(earlier).encode())

    async def release(self, workflow_id: str, key: str, claim: Claim) -> None:
        try:
            await self._release(keys=[idempotency_key(workflow_id, key)], args=[claim.encode()])
        except (RedisError, OSError) as exc:
            raise Unavailable(f"idempotency keys: {exc}") from exc
