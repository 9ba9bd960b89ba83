"""hookline services as separate OS processes, the way an operator runs them.

Each process is ``hookline serve <service>`` with its addresses in the environment. It
is ready when the edge's ``/healthz`` answers 200 or a gRPC service's health says
SERVING. It is stopped with SIGTERM (SIGKILL after a grace period) or killed with
SIGKILL, as a crash would. The benchmark (``bench/``) and the cross-process tests
(``tests/cluster``) both start their processes here.

Nothing here imports a service: a process is started by command line, not by import.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from hookline_runtime.logs import get_logger
from hookline_runtime.settings import Settings
from hookline_runtime.transport.security import GrpcSecurity

__all__ = [
    "CODE_ROOT",
    "NotReady",
    "ServiceName",
    "ServiceProcess",
    "ServiceProcesses",
    "free_port",
]

log = get_logger(__name__)

ServiceName = Literal["edge", "trigger", "execution", "cache"]

CODE_ROOT = Path(__file__).resolve().parents[1]
"""The directory holding ``runtime/``: ``python -m`` run there imports this code."""

SERVE_COMMAND: tuple[str, ...] = (sys.executable, "-m", "hookline_launcher.cli", "serve")
"""``hookline serve``, run by this interpreter on the code in the process's ``cwd``."""


def serve_command(code_root: Path) -> tuple[str, ...]:
    """``hookline serve`` for the code in ``code_root``: the benchmark also runs exports
    of older commits, from before the launcher had its own package."""
    if (code_root / "hookline_launcher").is_dir():
        return SERVE_COMMAND
    return (sys.executable, "-m", "runtime.cli", "serve")

_STOP_ORDER: dict[str, int] = {"edge": 0, "trigger": 1, "execution": 2, "cache": 3}
"""Callers stop before callees."""

_LOG_TAIL_CHARS = 4000


class NotReady(RuntimeError):
    """A service did not become ready in time, or exited while starting."""


class _NotServing(RuntimeError):
    """The health check answered, but not SERVING yet."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    """One ``hookline serve <service>`` process, its environment and its log file."""

    name: str
    service: ServiceName
    address: str
    env: dict[str, str]
    log_path: Path
    metrics_address: str | None = None
    cwd: Path = CODE_ROOT
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_seconds: float | None = None

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.popen.pid

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        self.started_at = time.monotonic()
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(
                [*serve_command(self.cwd), self.service],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
            )
        log.info("started", service=self.name, pid=self.popen.pid, address=self.address)

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Edge: ``/healthz`` answers 200. gRPC services: health says SERVING.

        Raises ``NotReady`` (with the end of the log) when the process exits first or
        ``timeout`` seconds pass.
        """
        try:
            if self.service == "edge":
                self._wait_http_ready(timeout)
            else:
                self._wait_grpc_serving(timeout)
        except (grpc.RpcError, httpx.HTTPError, _NotServing) as exc:
            raise NotReady(self._describe(f"not ready in {timeout}s ({exc})")) from exc
        self.ready_seconds = round(time.monotonic() - self.started_at, 2)
        log.info("ready", service=self.name, seconds=self.ready_seconds)

    def _check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise NotReady(self._describe(f"exited with {self.popen.returncode}"))

    def _describe(self, what: str) -> str:
        tail = self.log_text()[-_LOG_TAIL_CHARS:]
        return f"{self.name} {what}; see {self.log_path}:\n{tail}"

    def _security(self) -> GrpcSecurity:
        """The process's own gRPC credentials (HOOKLINE_GRPC_* in its environment)."""
        env = self.env
        return GrpcSecurity.from_settings(
            Settings(
                grpc_token=env.get("HOOKLINE_GRPC_TOKEN"),
                grpc_tls_cert=env.get("HOOKLINE_GRPC_TLS_CERT"),
                grpc_tls_key=env.get("HOOKLINE_GRPC_TLS_KEY"),
                grpc_tls_ca=env.get("HOOKLINE_GRPC_TLS_CA"),
            )
        )

    def _wait_grpc_serving(self, timeout: float) -> None:
        """Health Watch until SERVING: the server streams status changes, no polling.

        wait_for_ready holds the call until the port accepts. Code from before
        hookline_runtime.transport.server passed write()-style streams through (e05b11d), which the
        benchmark may measure, answers Watch with UNKNOWN; then Check is polled instead.
        """
        with self._security().open_sync_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            stream = stub.Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout, wait_for_ready=True
            )
            try:
                for reply in stream:
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
            except grpc.RpcError as exc:
                self._check_alive()
                if exc.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED):
                    raise
                log.info("health Watch not served; polling Check", service=self.name)
            finally:
                stream.cancel()

            def probe() -> None:
                self._check_alive()
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if reply.status != health_pb2.HealthCheckResponse.SERVING:
                    raise _NotServing(f"health status {reply.status}")

            self._retry(probe, timeout, (grpc.RpcError, _NotServing))

    def _wait_http_ready(self, timeout: float) -> None:
        def probe() -> None:
            self._check_alive()
            response = httpx.get(f"{self.url}/healthz", timeout=1.0)
            if response.status_code != 200:
                raise httpx.HTTPError(f"/healthz answered {response.status_code}")

        self._retry(probe, timeout, (httpx.HTTPError,))

    @staticmethod
    def _retry(
        probe: Callable[[], None], timeout: float, errors: tuple[type[BaseException], ...]
    ) -> None:
        """Call ``probe`` every 50 ms while it raises one of ``errors``, up to ``timeout``."""
        for attempt in Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.05),
            retry=retry_if_exception_type(errors),
            reraise=True,
        ):
            with attempt:
                probe()

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Returns the exit code
        (None for a process never started)."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                log.warning("killing after grace", service=self.name, grace_seconds=grace)
                self.popen.kill()
                self.popen.wait()
        log.info("stopped", service=self.name, exit_code=self.popen.returncode)
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL (``kill -9``), as a crash would, and wait until the process is gone."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(15)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self) -> list[dict[str, Any]]:
        """The JSON log lines, parsed (other lines are skipped)."""
        events = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue
        return events


