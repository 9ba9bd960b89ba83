"""The cache service process: ``async with CacheServer(settings) as server``.

Entering builds the stores and starts them in order — Redis (when configured): the
command client with its auto-pipeline, the connection state (``RedisLink``), and the
one shared subscription (push mode) — then serves ``CacheService`` with health and
reflection on ``settings.listen_address("cache")``. Leaving stops them in reverse:
health NOT_SERVING and the gRPC server's grace period first, then the subscription,
the Redis clients and the execution-service client. Saved records (read during a
Redis outage) come through that client, or through the ``SavedRecords`` given (in one
process, the execution service's domain).

Draining: on exit, new watches are refused while those in flight get their results
as they are stored (StoreResult is still served) within HOOKLINE_SHUTDOWN_GRACE_SECONDS;
the ones left at the end are ended with UNAVAILABLE, and the edge watches again on
another replica.

Health: besides the stock statuses, the pseudo-service ``redis`` is SERVING while
Redis answers and NOT_SERVING during an outage; it stays unknown when no Redis is
configured (results are then delivered in-process only).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from functools import partial
from types import TracebackType
from typing import Self

from grpc_health.v1 import health_pb2
from hookline.cache.v1 import cache_service_pb2_grpc

from hookline_cache.clients.saved_records import ExecutionServiceRecords
from hookline_cache.domain.codec import ResultCodec
from hookline_cache.domain.delivery import ResultDelivery
from hookline_cache.metrics import CacheMetrics
from hookline_cache.servicer import SERVICE_NAME, CacheServicer
from hookline_cache.storage.base import SavedRecords
from hookline_cache.storage.memory import MemoryResultStore
from hookline_cache.storage.redis_link import RedisLink, describe_redis
from hookline_cache.storage.redis_listener import (
    RedisNotificationListener,
    create_subscriber_redis,
)
from hookline_cache.storage.redis_store import RedisResultStore
from hookline_runtime.ids import new_id
from hookline_runtime.logs import get_logger
from hookline_runtime.metrics import MetricsEndpoint
from hookline_runtime.redis.client import create_redis
from hookline_runtime.redis.pipeline import AutoPipeline
from hookline_runtime.settings import Settings
from hookline_runtime.transport.item_streams import StreamDrain
from hookline_runtime.transport.security import GrpcSecurity
from hookline_runtime.transport.server import GrpcServer

__all__ = ["REDIS_HEALTH_SERVICE", "CacheServer"]

log = get_logger(__name__)

#: The health-check name that reports the state of Redis.
REDIS_HEALTH_SERVICE = "redis"

#: How long start-up waits for the shared subscription before serving anyway.
_SUBSCRIBE_WAIT_SECONDS = 2.0


async def _drain_watches(delivery: ResultDelivery, seconds: float) -> None:
    if not await delivery.drain(seconds):
        delivery.end_watches()


class CacheServer:
    """The cache service, as an async context manager (see module docstring)."""

    def __init__(self, settings: Settings, *, saved: SavedRecords | None = None) -> None:
        """``saved``: where saved records are read during a Redis outage (default: the
        execution service over gRPC)."""
        self.settings = settings
        self._saved = saved
        #: The CLIENT SETNAME of this process's Redis connections.
        self.redis_client_name = f"hookline-cache-{new_id()[-12:]}"
        self.delivery: ResultDelivery | None = None
        self.link: RedisLink | None = None
        self.metrics = CacheMetrics()
        self._grpc: GrpcServer | None = None
        self._exit = AsyncExitStack()

    @property
    def port(self) -> int:
        return self._grpc.port if self._grpc is not None else 0

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>`` (or the listen host) once started."""
        return self._grpc.address if self._grpc is not None else ""

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self._exit.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._exit.aclose()

    async def _start(self) -> None:
        settings = self.settings
        url = settings.effective_redis_url
        shared: RedisResultStore | None = None
        saved: SavedRecords | None = None
        link: RedisLink | None = None
        if url is not None:
            shared, link, saved = self._open_redis(url)
        else:
            log.warning(
                "No Redis configured: execution results are delivered in-process only "
                "(single cache process)"
            )
        delivery = ResultDelivery(
            codec=ResultCodec(
                compress_threshold_bytes=settings.compress_threshold_bytes,
                max_bytes=settings.max_result_bytes,
            ),
            memory=MemoryResultStore(
                max_entries=settings.memory_store_max_entries,
                max_bytes=settings.memory_store_max_bytes,
            ),
            shared=shared,
            saved=saved,
            push=settings.result_wait == "push",
            poll_interval=settings.poll_interval_ms / 1000,
            metrics=self.metrics,
        )
        streams = StreamDrain()
        servicer = CacheServicer(delivery, streams=streams)
        grpc_server = GrpcServer(
            name="cache",
            listen=settings.listen_address("cache"),
            register=lambda server: cache_service_pb2_grpc.add_CacheServiceServicer_to_server(
                servicer, server
            ),
            service_names=[SERVICE_NAME],
            max_message_bytes=settings.grpc_max_message_bytes,
            grace_seconds=settings.shutdown_grace_seconds,
            security=GrpcSecurity.from_settings(settings),
            drain=partial(_drain_watches, delivery),
            streams=streams,
        )
        if url is not None and link is not None:
            await self._connect_redis(url, link, delivery, grpc_server)
        await self._exit.enter_async_context(
            MetricsEndpoint(self.metrics.registry, settings.cache_metrics_listen)
        )
        await self._exit.enter_async_context(grpc_server)
        self._grpc = grpc_server
        self.delivery = delivery
        self.link = link
        log.info(
            "Cache service ready",
            address=grpc_server.address,
            result_wait=settings.result_wait,
            redis=url is not None,
        )

    def _open_redis(self, url: str) -> tuple[RedisResultStore, RedisLink, SavedRecords]:
        """The Redis store (commands on one auto-pipelined connection), its link, and
        the saved-record fallback used during Redis outages; all closed on exit."""
        client = create_redis(url, client_name=self.redis_client_name)
        self._exit.push_async_callback(client.aclose)
        pipeline = AutoPipeline(client)
        self._exit.push_async_callback(pipeline.close)
        link = RedisLink(pipeline, where=describe_redis(client))
        self._exit.push_async_callback(link.close)
        store = RedisResultStore(pipeline, link, on_error=self.metrics.redis_errors.inc)
        if self._saved is not None:
            return store, link, self._saved
        records = ExecutionServiceRecords(
            self.settings.execution_addr,
            max_message_bytes=self.settings.grpc_max_message_bytes,
            security=GrpcSecurity.from_settings(self.settings),
        )
        self._exit.push_async_callback(records.close)
        return store, link, records

    async def _connect_redis(
        self, url: str, link: RedisLink, delivery: ResultDelivery, grpc_server: GrpcServer
    ) -> None:
        """Wire the link to health and the domain, connect, and (push mode) start the
        shared subscription, waiting briefly for it so the first watches are covered."""

        async def report_health(up: bool) -> None:
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if up
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await grpc_server.set_health(REDIS_HEALTH_SERVICE, status)

        link.add_listener(report_health)
        link.add_listener(delivery.on_shared_state)
        await link.start()
        if self.settings.result_wait != "push":
            return
        subscriber = create_subscriber_redis(url, client_name=self.redis_client_name)
        self._exit.push_async_callback(subscriber.aclose)
        listener = RedisNotificationListener(subscriber, delivery, link)
        self._exit.push_async_callback(listener.close)
        listener.start()
        if link.up:
            await listener.wait_subscribed(_SUBSCRIBE_WAIT_SECONDS)
