"""The delivery rules: store a result, read it, and wait for it.

``ResultDelivery`` writes each value to the shared store (Redis), which notifies
every cache process after the write, and wakes this process's waiters directly with
the JSON at hand (without waiting for the write's reply). When there is no shared store, or it is unreachable, the value
goes to the bounded in-memory store instead, so waiters of this process still get
it; once Redis is back, what the memory store holds is handed over to it.

A watch registers its waiter first, says so (``Subscribed``), then looks at the
stores (memory, then shared), then sleeps until a wake or its deadline. In poll mode
(the spec's loop, kept for comparison) it looks every ``poll_interval`` instead.
While the shared store is unreachable, a watch whose execution is being saved also
asks ``SavedRecords`` every ``outage_interval``. Only a finished saved record
(status ``success`` or ``error``) is delivered: the execution service saves a
``running`` row when a run starts, and that row is not the result, so the watch
keeps waiting for the finished one (or its deadline).

Shutting down (``drain``): new watches are refused (UNAVAILABLE, so the edge watches
on another replica), while the watches in flight go on and get their results as they
are stored — stores are still taken. At the end of the grace, ``end_watches`` ends
the ones still waiting with UNAVAILABLE too.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from functools import partial

from hookline_cache.domain.codec import ResultCodec
from hookline_cache.domain.model import (
    SUBSCRIBED,
    TIMED_OUT,
    CachedResult,
    Delivered,
    StoreOutcome,
    WatchEvent,
    WatchRequest,
)
from hookline_cache.domain.waiters import Waiter, WaiterRegistry
from hookline_cache.metrics import CacheMetrics
from hookline_cache.storage.base import (
    NOT_KEPT,
    Kind,
    ResultStore,
    SavedRecords,
    StoreUnavailable,
)
from hookline_cache.storage.memory import MemoryResultStore
from hookline_runtime.errors import HooklineError, InvalidArgument, NotFound, Unavailable
from hookline_runtime.logs import get_logger
from hookline_runtime.tracing import EXECUTION_ID, span

__all__ = ["ResultDelivery", "check_execution_id", "is_finished_record"]

log = get_logger(__name__)

_MAX_ID_LENGTH = 200
_MAX_TTL_SECONDS = 30 * 24 * 3600
_RESULT_ONLY = (Kind.RESULT,)
_RESPONSE_FIRST = (Kind.RESPONSE, Kind.RESULT)
KEEP_MAX_BYTES = 1024 * 1024
"""Records up to this size (JSON) are kept for idempotent repeats; a larger one is
not, and a repeat after its result expired is told so (409 at the edge)."""
_FINISHED = frozenset({"success", "error"})
_SPACE = re.compile(r"\s")
r"""For str patterns ``\s`` is what ``str.isspace`` says is a space."""


def is_finished_record(record: bytes) -> bool:
    """True when ``record`` is an execution record's JSON whose status is final."""
    try:
        parsed = json.loads(record)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False
    return isinstance(parsed, dict) and parsed.get("status") in _FINISHED


def check_execution_id(execution_id: str) -> None:
    """Raise ``InvalidArgument`` unless the id is 1..200 printable, non-blank characters."""
    if (
        not execution_id
        or len(execution_id) > _MAX_ID_LENGTH
        or not execution_id.isprintable()
        or _SPACE.search(execution_id)
    ):
        raise InvalidArgument(
            "execution_id must be 1 to 200 printable characters without spaces",
            field="execution_id",
        )