@dataclass
class ServiceProcesses:
    """The processes of one deployment, sharing one Redis and one database.

    ``add`` declares a process on a fresh port (not started); ``start`` starts a few
    together and waits until each is ready; ``stop_all`` stops every one, callers first.
    """

    log_dir: Path
    base_env: Mapping[str, str]
    code_root: Path = CODE_ROOT
    """Where the processes run: the code they import (another checkout, for a baseline)."""
    pythonpath: str | None = None
    """Put ahead of the installed packages, so the services import the code under test."""
    with_metrics: bool = False
    """Give each gRPC service a /metrics endpoint on a fresh port."""
    processes: list[ServiceProcess] = field(default_factory=list)

    def add(self, name: str, service: ServiceName, **env: str) -> ServiceProcess:
        """Declare ``name`` running ``service`` on a fresh port, with JSON logs, the base
        environment and ``env`` (which wins)."""
        address = f"127.0.0.1:{free_port()}"
        full = {**os.environ, "HOOKLINE_LOG_FORMAT": "json", **self.base_env, **env}
        if self.pythonpath:
            full["PYTHONPATH"] = self.pythonpath
        metrics_address = None
        if service == "edge":
            full["HOOKLINE_EDGE_ADDR"] = address
        else:
            full[f"HOOKLINE_{service.upper()}_LISTEN"] = address
            if self.with_metrics:
                metrics_address = f"127.0.0.1:{free_port()}"
                full[f"HOOKLINE_{service.upper()}_METRICS_LISTEN"] = metrics_address
        proc = ServiceProcess(
            name,
            service,
            address,
            full,
            self.log_dir / f"{name}.log",
            metrics_address,
            cwd=self.code_root,
        )
        self.processes.append(proc)
        return proc

    def start(self, *procs: ServiceProcess) -> None:
        """Start ``procs`` together and wait until each is ready."""
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready()

    def stop_all(self) -> dict[str, int | None]:
        """Stop every process, callers before callees; the exit code of each by name."""
        codes: dict[str, int | None] = {}
        for proc in sorted(self.processes, key=lambda p: _STOP_ORDER[p.service]):
            codes[proc.name] = proc.stop()
        return codes
