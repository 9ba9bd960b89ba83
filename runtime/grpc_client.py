"""Client channels to the gRPC services.

An address is ``host:port``, a comma-separated list of them, or any gRPC target
(``dns:///name:port``). Calls are spread round-robin: a list of IP literals and any
``dns:///`` target become one channel with the ``round_robin`` load-balancing policy;
a list naming hosts becomes one channel per address, used in turn.

Every channel carries a retry policy for UNAVAILABLE, so a call that reached no
server is tried again on another (grpc/grpc ``examples/python/retry``).

Given the service's descriptor, ``.stub`` carries calls multiplexed on one stream per
server (``runtime.multiplex``): one session per listed address, four on a
``dns:///`` target (its round-robin policy spreads them over the servers).

Given a ``GrpcSecurity`` (``runtime.grpc_security``), every channel uses its TLS
credentials and carries its token on every call, the multiplexed sessions included.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, cast

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from runtime.grpc_security import GrpcSecurity
from runtime.grpc_server import grpc_options
from runtime.grpc_tracing import client_interceptors
from runtime.logs import get_logger
from runtime.multiplex import MultiplexStub, SessionPool

__all__ = ["ServiceClient", "channel_targets"]

StubT = TypeVar("StubT")

log = get_logger(__name__)

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


_DNS_SESSIONS = 4


class ServiceClient(Generic[StubT]):
    """Channels and stubs for one service; ``.stub`` gives the next stub in turn."""

    def __init__(
        self,
        address: str,
        stub_factory: Callable[[grpc.aio.Channel], StubT],
        *,
        service: ServiceDescriptor | None = None,
        multiplex: bool = True,
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
        self._pool: SessionPool | None = None
        self._multiplexed: StubT | None = None
        self._own_channels: list[grpc.aio.Channel] = []
        if service is not None and multiplex:
            sessions: list[tuple[grpc.aio.Channel, str]] = []
            parts = [p.strip() for p in address.split(",") if p.strip()]
            if len(targets) == 1 and len(parts) > 1:
                # A list of IP literals shares one round-robin channel; sessions need
                # one channel per server.
                self._own_channels = [security.open_channel(p, options) for p in parts]
                sessions = list(zip(self._own_channels, parts, strict=True))
            else:
                for channel, target in zip(self._channels, targets, strict=True):
                    count = _DNS_SESSIONS if target.startswith("dns:") else 1
                    sessions.extend([(channel, target)] * count)
            self._pool = SessionPool(sessions, stub_factory, max_message_bytes=max_message_bytes)
            self._multiplexed = cast(StubT, MultiplexStub(self._pool, service))

    @property
    def stub(self) -> StubT:
        if self._multiplexed is not None:
            return self._multiplexed
        return next(self._cycle)

    @property
    def plain_stub(self) -> StubT:
        """The next generated stub in turn: one plain gRPC call per call."""
        return next(self._cycle)

    @property
    def sessions(self) -> SessionPool | None:
        """The multiplexed sessions (None when calls are plain)."""
        return self._pool

    @property
    def channels(self) -> list[grpc.aio.Channel]:
        return list(self._channels)

    async def close(self) -> None:
        if self._pool is not None:
            messages, frames = self._pool.batching()
            if messages:
                log.info(
                    "Multiplexed calls closed",
                    address=self.address,
                    messages=messages,
                    frames=frames,
                )
            self._pool.close()
        for channel in [*self._channels, *self._own_channels]:
            await channel.close()
