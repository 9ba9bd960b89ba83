"""The interfaces the domain needs from the outside world; storage/ and the gRPC
client provide the adapters. Adapters raise ``runtime.errors`` exceptions
(``Unavailable`` when their backend cannot be reached)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from services.trigger.domain.paging import PageKey
from services.trigger.domain.records import StartRequest, WorkflowRecord

__all__ = ["ChangePublisher", "ExecutionStarter", "TickLedger", "WorkflowStore"]


class WorkflowStore(Protocol):
    """Where workflows live."""

    async def insert(self, record: WorkflowRecord) -> None:
        """Store a new workflow; ``WebhookRouteTaken`` when an active workflow already
        owns its webhook method+path."""

    async def update(self, record: WorkflowRecord) -> None:
        """Overwrite a workflow; ``NotFound`` when it is gone, ``WebhookRouteTaken`` as
        for ``insert``."""

    async def get(self, workflow_id: str) -> WorkflowRecord | None: ...

    async def delete(self, workflow_id: str) -> bool:
        """True when a workflow was deleted."""

    async def page(self, after: PageKey | None, limit: int) -> list[WorkflowRecord]:
        """Up to ``limit`` workflows after ``after``, oldest first by (created_at, id)."""

    async def active_triggers(self) -> list[WorkflowRecord]:
        """Every active workflow whose trigger is a webhook or a schedule."""


class TickLedger(Protocol):
    """Claims schedule ticks so each fires once across replicas."""

    async def claim(self, workflow_id: str, tick: datetime) -> bool:
        """True for exactly one caller per (workflow, tick)."""

    async def last_fired(self, workflow_id: str) -> datetime | None:
        """The latest tick claimed for the workflow, if known."""


class ExecutionStarter(Protocol):
    """Starts executions (the execution service)."""

    async def start(self, request: StartRequest) -> None:
        """Hand a run over; ``Unavailable`` when nothing accepts it."""


class ChangePublisher(Protocol):
    """Tells other replicas that a workflow changed."""

    async def publish(self, workflow_id: str) -> None: ...
