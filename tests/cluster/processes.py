"""The cross-process tests' deployment: ``hookline_launcher.processes`` with a run queue of its
own on the shared Redis, and workflows allowed to call 127.0.0.1 (the tests' servers)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from hookline_launcher.processes import ServiceName, ServiceProcess, ServiceProcesses, free_port

__all__ = ["Cluster", "ServiceProcess", "free_port"]


@dataclass
class Cluster(ServiceProcesses):
    """A set of processes sharing one Redis and one database (logs in ``log_dir``)."""

    run_stream: str = field(default_factory=lambda: f"hookline:runs:test:{uuid.uuid4().hex}")
    """The cluster's own run queue on the shared Redis."""

    def add(self, name: str, service: ServiceName, **env: str) -> ServiceProcess:
        env.setdefault("HOOKLINE_RUN_STREAM", self.run_stream)
        env.setdefault("HOOKLINE_HTTP_ALLOW_PRIVATE", "true")  # workflows call 127.0.0.1
        return super().add(name, service, **env)
