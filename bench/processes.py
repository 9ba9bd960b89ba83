"""hookline services as separate OS processes (``hookline serve <service>``), started
with their addresses in the environment, made ready by real signals, and stopped with
SIGTERM (then SIGKILL after a grace period)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import grpc
import httpx
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from runtime.grpc_security import GrpcSecurity
from runtime.logs import get_logger
from runtime.settings import Settings

__all__ = ["ServiceName", "ServiceProcess", "Stack", "free_port"]

log = get_logger(__name__)

ServiceName = Literal["edge", "trigger", "execution", "cache"]
REPO_ROOT = Path(__file__).resolve().parents[1]
HOOKLINE = REPO_ROOT / ".venv" / "bin" / "hookline"
# Callers stop before callees.
_STOP_ORDER: dict[str, int] = {"edge": 0, "trigger": 1, "execution": 2, "cache": 3}
_GRPC_SECURITY = ("grpc_token", "grpc_tls_cert", "grpc_tls_key", "grpc_tls_ca")
"""Settings that decide how to reach a service's gRPC port (its own environment's)."""


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
    """One ``hookline serve`` process."""

    name: str
    service: ServiceName
    address: str
    env: dict[str, str]
    log_path: Path
    metrics_address: str | None = None
    cwd: Path = REPO_ROOT
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

    def process(self) -> psutil.Process:
        return psutil.Process(self.pid)

    def start(self) -> None:
        self.started_at = time.monotonic()
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(
                [str(HOOKLINE), "serve", self.service],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd,
            )
        log.info("started", service=self.name, pid=self.popen.pid, address=self.address)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Edge: ``/healthz`` answers 200. gRPC services: health Watch says SERVING."""
        if self.service == "edge":
            self._wait_http_ready(timeout)
        else:
            self._wait_grpc_serving(timeout)
        self.ready_seconds = round(time.monotonic() - self.started_at, 2)
        log.info("ready", service=self.name, seconds=self.ready_seconds)

    def _check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise NotReady(f"{self.name} exited with {self.popen.returncode}; see {self.log_path}")

    def _wait_grpc_serving(self, timeout: float) -> None:
        """Health Watch until SERVING: the server streams status changes, no polling.

        wait_for_ready holds the call until the port accepts. Code from before
        runtime.grpc_server passed write()-style streams through (e05b11d) answers
        Watch with UNKNOWN; then the unary Check is polled instead.
        """
        security = GrpcSecurity.from_settings(
            Settings(**{name: self.env.get(f"HOOKLINE_{name.upper()}") for name in _GRPC_SECURITY})
        )
        with security.open_sync_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            stream = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=timeout,
                                wait_for_ready=True)
            try:
                for reply in stream:
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
            except grpc.RpcError as exc:
                self._check_alive()
                if exc.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED):
                    raise NotReady(f"{self.name}: health watch ended: {exc.code()}") from exc
                log.info("health Watch not served; polling Check", service=self.name)
            finally:
                stream.cancel()
            self._poll_grpc_check(stub, timeout)

    def _poll_grpc_check(self, stub: health_pb2_grpc.HealthStub, timeout: float) -> None:
        def probe() -> None:
            self._check_alive()
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                raise _NotServing(f"{self.name}: {reply.status}")

        for attempt in Retrying(
            stop=stop_after_delay(timeout), wait=wait_fixed(0.05), reraise=True,
            retry=retry_if_exception_type((grpc.RpcError, _NotServing)),
        ):
            with attempt:
                probe()

    def _wait_http_ready(self, timeout: float) -> None:
        def probe() -> None:
            self._check_alive()
            response = httpx.get(f"{self.url}/healthz", timeout=1.0)
            if response.status_code != 200:
                raise httpx.HTTPError(f"/healthz answered {response.status_code}")

        for attempt in Retrying(
            stop=stop_after_delay(timeout), wait=wait_fixed(0.05), reraise=True,
            retry=retry_if_exception_type(httpx.HTTPError),
        ):
            with attempt:
                probe()

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Returns the exit code."""
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


@dataclass
class Stack:
    """The processes of one benchmark run, sharing one Redis and one database."""

    log_dir: Path
    base_env: Mapping[str, str]
    code_root: Path = REPO_ROOT
    pythonpath: str | None = None
    processes: list[ServiceProcess] = field(default_factory=list)

    def add(self, name: str, service: ServiceName, **env: str) -> ServiceProcess:
        """Declare a process (not started) on a fresh port; gRPC services also get a
        metrics endpoint on another fresh port."""
        address = f"127.0.0.1:{free_port()}"
        full = {**os.environ, **self.base_env, **env, "HOOKLINE_LOG_FORMAT": "json"}
        if self.pythonpath:
            # Ahead of the editable install: the services import the code under test.
            full["PYTHONPATH"] = self.pythonpath
        metrics_address = None
        if service == "edge":
            full["HOOKLINE_EDGE_ADDR"] = address
        else:
            full[f"HOOKLINE_{service.upper()}_LISTEN"] = address
            full[f"HOOKLINE_{service.upper()}_ADDR"] = address
            metrics_address = f"127.0.0.1:{free_port()}"
            full[f"HOOKLINE_{service.upper()}_METRICS_LISTEN"] = metrics_address
        proc = ServiceProcess(name, service, address, full, self.log_dir / f"{name}.log",
                              metrics_address, cwd=self.code_root)
        self.processes.append(proc)
        return proc

    def start(self, *procs: ServiceProcess) -> None:
        """Start ``procs`` together and wait until each is ready."""
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready()

    def stop_all(self) -> dict[str, int | None]:
        """Stop every started process, callers first."""
        codes: dict[str, int | None] = {}
        for proc in sorted(self.processes, key=lambda p: _STOP_ORDER[p.service]):
            codes[proc.name] = proc.stop()
        return codes
