"""Credentials as runs use them: fetched by name from the trigger service (which
keeps them encrypted) when an httpRequest node names one, and cached in this
process for a short while.

The values live only in ``Credential`` objects, whose repr hides them, and in the
request headers they produce: never in a node's parameters, its output, the record,
the journal, the run queue, a log line or an error message.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "CachedCredentials",
    "Credential",
    "CredentialSource",
    "CredentialUnavailable",
    "credential_headers",
]

DEFAULT_CACHE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Credential:
    name: str
    type: str
    data: dict[str, str]

    def __repr__(self) -> str:
        return f"Credential(name={self.name!r}, type={self.type!r}, data=<hidden>)"


class CredentialUnavailable(Exception):
    """The credential cannot be had; ``message`` says why (never a value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CredentialSource(Protocol):
    async def get(self, name: str) -> Credential:
        """The credential ``name``; ``CredentialUnavailable`` when it cannot be had."""


class CachedCredentials:
    """A ``CredentialSource`` that remembers answers for ``ttl_seconds``; concurrent
    misses for one name share one lookup."""

    def __init__(self, source: CredentialSource, *, ttl_seconds: float = DEFAULT_CACHE_SECONDS):
        self._source = source
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, Credential]] = {}
        self._pending: dict[str, asyncio.Future[Credential]] = {}

    async def get(self, name: str) -> Credential:
        entry = self._entries.get(name)
        if entry is not None and time.monotonic() - entry[0] < self._ttl:
            return entry[1]
        pending = self._pending.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(name))
            self._pending[name] = pending
        return await asyncio.shield(pending)

    async def _fetch(self, name: str) -> Credential:
        try:
            credential = await self._source.get(name)
            self._entries[name] = (time.monotonic(), credential)
            return credential
        finally:
            self._pending.pop(name, None)


def credential_headers(credential: Credential) -> dict[str, str]:
    """The request header an httpRequest credential sets; ``CredentialUnavailable``
    for a type httpRequest cannot use."""
    data = credential.data
    if credential.type == "bearer":
        return {"Authorization": f"Bearer {data['token']}"}
    if credential.type == "httpBasic":
        pair = f"{data['username']}:{data['password']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    if credential.type == "httpHeader":
        return {data["name"]: data["value"]}
    raise CredentialUnavailable(
        f'credential "{credential.name}" is of type {credential.type}; httpRequest takes '
        "httpHeader, httpBasic or bearer"
    )
