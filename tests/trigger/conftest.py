"""Fixtures for the trigger service: a recording fake ExecutionService on its own
in-process gRPC server (which also drains the run queue of servers started with
Redis), real TriggerServers on 127.0.0.1:0, and stubs over real channels.

Modules whose tests only need *a* server share one per module (``shared_trigger``;
such modules set ``pytestmark = pytest.mark.asyncio(loop_scope="module")``); the
fake's record is cleared before each test. Tests that need servers of their own use
``start_trigger``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import grpc
import pytest
import pytest_asyncio
from hookline.execution.v1 import execution_service_pb2 as exec_pb
from hookline.execution.v1 import execution_service_pb2_grpc as exec_grpc
from hookline.trigger.v1 import trigger_service_pb2 as pb
from hookline.trigger.v1 import trigger_service_pb2_grpc as pb_grpc
from redis.exceptions import RedisError

from hookline_runtime.database import create_engine, migrate
from hookline_runtime.redis.client import create_redis
from hookline_runtime.redis.keys import RUN_FIELD, RUN_GROUP
from hookline_runtime.redis.run_queue import ensure_group
from hookline_runtime.settings import Settings
from hookline_trigger import TriggerOptions, TriggerServer

TriggerStub: TypeAlias = "pb_grpc.TriggerServiceAsyncStub"
"""A grpc.aio stub to a TriggerServer (the type exists only in the generated .pyi)."""


@dataclass(frozen=True)
class StartedRun:
    """One StartExecution call the fake received, decoded."""

    execution_id: str
    workflow: dict[str, Any]
    mode: int
    trigger_output: Any
    publish_early_response: bool
    raw_trigger_output: bytes

    @property
    def workflow_id(self) -> str:
        return str(self.workflow["id"])


class FakeExecutionService(exec_grpc.ExecutionServiceServicer):
    """Records StartExecution calls; ``fail_with`` makes it refuse them, ``hold`` makes
    it take them without answering until the event is set."""

    def __init__(self) -> None:
        self.runs: list[StartedRun] = []
        self.fail_with: grpc.StatusCode | None = None
        self.hold: asyncio.Event | None = None
        self._arrived = asyncio.Condition()

    async def StartExecution(
        self, request: exec_pb.StartExecutionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> exec_pb.StartExecutionResponse:
        if self.fail_with is not None:
            await context.abort(self.fail_with, "refused by the test")
        await self.record(request)
        if self.hold is not None:  # took the run, but answers only once released
            await self.hold.wait()
        return exec_pb.StartExecutionResponse(execution_id=request.execution_id)

    async def record(self, request: exec_pb.StartExecutionRequest) -> None:
        """Note a run, from a StartExecution call or from the run queue."""
        self.runs.append(
            StartedRun(
                execution_id=request.execution_id,
                workflow=json.loads(request.workflow_json),
                mode=request.mode,
                trigger_output=json.loads(request.trigger_output_json),
                publish_early_response=request.publish_early_response,
                raw_trigger_output=request.trigger_output_json,
            )
        )
        async with self._arrived:
            self._arrived.notify_all()

    async def GetExecution(
        self, request: exec_pb.GetExecutionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> exec_pb.GetExecutionResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not faked")
        raise AssertionError("unreachable")

    async def ListExecutions(
        self, request: exec_pb.ListExecutionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> exec_pb.ListExecutionsResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not faked")
        raise AssertionError("unreachable")

    def runs_of(self, workflow_id: str) -> list[StartedRun]:
        return [run for run in self.runs if run.workflow_id == workflow_id]

    async def wait_until(
        self, predicate: Callable[[list[StartedRun]], bool], timeout: float = 5.0
    ) -> None:
        """Wait (bounded) until the recorded runs satisfy ``predicate``."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: predicate(self.runs))