class ResultDelivery:
    """See module docstring. Also the ``NotificationSink`` of the shared subscription."""

    def __init__(
        self,
        *,
        codec: ResultCodec,
        memory: MemoryResultStore,
        shared: ResultStore | None,
        saved: SavedRecords | None = None,
        push: bool = True,
        poll_interval: float = 0.1,
        outage_interval: float = 0.25,
        saved_timeout: float = 1.0,
        metrics: CacheMetrics | None = None,
    ) -> None:
        self._codec = codec
        self._memory = memory
        self._shared = shared
        self._saved = saved
        self._push = push
        self._poll_interval = poll_interval
        self._outage_interval = outage_interval
        self._saved_timeout = saved_timeout
        self._metrics = metrics or CacheMetrics()
        self.waiters = WaiterRegistry()
        self._watching = 0
        self._draining = False
        self._ending = False
        self._no_watches = asyncio.Event()
        self._no_watches.set()

    # ------------------------------------------------------------------ writes
    async def store(
        self,
        kind: Kind,
        execution_id: str,
        payload: bytes,
        ttl_seconds: int,
        keep_seconds: int = 0,
    ) -> StoreOutcome:
        """Store a record (or an early response), then wake whoever waits for it.
        With ``keep_seconds`` a record is also kept that long for idempotent repeats
        (up to ``KEEP_MAX_BYTES``; past it, a ``NOT_KEPT`` marker is). One trace span,
        in the trace of the run that hands the record over."""
        with span(f"cache store {kind.value}", {EXECUTION_ID: execution_id}):
            return await self._store(kind, execution_id, payload, ttl_seconds, keep_seconds)

    async def _store(
        self,
        kind: Kind,
        execution_id: str,
        payload: bytes,
        ttl_seconds: int,
        keep_seconds: int,
    ) -> StoreOutcome:
        started = time.time()
        check_execution_id(execution_id)
        if not 1 <= ttl_seconds <= _MAX_TTL_SECONDS:
            raise InvalidArgument(
                f"ttl_seconds must be between 1 and {_MAX_TTL_SECONDS}", field="ttl_seconds"
            )
        if not payload:
            raise InvalidArgument("the stored JSON must not be empty", field=kind.value)
        if not 0 <= keep_seconds <= _MAX_TTL_SECONDS:
            raise InvalidArgument(
                f"keep_seconds must be between 0 and {_MAX_TTL_SECONDS}", field="keep_seconds"
            )
        encoded = await self._codec.encode(payload, kind.value)
        ttl_ms = ttl_seconds * 1000
        # Waiters of this process get the JSON itself, so they need not wait for the
        # write's reply: woken now, they send while the SET is in flight (it goes out
        # in the same turn of the event loop). Other processes are notified by the
        # PUBLISH that follows the SET, so their GET always finds the value.
        self.waiters.wake(execution_id, kind, payload, started)
        where = "memory"
        if self._shared is not None:
            try:
                await self._shared.put(kind, execution_id, encoded.data, ttl_ms, started)
                where = "redis"
            except StoreUnavailable:
                pass
        if where == "memory":
            if not self._memory.put_now(kind, execution_id, encoded.data, ttl_ms):
                log.warning(
                    "Execution result too large for the in-memory store",
                    execution_id=execution_id,
                    bytes=len(encoded.data),
                )
        elif len(self._memory):
            self._memory.discard(kind, execution_id)
        self._metrics.stored.labels(where).inc()
        if kind is Kind.RESULT and keep_seconds > ttl_seconds:
            kept = encoded.data if len(payload) <= KEEP_MAX_BYTES else NOT_KEPT
            await self._keep(execution_id, kept, keep_seconds * 1000, shared=where == "redis")
        # Logged once the woken waiters have run: a log line costs more than a delivery.
        asyncio.get_running_loop().call_soon(
            partial(
                log.info,
                "Cached execution result" if kind is Kind.RESULT else "Cached execution response",
                execution_id=execution_id,
                bytes=len(encoded.data),
                compressed=encoded.compressed,
                store=where,
            )
        )
        return StoreOutcome(encoded.compressed, len(encoded.data), where)

    async def _keep(self, execution_id: str, data: bytes, ttl_ms: int, *, shared: bool) -> None:
        if shared and self._shared is not None:
            try:
                await self._shared.keep(execution_id, data, ttl_ms)
                return
            except StoreUnavailable:
                pass
        await self._memory.keep(execution_id, data, ttl_ms)

    # ------------------------------------------------------------------- reads
    async def get_result(self, execution_id: str) -> CachedResult:
        """The stored record; ``NotFound`` when there is none (or it expired)."""
        check_execution_id(execution_id)
        source = "memory"
        stored = await self._memory.get_with_ttl(Kind.RESULT, execution_id)
        if stored is None and self._shared is not None:
            source = "redis"
            try:
                stored = await self._shared.get_with_ttl(Kind.RESULT, execution_id)
            except StoreUnavailable:
                stored = None
        if stored is None:
            self._metrics.lookups.labels("miss").inc()
            raise NotFound(f"no cached result for execution {execution_id}")
        self._metrics.lookups.labels("hit").inc()
        payload = await self._codec.decode(stored.data)
        log.info("Retrieved cached execution result", execution_id=execution_id, source=source)
        return CachedResult(payload, stored.ttl_ms)

    async def watch(self, request: WatchRequest) -> AsyncIterator[WatchEvent]:
        """``Subscribed``, then exactly one of ``Delivered`` or ``TimedOut``."""
        check_execution_id(request.execution_id)
        if request.timeout_seconds < 0:
            raise InvalidArgument("timeout_ms must not be negative", field="timeout_ms")
        if self._draining:
            raise Unavailable("the cache service is shutting down; watch on another replica")
        deadline = asyncio.get_running_loop().time() + request.timeout_seconds
        self._watching += 1
        self._no_watches.clear()
        waiter = (
            self.waiters.add(request.execution_id, request.accept_response) if self._push else None
        )
        outcome: Delivered | None = None
        self._metrics.waiting.inc()
        try:
            yield SUBSCRIBED
            try:
                async with asyncio.timeout_at(deadline):
                    outcome = await self._wait(request, waiter)
            except TimeoutError:
                outcome = None
        finally:
            self._metrics.waiting.dec()
            if waiter is not None:
                self.waiters.remove(waiter)
            self._watching -= 1
            if not self._watching:
                self._no_watches.set()
        if outcome is None:
            self._metrics.watch_outcomes.labels("timed_out").inc()
            log.warning(
                "Timeout waiting for execution result",
                execution_id=request.execution_id,
                timeout_ms=round(request.timeout_seconds * 1000),
            )
            yield TIMED_OUT
            return
        self._metrics.watch_outcomes.labels(outcome.kind.value).inc()
        if outcome.stored_at is not None:
            self._metrics.delivery_seconds.observe(max(0.0, time.time() - outcome.stored_at))
        yield outcome  # sent first, logged after: the log line is off the delivery path
        log.info(
            "Retrieved cached execution result",
            execution_id=request.execution_id,
            kind=outcome.kind.value,
            source=outcome.source,
        )

    async def _wait(self, request: WatchRequest, waiter: Waiter | None) -> Delivered:
        execution_id = request.execution_id
        kinds = _RESPONSE_FIRST if request.accept_response else _RESULT_ONLY
        if request.replayed:
            kinds = (*kinds, Kind.KEPT)
        while True:
            found = await self._look(execution_id, kinds)
            if found is not None:
                return found
            if self._ending:
                raise Unavailable("the cache service stopped before the result came")
            fallback = self._use_saved(request)
            if waiter is None:
                await asyncio.sleep(self._outage_interval if fallback else self._poll_interval)
            else:
                wake = await waiter.next(self._outage_interval if fallback else None)
                if wake is not None:
                    if wake.kind is not None and wake.payload is not None:
                        return Delivered(wake.kind, wake.payload, "notification", wake.stored_at)
                    continue  # look again
            if self._saved is not None and self._use_saved(request):
                record = await self._saved.fetch(execution_id, self._saved_timeout)
                if record is not None and is_finished_record(record):
                    return Delivered(Kind.RESULT, record, "database")

    async def _look(self, execution_id: str, kinds: tuple[Kind, ...]) -> Delivered | None:
        for kind in kinds:
            data = self._memory.peek(kind, execution_id)
            if data is not None:
                return await self._delivered(kind, data, "memory")
        if self._shared is None or not self._shared.available:
            return None
        try:
            values = await self._shared.get_many(execution_id, kinds)
        except StoreUnavailable:
            return None
        for kind, data in zip(kinds, values, strict=True):
            if data is not None:
                return await self._delivered(kind, data, "redis")
        return None

    async def _delivered(self, kind: Kind, data: bytes, source: str) -> Delivered:
        """A kept record is delivered as the result; the NOT_KEPT marker as an empty
        ``Kind.KEPT``."""
        if kind is Kind.KEPT:
            if data == NOT_KEPT:
                return Delivered(Kind.KEPT, b"", source)
            kind = Kind.RESULT
        return Delivered(kind, await self._codec.decode(data), source)

    def _use_saved(self, request: WatchRequest) -> bool:
        return (
            request.saved_to_database
            and self._saved is not None
            and self._shared is not None
            and not self._shared.available
        )

    # ---------------------------------------------------------------- shutdown
    @property
    def watching(self) -> int:
        """Watches in flight in this process."""
        return self._watching

    @property
    def draining(self) -> bool:
        """True once shutting down: new watches are refused."""
        return self._draining

    async def drain(self, timeout: float) -> bool:
        """Refuse new watches and wait up to ``timeout`` seconds for those in flight to
        end (stores are still taken meanwhile); True when none is left."""
        self._draining = True
        if self._watching:
            log.info("Draining result watches", watching=self._watching, grace_seconds=timeout)
        try:
            async with asyncio.timeout(timeout):
                await self._no_watches.wait()
        except TimeoutError:
            return False
        return True

    def end_watches(self) -> None:
        """End the watches still waiting, with UNAVAILABLE (the edge watches again
        elsewhere); each first takes a result already stored."""
        self._draining = self._ending = True
        if self._watching:
            log.warning("Ending result watches at the end of the grace", watching=self._watching)
        self.waiters.wake_all()

    # ------------------------------------------------- the shared subscription
    def on_stored(
        self, kind: Kind, execution_id: str, inline: bytes | None, stored_at: float | None
    ) -> None:
        if not self.waiters.wants(execution_id, kind):
            return
        payload: bytes | None = None
        if inline is not None:
            try:
                payload = self._codec.decode_now(inline)
            except HooklineError:
                payload = None  # the waiter reads it from the store instead
        self.waiters.wake(execution_id, kind, payload, stored_at)

    def on_resync(self) -> None:
        self.waiters.wake_all()

    async def on_shared_state(self, up: bool) -> None:
        """The shared store went down or came back: waiters re-evaluate (and use the
        saved-record fallback while it is down); on return, hand over what the
        memory store kept during the outage."""
        if up and self._shared is not None:
            await self._hand_over()
        self.waiters.wake_all()

    async def _hand_over(self) -> None:
        assert self._shared is not None
        for entry in self._memory.entries():
            if entry.ttl_ms <= 0:
                continue
            try:
                await self._shared.put(
                    entry.kind, entry.execution_id, entry.data, entry.ttl_ms, time.time()
                )
            except StoreUnavailable:
                return
            self._memory.discard(entry.kind, entry.execution_id, entry.data)
