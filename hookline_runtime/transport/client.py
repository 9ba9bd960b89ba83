"""Client channels to the gRPC services.

An address is ``host:port``, a comma-separated list of them, or any gRPC target
(``dns:///name:port``). Calls are spread round-robin: a list of IP literals and any
``dns:///`` target become one channel with the ``round_robin`` load-balancing policy;
a list naming hosts becomes one channel per address, used in turn.

Every channel carries a retry policy for UNAVAILABLE, so a call that reached no
server is tried again on another (grpc/grpc ``examples/python/retry``).

``.lane_stubs`` are the stubs that long-lived item streams use
(``hookline_runtime.transport.item_stream_client``): one per listed address, four on a ``dns:///``
target (its round-robin policy spreads the calls over the servers).

Given a ``GrpcSecurity`` (``hookline_runtime.transport.security``), every channel uses its TLS
credentials and carries its token on every call, streams included.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import grpc

from hookline_runtime.transport.security import GrpcSecurity
from hookline_runtime.transport.server import grpc_options
from hookline_runtime.transport.tracing import client_interceptors

__all__ = ["ServiceClient", "channel_targets"]

StubT = TypeVar("StubT")

_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def channel_targets(address: str) -> list[str]:
    """The gRPC targets for an address setting (see module docstring)."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    if not parts:
        raise ValueError("empty service address")
    if len(parts) == 1:
        return parts
    hosts = [p.rpartition(":")[0] for p in parts]
    if all(_is_ip(h) for h in hosts):
        scheme = "ipv6" if any(":" in h.strip("[]") for h in hosts) else "ipv4"
        return [f"{scheme}:" + ",".join(parts)]
    return parts


_DNS_LANES = 4


class ServiceClient(Generic[StubT]):
    """Channels and stubs for one service; ``.stub`` gives the next stub in turn."""

    def __init__(
        self,
        address: str,
        stub_factory: Callable[[grpc.aio.Channel], StubT],
        *,
        max_message_bytes: int = 64 * 1024 * 1024,
        security: GrpcSecurity | None = None,
    ) -> None:
        security = security or GrpcSecurity()
        options = [*grpc_options(max_message_bytes), ("grpc.service_config", _SERVICE_CONFIG)]
        self.address = address
        targets = channel_targets(address)
        traced = client_interceptors()  # none while tracing is off
        self._channels = [security.open_channel(t, options, traced) for t in targets]
        self._stubs = [stub_factory(ch) for ch in self._channels]
        self._cycle: Iterator[StubT] = itertools.cycle(self._stubs)
        self._own_channels: list[grpc.aio.Channel] = []
        parts = [p.strip() for p in address.split(",") if p.strip()]
        if len(targets) == 1 and len(parts) > 1:
            # A list of IP literals shares one round-robin channel; a long-lived stream
            # would stay on one server, so streams get one channel per server.
            self._own_channels = [security.open_channel(p, options) for p in parts]
            self._lane_stubs = [stub_factory(ch) for ch in self._own_channels]
        else:
            self._lane_stubs = []
            for channel, stub, target in zip(self._channels, self._stubs, targets, strict=True):
                count = _DNS_LANES if target.startswith("dns:") else 1
                self._lane_stubs.extend([stub] * count)

    @property
    def stub(self) -> StubT:
        return next(self._cycle)

    @property
    def lane_stubs(self) -> list[StubT]:
        """One stub per long-lived stream to keep (see module docstring)."""
        return list(self._lane_stubs)

    @property
    def channels(self) -> list[grpc.aio.Channel]:
        return list(self._channels)

    async def close(self) -> None:
        for channel in [*self._channels, *self._own_channels]:
            await channel.close()
