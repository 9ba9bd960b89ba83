"""The trigger service process: ``async with TriggerServer(settings) as server``.

Entering opens the database (and migrates it), Redis when configured (runs then go on
the durable run queue), the channel to the execution service (the direct hand-off,
used without Redis and during Redis outages), loads the trigger index, starts the scheduler and the
background refresh, then serves ``hookline.trigger.v1.TriggerService``. Leaving stops
in reverse: health NOT_SERVING and ``server.stop(grace)`` first, then the background
tasks and the scheduler, then the clients and the engine.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
from hookline.execution.v1 import execution_service_pb2_grpc
from hookline.trigger.v1 import trigger_service_pb2_grpc

from hookline_runtime.clock import utcnow
from hookline_runtime.database import create_engine, migrate
from hookline_runtime.deployment import deployment_id
from hookline_runtime.ids import new_id
from hookline_runtime.logs import get_logger
from hookline_runtime.metrics import MetricsEndpoint
from hookline_runtime.redis.client import create_redis
from hookline_runtime.redis.run_queue import RunProducer
from hookline_runtime.settings import Settings
from hookline_runtime.transport.client import ServiceClient
from hookline_runtime.transport.item_streams import StreamDrain
from hookline_runtime.transport.security import GrpcSecurity
from hookline_runtime.transport.server import GrpcServer
from hookline_trigger.clients.execution import GrpcExecutionStarter
from hookline_trigger.clients.run_dispatch import QueueFirstStarter
from hookline_trigger.domain.credential_cipher import CredentialCipher, cipher_for
from hookline_trigger.domain.credentials import CredentialManager
from hookline_trigger.domain.idempotency import Idempotency, MemoryIdempotencyKeys
from hookline_trigger.domain.manual_runs import ManualRunner
from hookline_trigger.domain.ports import ExecutionStarter, TickLedger
from hookline_trigger.domain.scheduler import Scheduler
from hookline_trigger.domain.trigger_index import TriggerIndex
from hookline_trigger.domain.webhooks import WebhookHandler
from hookline_trigger.domain.workflows import WorkflowManager
from hookline_trigger.metrics import CountedWebhooks, TriggerMetrics
from hookline_trigger.servicer import SERVICE_NAME, TriggerServicer
from hookline_trigger.storage.redis_change_feed import RedisChangeFeed
from hookline_trigger.storage.redis_idempotency import RedisIdempotencyKeys
from hookline_trigger.storage.redis_tick_ledger import RedisTickLedger
from hookline_trigger.storage.sql_credential_store import SqlCredentialStore
from hookline_trigger.storage.sql_tick_ledger import SqlTickLedger
from hookline_trigger.storage.sql_workflow_store import SqlWorkflowStore

__all__ = ["TriggerOptions", "TriggerServer"]

_PartT = TypeVar("_PartT")

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TriggerOptions:
    """Tuning knobs of the trigger service (not part of the public configuration)."""

    refresh_seconds: float = 30.0
    """Full reload of the trigger index, as a safety net behind the Redis announcements."""
    check_seconds: float = 2.0
    """How often the index asks the database whether workflows changed (a count and the
    latest update time), reloading only when they did: replicas without Redis, or
    that missed an announcement, see a deactivation within this time."""
    miss_reload_seconds: float = 1.0
    """At most one index reload per this many seconds for webhook calls finding no route."""
    misfire_grace_seconds: float = 2.0
    """A schedule tick later than this is skipped (and logged), not fired."""
    start_timeout_seconds: float = 5.0
    """Deadline of StartExecution calls; shorter than the edge's own deadline (10 s), so
    a hung execution service is answered as 503, not 504."""
    claim_ttl_seconds: int = 120
    """Lifetime of a Redis schedule tick claim."""
    subscribe_wait_seconds: float = 2.0
    """How long start-up waits for the Redis change subscription before serving anyway."""
    replica_id: str | None = None
    """Names this replica in tick claims; default host:pid:random."""


def _default_replica_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{new_id()[-8:]}"


def _cipher(settings: Settings) -> CredentialCipher | None:
    """The credential cipher; without a key, say once that credentials are off."""
    key = settings.encryption_key
    cipher = cipher_for(key.get_secret_value() if key is not None else None)
    if cipher is None:
        log.warning(
            "No HOOKLINE_ENCRYPTION_KEY: credentials cannot be stored or used until it is set"
        )
    return cipher


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Background task crashed", task=task.get_name(), exc_info=task.exception())


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class TriggerServer:
    def __init__(
        self,
        settings: Settings,
        *,
        options: TriggerOptions | None = None,
        clock: Callable[[], datetime] = utcnow,
        direct_starter: ExecutionStarter | None = None,
    ) -> None:
        """``direct_starter`` hands runs to the execution service when the run queue
        cannot (default: over gRPC; in one process, straight to its intake)."""
        self._settings = settings
        self._direct_starter = direct_starter
        self._webhooks: CountedWebhooks | None = None
        self._workflows: WorkflowManager | None = None
        self._manual_runs: ManualRunner | None = None
        self._credentials: CredentialManager | None = None
        self._options = options or TriggerOptions()
        self._clock = clock
        self._stack: AsyncExitStack | None = None
        self._grpc: GrpcServer | None = None
        self._index: TriggerIndex | None = None
        self._scheduler: Scheduler | None = None
        self._feed: RedisChangeFeed | None = None
        self.metrics = TriggerMetrics()

    @property
    def address(self) -> str:
        return self._started(self._grpc).address

    @property
    def port(self) -> int:
        return self._started(self._grpc).port

    @property
    def webhooks(self) -> CountedWebhooks:
        """What ``HandleWebhook`` calls, for a caller in the same process."""
        return self._started(self._webhooks)

    @property
    def workflows(self) -> WorkflowManager:
        """What the workflow methods (``CreateWorkflow``, ``GetWorkflow``...) call, for a
        caller in the same process."""
        return self._started(self._workflows)

    @property
    def manual_runs(self) -> ManualRunner:
        """What ``RunWorkflow`` calls, for a caller in the same process."""
        return self._started(self._manual_runs)

    @property
    def credentials(self) -> CredentialManager:
        """What the credential methods (``ResolveCredential`` included) call, for a
        caller in the same process."""
        return self._started(self._credentials)

    @property
    def index(self) -> TriggerIndex:
        return self._started(self._index)

    @property
    def scheduler(self) -> Scheduler:
        return self._started(self._scheduler)

    @property
    def change_feed(self) -> RedisChangeFeed | None:
        """The Redis change subscription; None without Redis."""
        return self._feed

    @staticmethod
    def _started(part: _PartT | None) -> _PartT:
        if part is None:
            raise RuntimeError("TriggerServer is not running")
        return part

    async def __aenter__(self) -> Self:
        stack = AsyncExitStack()
        try:
            await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        self._grpc = self._index = self._scheduler = None
        self._feed = self._webhooks = None
        self._workflows = self._manual_runs = self._credentials = None

    async def _start(self, stack: AsyncExitStack) -> None:
        settings, options = self._settings, self._options
        replica_id = options.replica_id or _default_replica_id()

        await stack.enter_async_context(
            MetricsEndpoint(self.metrics.registry, settings.trigger_metrics_listen)
        )
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        await migrate(engine)

        redis_url = settings.effective_redis_url
        redis = create_redis(redis_url) if redis_url else None
        if redis is not None:
            stack.push_async_callback(redis.aclose)

        direct = self._direct_starter
        if direct is None:
            execution = ServiceClient(
                settings.execution_addr,
                execution_service_pb2_grpc.ExecutionServiceStub,
                max_message_bytes=settings.grpc_max_message_bytes,
                security=GrpcSecurity.from_settings(settings),
            )
            stack.push_async_callback(execution.close)
            direct = GrpcExecutionStarter(execution, timeout_seconds=options.start_timeout_seconds)
        starter: ExecutionStarter = direct
        if redis is not None:
            producer = RunProducer(
                redis, stream=settings.run_stream, max_queued=settings.max_queued_runs
            )
            starter = QueueFirstStarter(producer, direct)

        store = SqlWorkflowStore(engine)
        idempotency = Idempotency(
            RedisIdempotencyKeys(redis) if redis is not None else None,
            ttl_seconds=settings.idempotency_ttl_seconds,
            local=MemoryIdempotencyKeys(),
        )
        feed = RedisChangeFeed(redis, await deployment_id(engine)) if redis is not None else None
        index = TriggerIndex(
            store,
            publisher=feed,
            refresh_seconds=options.refresh_seconds,
            check_seconds=options.check_seconds,
            miss_reload_seconds=options.miss_reload_seconds,
        )
        ledger: TickLedger = (
            RedisTickLedger(
                redis, replica_id=replica_id, claim_ttl_seconds=options.claim_ttl_seconds
            )
            if redis is not None
            else SqlTickLedger(engine, replica_id=replica_id)
        )
        scheduler = Scheduler(
            ledger=ledger,
            starter=starter,
            clock=self._clock,
            misfire_grace_seconds=options.misfire_grace_seconds,
            on_tick=self.metrics.tick,
        )
        index.on_change(scheduler.apply)
        index.on_change(self.metrics.index_changed)
        stack.push_async_callback(scheduler.stop)
        await index.reload()

        background: list[Coroutine[Any, Any, None]] = [index.run()]
        if feed is not None:
            background.append(feed.listen(index.invalidate))
        tasks = [asyncio.create_task(job) for job in background]
        for task in tasks:
            task.add_done_callback(_log_crash)
        stack.push_async_callback(_cancel, tasks)
        if feed is not None:
            try:
                await asyncio.wait_for(feed.subscribed.wait(), options.subscribe_wait_seconds)
            except TimeoutError:
                log.warning("Serving before the workflow change subscription is up")

        credentials = CredentialManager(SqlCredentialStore(engine), store, _cipher(settings))
        webhooks = CountedWebhooks(
            WebhookHandler(
                index,
                starter,
                idempotency,
                credentials=credentials,
                max_record_bytes=settings.max_result_bytes,
            ),
            self.metrics,
        )
        workflows = WorkflowManager(
            store, on_change=index.workflow_changed, credential_types=credentials.types_of
        )
        manual_runs = ManualRunner(store, starter, idempotency)
        streams = StreamDrain()
        servicer = TriggerServicer(workflows, webhooks, manual_runs, credentials, streams=streams)

        def register(server: grpc.aio.Server) -> None:
            trigger_service_pb2_grpc.add_TriggerServiceServicer_to_server(servicer, server)

        self._grpc = await stack.enter_async_context(
            GrpcServer(
                name="trigger",
                listen=settings.listen_address("trigger"),
                register=register,
                service_names=[SERVICE_NAME],
                max_message_bytes=settings.grpc_max_message_bytes,
                grace_seconds=settings.shutdown_grace_seconds,
                security=GrpcSecurity.from_settings(settings),
                streams=streams,
            )
        )
        self._index, self._scheduler, self._feed = index, scheduler, feed
        self._webhooks = webhooks
        self._workflows, self._manual_runs, self._credentials = workflows, manual_runs, credentials
        log.info(
            "Trigger service started",
            redis=redis is not None,
            schedules=len(index.snapshot.schedules),
            replica_id=replica_id,
        )
