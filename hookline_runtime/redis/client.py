"""Redis clients built from settings, with redis-py's own retry and backoff."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["create_redis"]


def create_redis(
    url: str,
    *,
    socket_timeout: float | None = 2.0,
    retries: int = 1,
    max_connections: int = 64,
    client_name: str | None = None,
) -> aioredis.Redis:
    """A pooled client. Timeouts are short and retries few on purpose: a caller
    waiting on a webhook must learn quickly that Redis is gone, and fall back."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=1.0,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=15,
        max_connections=max_connections,
        decode_responses=False,
        client_name=client_name,
    )
