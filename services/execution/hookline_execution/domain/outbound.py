"""The guard on outbound requests: httpRequest may not reach internal addresses.

Every connection the shared HTTP client opens goes through ``GuardedBackend``: it
resolves the host name once, checks every address it resolved to, and connects to a
checked address (TLS still verifies and sends the original host name, and the ``Host``
header is untouched). A DNS answer that changes between a check and the connect
(rebinding) therefore cannot get through, and every redirect hop, which opens a new
connection to a new origin, is checked the same way.

Refused by default: loopback, private (RFC 1918 and the like), link-local, unique-local
(``fc00::/7``), multicast, unspecified, reserved and other non-public addresses, and the
cloud metadata addresses. ``allow_private`` opens all of them except the metadata
addresses; ``allow_hosts`` (host names, ``*.suffix`` patterns, addresses or CIDRs)
opens exactly what it lists, metadata included.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
import httpx

__all__ = ["AddressRefused", "GuardedBackend", "OutboundPolicy", "outbound_client"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_OPEN_HINT = "set HOOKLINE_HTTP_ALLOW_PRIVATE=true or HOOKLINE_HTTP_ALLOW_HOSTS to allow it"
_METADATA_HINT = "list it in HOOKLINE_HTTP_ALLOW_HOSTS to allow it"


class AddressRefused(Exception):
    """The request would reach an address the policy refuses; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def address_class(address: IPAddress) -> str | None:
    """What kind of non-public address this is ("private address", ...), or None
    for a public one."""
    if address in _METADATA:
        return "the cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_class(embedded)
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address in _UNIQUE_LOCAL, "a unique-local address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a non-public address"),
    )
    return next((kind for hit, kind in checks if hit), None)


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Which non-public destinations httpRequest may reach."""

    allow_private: bool = False
    allow_names: frozenset[str] = frozenset()
    """Host names allowed whatever they resolve to; ``*.example.com`` matches subdomains."""
    allow_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, allow_private: bool, allow_hosts: str | Iterable[str]) -> OutboundPolicy:
        """From the settings: ``allow_hosts`` is comma-separated host names, addresses
        and CIDRs (``api.internal, 10.1.0.0/16, fd12::1``)."""
        entries = allow_hosts.split(",") if isinstance(allow_hosts, str) else allow_hosts
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.rstrip("."))
        return cls(allow_private, frozenset(names), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        if name in self.allow_names:
            return True
        return any(
            pattern.startswith("*.") and name.endswith(pattern[1:]) for pattern in self.allow_names
        )

    def check(self, host: str, addresses: Iterable[IPAddress]) -> None:
        """Raise ``AddressRefused`` unless every address ``host`` resolved to may be
        reached."""
        if self.host_allowed(host):
            return
        for address in addresses:
            if any(address in network for network in self.allow_networks):
                continue
            kind = address_class(address)
            if kind is None:
                continue
            metadata = address in _METADATA
            if self.allow_private and not metadata:
                continue
            hint = _METADATA_HINT if metadata else _OPEN_HINT
            if _literal(host) == address:
                raise AddressRefused(f"refused: {address} is {kind}; {hint}")
            raise AddressRefused(f"refused: {host} resolves to {address}, {kind}; {hint}")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects: the network backend of the shared client."""

    def __init__(self, policy: OutboundPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy = policy
        self._inner = inner

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        literal = _literal(host)
        if literal is not None:
            return [literal]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise httpcore.ConnectError(f"could not resolve {host}")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        self._policy.check(host, addresses)
        options = list(socket_options) if socket_options is not None else None
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None  # _resolve returns at least one address
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused(f"refused: unix socket {path} is a local address")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with its connection pool opening connections through
    ``GuardedBackend`` (httpx has no public argument for a network backend)."""

    def __init__(self, policy: OutboundPolicy, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, httpcore.AnyIOBackend()),
        )


def outbound_client(
    policy: OutboundPolicy, *, limits: httpx.Limits | None = None
) -> httpx.AsyncClient:
    """The HTTP client httpRequest nodes share. Redirects are followed (each hop is
    checked when it connects); proxies from the environment are ignored, since a proxy
    would make the proxy's address the only one checked."""
    return httpx.AsyncClient(
        transport=_GuardedTransport(policy, limits or httpx.Limits()),
        follow_redirects=True,
        trust_env=False,
    )