@dataclass
class FakeExecution:
    service: FakeExecutionService
    address: str


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, copied by ``fresh_sqlite``."""
    path = tmp_path_factory.mktemp("trigger-template") / "template.db"

    async def build() -> None:
        engine = create_engine(f"sqlite:///{path}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(build())
    return path


@pytest.fixture
def fresh_sqlite(migrated_sqlite: Path, tmp_path: Path) -> Callable[[str], str]:
    """``fresh_sqlite("name")``: the URL of a migrated SQLite file private to the test
    (the same name gives the same file, for replicas sharing a database)."""

    def factory(name: str = "trigger") -> str:
        path = tmp_path / f"{name}.db"
        if not path.exists():
            shutil.copyfile(migrated_sqlite, path)
        return f"sqlite:///{path}"

    return factory


@asynccontextmanager
async def _fake_execution() -> AsyncIterator[FakeExecution]:
    service = FakeExecutionService()
    server = grpc.aio.server()
    exec_grpc.add_ExecutionServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield FakeExecution(service, f"127.0.0.1:{port}")
    finally:
        await server.stop(None)


@asynccontextmanager
async def drain_queue(
    redis_url: str, stream: str, fake: FakeExecutionService
) -> AsyncIterator[None]:
    """Stand in for execution replicas on the run queue: every queued run is recorded
    by the fake like a StartExecution call, then acknowledged."""
    client = create_redis(redis_url)
    stop = asyncio.Event()

    async def consume() -> None:
        while not stop.is_set():
            try:
                await ensure_group(client, stream)
                reply: Any = await client.xreadgroup(
                    RUN_GROUP, "test-drain", {stream: ">"}, count=100, block=200
                )
                for _name, entries in reply or []:
                    for entry_id, fields in entries:
                        message = exec_pb.StartExecutionRequest()
                        message.ParseFromString(fields[RUN_FIELD])
                        await fake.record(message)
                        await client.xack(stream, RUN_GROUP, entry_id)
                        await client.xdel(stream, entry_id)
            except (RedisError, OSError):  # the test stopped Redis: wait for it
                await asyncio.sleep(0.2)

    task = asyncio.create_task(consume())
    try:
        yield
    finally:
        # The read in progress ends within its 200 ms block. Cancelling it instead
        # could leave the task waiting forever: redis-py sometimes swallows the
        # cancellation of a blocked XREADGROUP (seen as a 60 s teardown timeout;
        # redis/redis-py issues 2028 and 2579).
        stop.set()
        await task
        with contextlib.suppress(RedisError, OSError):
            await client.delete(stream)
        await client.aclose()


@pytest.fixture
async def fake_execution() -> AsyncIterator[FakeExecution]:
    async with _fake_execution() as fake:
        yield fake


class StartTrigger(Protocol):
    async def __call__(
        self,
        *,
        options: TriggerOptions | None = None,
        clock: Callable[[], Any] | None = None,
        **settings: Any,
    ) -> TriggerServer: ...


@pytest.fixture
async def start_trigger(
    make_settings: Callable[..., Settings],
    fake_execution: FakeExecution,
    fresh_sqlite: Callable[[str], str],
) -> AsyncIterator[StartTrigger]:
    """Start TriggerServers (stopped at teardown); keyword arguments are Settings, but
    ``drain_queue=False`` leaves a Redis run queue undrained (runs then wait in it)."""
    async with AsyncExitStack() as stack:

        async def start(
            *,
            options: TriggerOptions | None = None,
            clock: Callable[[], Any] | None = None,
            **overrides: Any,
        ) -> TriggerServer:
            values: dict[str, Any] = {
                "database_url": fresh_sqlite("trigger"),
                "execution_addr": fake_execution.address,
                "shutdown_grace_seconds": 0.5,
            }
            values.update(overrides)
            drain = values.pop("drain_queue", True)
            if values.get("redis_url") and drain:
                values.setdefault("run_stream", f"hookline:runs:test:{uuid.uuid4().hex}")
                await stack.enter_async_context(
                    drain_queue(values["redis_url"], values["run_stream"], fake_execution.service)
                )
            extra: dict[str, Any] = {"options": options}
            if clock is not None:
                extra["clock"] = clock
            server = TriggerServer(make_settings(**values), **extra)
            return await stack.enter_async_context(server)

        yield start


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[TriggerServer], TriggerStub]]:
    """A stub over a real channel to a TriggerServer."""
    async with AsyncExitStack() as stack:

        def factory(server: TriggerServer) -> TriggerStub:
            channel = grpc.aio.insecure_channel(server.address)
            stack.push_async_callback(channel.close)
            return pb_grpc.TriggerServiceStub(channel)

        yield factory


@pytest.fixture
async def trigger(
    start_trigger: StartTrigger,
    connect: Callable[[TriggerServer], TriggerStub],
) -> TriggerStub:
    """A stub to one TriggerServer on the test's SQLite file, without Redis."""
    return connect(await start_trigger())


@dataclass(frozen=True)
class SharedTrigger:
    server: TriggerServer
    stub: TriggerStub
    execution: FakeExecution


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def _module_trigger(
    migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SharedTrigger]:
    database = tmp_path_factory.mktemp("trigger-module") / "trigger.db"
    shutil.copyfile(migrated_sqlite, database)
    async with _fake_execution() as fake:
        settings = Settings(
            database_url=f"sqlite:///{database}",
            trigger_listen="127.0.0.1:0",
            execution_addr=fake.address,
            shutdown_grace_seconds=0.5,
            log_format="console",
        )
        async with TriggerServer(settings) as server:
            channel = grpc.aio.insecure_channel(server.address)
            try:
                yield SharedTrigger(server, pb_grpc.TriggerServiceStub(channel), fake)
            finally:
                await channel.close()


@pytest.fixture
def shared_trigger(_module_trigger: SharedTrigger) -> SharedTrigger:
    """The module's TriggerServer (no Redis), with the fake's record cleared."""
    _module_trigger.execution.service.runs.clear()
    _module_trigger.execution.service.fail_with = None
    _module_trigger.execution.service.hold = None
    return _module_trigger


async def create(stub: TriggerStub, workflow: dict[str, Any]) -> dict[str, Any]:
    """Create a workflow and return its stored JSON."""
    response = await stub.CreateWorkflow(
        pb.CreateWorkflowRequest(workflow_json=json.dumps(workflow).encode()), timeout=10
    )
    stored: dict[str, Any] = json.loads(response.workflow.workflow_json)
    return stored
