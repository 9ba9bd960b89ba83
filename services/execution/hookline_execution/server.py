"""The execution service process: ``async with ExecutionServer(settings) as server``.

Entering opens the database (and migrates it), clients to the cache and trigger
services (results, credentials, the workflows executeWorkflow nodes start) unless
the caller wires those ports itself (in one process, to the services' domain), one
shared HTTP client for httpRequest nodes, the run queue when Redis is configured,
starts the gRPC server, then the queue worker, and history pruning when a limit is
set (``history_pruning``). Leaving stops reading the queue,
marks health NOT_SERVING and stops taking calls, lets runs in flight finish within
``shutdown_grace_seconds``, then cancels the rest: runs from the queue go back to it
for another replica to resume, the others end as errors. Everything closes in
reverse.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import grpc
import httpx
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2
from hookline.cache.v1 import cache_service_pb2_grpc
from hookline.execution.v1 import execution_service_pb2_grpc

from hookline_execution.clients.cache_sink import CacheResultSink
from hookline_execution.clients.child_runs import (
    CacheResultWatcher,
    QueuedChildStarter,
    TriggerWorkflowLookup,
)
from hookline_execution.clients.trigger_credentials import TriggerCredentialSource, trigger_client
from hookline_execution.domain import (
    Engine,
    ExecutionService,
    RunScheduler,
    TemplateRenderer,
)
from hookline_execution.domain.credentials import CachedCredentials, CredentialSource
from hookline_execution.domain.engine import DEFAULT_MAX_RESPONSE_BYTES
from hookline_execution.domain.intake import RunIntake
from hookline_execution.domain.outbound import OutboundPolicy, outbound_client
from hookline_execution.domain.ports import ResultSink
from hookline_execution.domain.subworkflows import ResultWatcher, Subworkflows, WorkflowLookup
from hookline_execution.domain.worker import QueueWorker
from hookline_execution.history_pruning import start_pruning, stop_pruning
from hookline_execution.metrics import ExecutionMetrics
from hookline_execution.servicer import SERVICE_NAME, ExecutionServicer
from hookline_execution.storage import SqlExecutionStore
from hookline_execution.storage.redis_queue import (
    RedisRunEnqueuer,
    RedisRunJournal,
    RedisRunQueue,
)
from hookline_runtime.database import create_engine, migrate
from hookline_runtime.ids import new_id
from hookline_runtime.logs import get_logger
from hookline_runtime.metrics import MetricsEndpoint
from hookline_runtime.redis.client import create_redis
from hookline_runtime.redis.pipeline import AutoPipeline
from hookline_runtime.redis.run_queue import RunProducer
from hookline_runtime.settings import Settings
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.security import GrpcSecurity
from hookline_runtime.transport.server import GrpcServer

__all__ = ["QUEUE_HEALTH_SERVICE", "ExecutionServer"]

log = get_logger(__name__)

QUEUE_HEALTH_SERVICE = "queue"
"""Health pseudo-service: SERVING while the run queue answers, NOT_SERVING during a
Redis outage, unknown without Redis."""

_HTTP_LIMITS = httpx.Limits(max_connections=500, max_keepalive_connections=100)


class ExecutionServer:
    """The execution service with everything it owns, as an async context manager."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        sink: ResultSink | None = None,
        workflows: WorkflowLookup | None = None,
        credentials: CredentialSource | None = None,
        results: ResultWatcher | None = None,
    ) -> None:
        """The ports to the other services, each by default over gRPC (in one process,
        adapters calling their domain directly): ``sink`` takes finished records and
        ``results`` waits for a child run's (the cache service); ``workflows`` finds
        the workflows executeWorkflow nodes start and ``credentials`` the credentials
        httpRequest nodes use (the trigger service)."""
        self.settings = settings
        self._sink = sink
        self._workflows = workflows
        self._credentials = credentials
        self._results = results
        self._intake: RunIntake | None = None
        self._max_response_bytes = max_response_bytes
        self._exit = AsyncExitStack()
        self._grpc: GrpcServer | None = None
        self._service: ExecutionService | None = None
        self._worker: QueueWorker | None = None
        self._health_updates: set[asyncio.Task[None]] = set()
        self.metrics = ExecutionMetrics()

    @property
    def address(self) -> str:
        return self._grpc.address if self._grpc else ""

    @property
    def port(self) -> int:
        return self._grpc.port if self._grpc else 0

    @property
    def intake(self) -> RunIntake:
        """Where ``StartExecution`` sends runs, for a caller in the same process."""
        if self._intake is None:
            raise RuntimeError("the execution server is not running")
        return self._intake

    def _cache_client(self) -> ServiceClient[cache_service_pb2_grpc.CacheServiceAsyncStub]:
        settings = self.settings
        cache: ServiceClient[cache_service_pb2_grpc.CacheServiceAsyncStub] = ServiceClient(
            settings.cache_addr,
            cache_service_pb2_grpc.CacheServiceStub,
            max_message_bytes=settings.grpc_max_message_bytes,
            security=GrpcSecurity.from_settings(settings),
        )
        self._exit.push_async_callback(cache.close)
        return cache

    def _cache_ports(self) -> tuple[ResultSink, ResultWatcher]:
        """The ports to the cache service: the given ones, else over gRPC."""
        if self._sink is not None and self._results is not None:
            return self._sink, self._results
        cache = self._cache_client()
        sink = self._sink
        if sink is None:
            grpc_sink = CacheResultSink(cache)
            self._exit.push_async_callback(grpc_sink.close)
            sink = grpc_sink
        return sink, self._results or CacheResultWatcher(cache)

    def _trigger_ports(self) -> tuple[WorkflowLookup, CredentialSource]:
        """The ports to the trigger service: the given ones, else over gRPC."""
        if self._workflows is not None and self._credentials is not None:
            return self._workflows, self._credentials
        trigger = trigger_client(self.settings)
        self._exit.push_async_callback(trigger.close)
        return (
            self._workflows or TriggerWorkflowLookup(trigger),
            self._credentials or TriggerCredentialSource(trigger),
        )

    @property
    def service(self) -> ExecutionService:
        if self._service is None:
            raise RuntimeError("the execution server is not running")
        return self._service

    async def __aenter__(self) -> Self:
        settings = self.settings
        try:
            await self._exit.enter_async_context(
                MetricsEndpoint(self.metrics.registry, settings.execution_metrics_listen)
            )
            db = create_engine(settings.database_url)
            self._exit.push_async_callback(db.dispose)
            await migrate(db)
            sink, results = self._cache_ports()
            workflows, credentials = self._trigger_ports()
            http = outbound_client(
                OutboundPolicy.parse(settings.http_allow_private, settings.http_allow_hosts),
                limits=_HTTP_LIMITS,
            )
            self._exit.push_async_callback(http.aclose)
            service = ExecutionService(
                engine=Engine(
                    TemplateRenderer(max_size=settings.max_node_output_bytes),
                    http,
                    max_response_bytes=self._max_response_bytes,
                    max_output_bytes=settings.max_node_output_bytes,
                    node_timeout_seconds=settings.node_timeout_seconds,
                    credentials=CachedCredentials(credentials),
                ),
                store=SqlExecutionStore(db),
                sink=sink,
                scheduler=RunScheduler(settings.max_concurrent_executions),
                max_result_bytes=settings.max_result_bytes,
                metrics=self.metrics,
            )
            queue = self._open_queue(settings)
            intake = RunIntake(service, queue.enqueuer if queue else None)
            service.use_subworkflows(
                Subworkflows(
                    workflows,
                    QueuedChildStarter(intake, queue.redis if queue else None),
                    results,
                    max_depth=settings.max_workflow_depth,
                )
            )
            servicer = ExecutionServicer(service, intake)

            def register(server: grpc.aio.Server) -> None:
                execution_service_pb2_grpc.add_ExecutionServiceServicer_to_server(servicer, server)

            grpc_server = GrpcServer(
                name="execution",
                listen=settings.listen_address("execution"),
                register=register,
                service_names=[SERVICE_NAME],
                max_message_bytes=settings.grpc_max_message_bytes,
                grace_seconds=settings.shutdown_grace_seconds,
                security=GrpcSecurity.from_settings(settings),
            )
            await grpc_server.__aenter__()
            self._grpc, self._service, self._intake = grpc_server, service, intake
            if queue is not None:
                self._worker = QueueWorker(
                    queue.consumer,
                    queue.journal,
                    service,
                    self.metrics,
                    claim_seconds=settings.run_claim_seconds,
                    max_deliveries=settings.run_max_deliveries,
                    on_state=self._queue_state,
                )
                await self._worker.__aenter__()
            pruning = await start_pruning(
                settings,
                db,
                queue.redis if queue else None,
                holder=_consumer_name(),
                metrics=self.metrics,
            )
            if pruning is not None:
                self._exit.push_async_callback(stop_pruning, pruning)
        except BaseException:
            if self._grpc is not None:
                await self._grpc.__aexit__(None, None, None)
            self._grpc = self._service = None
            await self._exit.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        grpc_server, self._grpc = self._grpc, None
        service = self._service
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop_reading()
        # Health goes NOT_SERVING and new calls are refused while the runs in flight
        # get the same grace to finish; the queue's runs left then go back to the queue.
        stopping: list[Awaitable[object]] = []
        if grpc_server is not None:
            stopping.append(grpc_server.shutdown())
        if service is not None:
            stopping.append(service.shutdown(self.settings.shutdown_grace_seconds))
        try:
            await asyncio.gather(*stopping)
            if worker is not None:
                await worker.hand_back()
                await worker.__aexit__(None, None, None)
        finally:
            self._service = self._intake = None
            await self._exit.aclose()

    def _open_queue(self, settings: Settings) -> _Queue | None:
        """The Redis run queue, journal and producer; None (and said so) without Redis."""
        url = settings.effective_redis_url
        if url is None:
            log.warning(
                "No Redis configured: runs are held in this process only, not durable "
                "(a run in progress is lost if the process stops)"
            )
            return None
        redis = create_redis(url, client_name="hookline-execution")
        self._exit.push_async_callback(redis.aclose)
        blocking = create_redis(
            url, socket_timeout=5.0, max_connections=4, client_name="hookline-execution-reader"
        )
        self._exit.push_async_callback(blocking.aclose)
        pipeline = AutoPipeline(redis)
        self._exit.push_async_callback(pipeline.close)
        producer = RunProducer(
            redis, stream=settings.run_stream, max_queued=settings.max_queued_runs
        )
        return _Queue(
            consumer=RedisRunQueue(
                redis, blocking, pipeline, stream=settings.run_stream, consumer=_consumer_name()
            ),
            journal=RedisRunJournal(redis, pipeline),
            enqueuer=RedisRunEnqueuer(producer),
            redis=redis,
        )

    def _queue_state(self, up: bool) -> None:
        """The health pseudo-service ``queue`` follows the run queue (for /readyz)."""
        if self._grpc is None:
            return
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if up
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        task = asyncio.create_task(self._grpc.set_health(QUEUE_HEALTH_SERVICE, status))
        self._health_updates.add(task)
        task.add_done_callback(self._health_updates.discard)


@dataclass(frozen=True, slots=True)
class _Queue:
    consumer: RedisRunQueue
    journal: RedisRunJournal
    enqueuer: RedisRunEnqueuer
    redis: aioredis.Redis


def _consumer_name() -> str:
    """Names this process in the consumer group (XINFO CONSUMERS shows it)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{new_id()[-6:]}"
