"""The interfaces the domain needs from the outside world; storage/ and the gRPC
client provide the adapters. Adapters raise ``hookline_runtime.errors`` exceptions
(``Unavailable`` when their backend cannot be reached)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from hookline_trigger.domain.credential_types import CredentialRecord
from hookline_trigger.domain.paging import PageKey
from hookline_trigger.domain.records import StartRequest, WorkflowRecord

__all__ = [
    "ChangePublisher",
    "CredentialStore",
    "CredentialUsers",
    "ExecutionStarter",
    "TickLedger",
    "WorkflowStore",
]


class WorkflowStore(Protocol):
    """Where workflows live."""

    async def insert(self, record: WorkflowRecord) -> None:
        """Store a new workflow; ``WebhookRouteTaken`` when an active workflow already
        owns its webhook method+path."""

    async def update(self, record: WorkflowRecord) -> None:
        """Overwrite a workflow; ``NotFound`` when it is gone, ``WebhookRouteTaken`` as
        for ``insert``."""

    async def get(self, workflow_id: str) -> WorkflowRecord | None: ...

    async def by_name(self, name: str) -> WorkflowRecord | None:
        """The oldest workflow with exactly this name, if any."""

    async def delete(self, workflow_id: str) -> bool:
        """True when a workflow was deleted."""

    async def page(self, after: PageKey | None, limit: int) -> list[WorkflowRecord]:
        """Up to ``limit`` workflows after ``after``, oldest first by (created_at, id)."""

    async def active_triggers(self) -> list[WorkflowRecord]:
        """Every active workflow whose trigger is a webhook or a schedule."""

    async def version(self) -> tuple[int, datetime | None]:
        """A cheap fingerprint of all workflows (how many, the latest ``updated_at``):
        it changes whenever a workflow is created, changed or deleted."""


class CredentialUsers(Protocol):
    """Finds the workflows that may use credentials (the workflow store)."""

    async def active_with_credentials(self) -> list[WorkflowRecord]:
        """Every active workflow whose definition may name a credential (at least
        those that do)."""


class CredentialStore(Protocol):
    """Where credentials live (their values sealed)."""

    async def insert(self, record: CredentialRecord) -> None:
        """Store a new credential; ``CredentialNameTaken`` when the name is used."""

    async def update(self, record: CredentialRecord) -> None:
        """Overwrite a credential; ``NotFound`` when it is gone, ``CredentialNameTaken``
        as for ``insert``."""

    async def get(self, credential_id: str) -> CredentialRecord | None: ...

    async def by_name(self, name: str) -> CredentialRecord | None: ...

    async def types_of(self, names: set[str]) -> dict[str, str]:
        """Name -> type of the stored credentials among ``names``."""

    async def delete(self, credential_id: str) -> bool:
        """True when a credential was deleted."""

    async def page(self, after: PageKey | None, limit: int) -> list[CredentialRecord]:
        """Up to ``limit`` credentials after ``after``, oldest first by (created_at, id)."""


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
