"""Start hookline services as separate OS processes, the way an operator does
(``hookline serve <service>`` with environment variables), and stop them with SIGTERM
(or kill them with SIGKILL, as a crash would)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runtime.grpc_security import GrpcSecurity
from runtime.settings import Settings

__all__ = ["Cluster", "ServiceProcess", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    name: str
    service: str
    env: dict[str, str]
    log_path: Path
    address: str
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "serve", self.service],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
        log.close()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until the service answers its health check (gRPC) or /healthz (edge)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log_text()[-4000:]}")
            if self._ready():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready in {timeout}s:\n{self.log_text()}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        if self.service == "edge":
            try:
                return httpx.get(f"http://{self.address}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        with self._security().open_sync_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            except grpc.RpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

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

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; returns the exit code (kills after ``timeout``)."""
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else 0
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            return -9

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def kill(self) -> None:
        """SIGKILL (``kill -9``), and wait until the process is gone."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(15)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue
        return events


@dataclass
class Cluster:
    """A set of processes sharing one Redis and one database."""

    tmp: Path
    base_env: dict[str, str]
    processes: list[ServiceProcess] = field(default_factory=list)
    run_stream: str = field(default_factory=lambda: f"hookline:runs:test:{uuid.uuid4().hex}")
    """The cluster's own run queue on the shared Redis."""

    def add(self, name: str, service: str, **env: str) -> ServiceProcess:
        port = free_port()
        address = f"127.0.0.1:{port}"
        full = {**os.environ, **self.base_env, **env}
        full.setdefault("HOOKLINE_LOG_FORMAT", "json")
        full.setdefault("HOOKLINE_RUN_STREAM", self.run_stream)
        full.setdefault("HOOKLINE_HTTP_ALLOW_PRIVATE", "true")  # workflows call 127.0.0.1
        if service == "edge":
            full["HOOKLINE_EDGE_ADDR"] = address
        else:
            full[f"HOOKLINE_{service.upper()}_LISTEN"] = address
        proc = ServiceProcess(name, service, full, self.tmp / f"{name}.log", address)
        self.processes.append(proc)
        return proc

    def start(self, *procs: ServiceProcess) -> None:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready()

    def stop_all(self) -> dict[str, int]:
        # Edges first, then trigger, execution, cache: callers before callees.
        order = {"edge": 0, "trigger": 1, "execution": 2, "cache": 3}
        codes = {}
        for proc in sorted(self.processes, key=lambda p: order[p.service]):
            codes[proc.name] = proc.stop()
        return codes
