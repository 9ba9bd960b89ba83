"""Idempotency keys (DESIGN.md section 8; the IETF httpapi ``Idempotency-Key`` draft).

The first request with a key claims (workflow, key) for its execution, with the
request's fingerprint (method, path, query, Content-Type, body — computed by the
edge). A repeat with the same fingerprint gets that execution back and starts
nothing; a repeat with another fingerprint is refused. A claim whose run then could
not be started is released, so that a retry of a refused request (503: nothing
runs) is not mistaken for a repeat.

``IdempotencyKeys`` is the port; the trigger keeps claims in Redis (one ``SET … NX
GET``, so two replicas racing on one key agree) and in process without Redis or
while Redis is away.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Protocol

from hookline_runtime.errors import Unavailable
from hookline_runtime.logs import bind_execution, get_logger
from hookline_trigger.domain.ports import ExecutionStarter
from hookline_trigger.domain.records import StartRequest

__all__ = [
    "Claim",
    "Decision",
    "Idempotency",
    "IdempotencyKeys",
    "MemoryIdempotencyKeys",
    "RequestKey",
]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Claim:
    """The (workflow, key) claim: which execution owns it, for which request."""

    execution_id: str
    fingerprint: str

    def encode(self) -> bytes:
        value = {"executionId": self.execution_id, "fingerprint": self.fingerprint}
        return json.dumps(value).encode()

    @classmethod
    def decode(cls, data: bytes) -> Claim:
        value = json.loads(data)
        return cls(str(value["executionId"]), str(value["fingerprint"]))


class IdempotencyKeys(Protocol):
    async def claim(self, workflow_id: str, key: str, claim: Claim, ttl: int) -> Claim | None:
        """Claim the key; None when it is now ours, else the earlier claim.
        ``Unavailable`` when the store cannot be reached."""

    async def release(self, workflow_id: str, key: str, claim: Claim) -> None:
        """Drop our claim (the run did not start)."""


class MemoryIdempotencyKeys:
    """Claims in this process, at most ``size`` of them (the oldest go first)."""

    def __init__(self, size: int = 100_000) -> None:
        self._size = size
        self._claims: OrderedDict[tuple[str, str], tuple[Claim, float]] = OrderedDict()

    async def claim(self, workflow_id: str, key: str, claim: Claim, ttl: int) -> Claim | None:
        now = time.monotonic()
        slot = (workflow_id, key)
        found = self._claims.get(slot)
        if found is not None and found[1] > now:
            return found[0]
        self._claims[slot] = (claim, now + ttl)
        self._claims.move_to_end(slot)
        while len(self._claims) > self._size:
            self._claims.popitem(last=False)
        return None

    async def release(self, workflow_id: str, key: str, claim: Claim) -> None:
        slot = (workflow_id, key)
        found = self._claims.get(slot)
        if found is not None and found[0] == claim:
            del self._claims[slot]


@dataclass(frozen=True, slots=True)
class RequestKey:
    """A request's Idempotency-Key, scoped to its workflow, and its fingerprint."""

    workflow_id: str
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a request that carries a key: start ``execution_id`` (new), or
    answer with the earlier execution (``replayed``), or refuse (``reused``)."""

    execution_id: str
    replayed: bool = False
    reused: bool = False


class Idempotency:
    """Claims keys in the shared store, in process while it is away."""

    def __init__(
        self, shared: IdempotencyKeys | None, *, ttl_seconds: int, local: MemoryIdempotencyKeys
    ) -> None:
        self._shared = shared
        self._local = local
        self._ttl = ttl_seconds
        self._shared_down = False

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    async def start_once(
        self, request: StartRequest, key: RequestKey | None, starter: ExecutionStarter
    ) -> Decision:
        """Start ``request`` unless ``key`` was seen: a new key starts it (its record is
        then kept for repeats); a repeat starts nothing. A run that could not be
        started (``Unavailable``: nothing will run) releases the key again."""
        if key is None:
            await starter.start(request)
            return Decision(request.execution_id)
        decision = await self.decide(
            key.workflow_id, key.key, key.fingerprint, request.execution_id
        )
        if decision.replayed or decision.reused:
            bind_execution(decision.execution_id)
            if decision.replayed:
                log.info("Idempotent repeat: answering with the earlier execution")
            return decision
        try:
            await starter.start(replace(request, keep_result_seconds=self._ttl))
        except Unavailable:
            await self.release(key.workflow_id, key.key, request.execution_id, key.fingerprint)
            raise
        return decision

    async def decide(
        self, workflow_id: str, key: str, fingerprint: str, execution_id: str
    ) -> Decision:
        mine = Claim(execution_id, fingerprint)
        earlier = await self._claim(workflow_id, key, mine)
        if earlier is None:
            return Decision(execution_id)
        if earlier.fingerprint != fingerprint:
            return Decision(earlier.execution_id, reused=True)
        return Decision(earlier.execution_id, replayed=True)

    async def release(
        self, workflow_id: str, key: str, execution_id: str, fingerprint: str
    ) -> None:
        claim = Claim(execution_id, fingerprint)
        await self._local.release(workflow_id, key, claim)
        if self._shared is not None:
            try:
                await self._shared.release(workflow_id, key, claim)
            except Unavailable:
                pass

    async def _claim(self, workflow_id: str, key: str, claim: Claim) -> Claim | None:
        if self._shared is not None:
            try:
                earlier = await self._shared.claim(workflow_id, key, claim, self._ttl)
            except Unavailable as exc:
                if not self._shared_down:
                    self._shared_down = True
                    log.error(
                        "Idempotency keys unavailable in Redis: remembering them in this "
                        "process until Redis answers",
                        error=exc.message,
                    )
            else:
                if self._shared_down:
                    self._shared_down = False
                    log.warning("Idempotency keys are kept in Redis again")
                return earlier
        return await self._local.claim(workflow_id, key, claim, self._ttl)
