"""The benchmark's processes: ``hookline_launcher.processes`` with a /metrics endpoint on every
gRPC service (scraped between scenarios), and each gRPC service's own address in its
environment (``HOOKLINE_<SERVICE>_ADDR``)."""

from __future__ import annotations

from dataclasses import dataclass

from hookline_launcher.processes import ServiceName, ServiceProcess, ServiceProcesses, free_port

__all__ = ["ServiceName", "ServiceProcess", "Stack", "free_port"]


@dataclass
class Stack(ServiceProcesses):
    """The processes of one benchmark run, sharing one Redis and one database."""

    with_metrics: bool = True

    def add(self, name: str, service: ServiceName, **env: str) -> ServiceProcess:
        proc = super().add(name, service, **env)
        if service != "edge":
            proc.env[f"HOOKLINE_{service.upper()}_ADDR"] = proc.address
        return proc
