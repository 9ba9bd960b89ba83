"""``WorkflowStore`` on SQLAlchemy (SQLite or PostgreSQL).

An active workflow's webhook method+path is checked inside the writing transaction,
and the partial unique index ``ux_workflows_active_webhook`` catches the race two
concurrent writers could still run into; both end as ``WebhookRouteTaken``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookline_runtime.errors import AlreadyExists, NotFound
from hookline_trigger.domain.errors import WebhookRouteTaken
from hookline_trigger.domain.paging import PageKey
from hookline_trigger.domain.records import WorkflowRecord
from hookline_trigger.storage.db_errors import as_utc, database_errors
from hookline_trigger.storage.tables import workflows

__all__ = ["SqlWorkflowStore"]

_TRIGGER_TYPES_WITH_INDEX = ("webhook", "schedule")


def _row(record: WorkflowRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "active": record.active,
        "trigger_type": record.trigger_type,
        "webhook_method": record.webhook_method,
        "webhook_path": record.webhook_path,
        "definition": record.definition,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _record(row: sa.Row[Any]) -> WorkflowRecord:
    return WorkflowRecord(
        id=row.id,
        name=row.name,
        active=row.active,
        trigger_type=row.trigger_type,
        webhook_method=row.webhook_method,
        webhook_path=row.webhook_path,
        definition=row.definition,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class SqlWorkflowStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _route_owner(
        self, conn: AsyncConnection, record: WorkflowRecord
    ) -> WebhookRouteTaken | None:
        if not record.active or record.webhook_path is None or record.webhook_method is None:
            return None
        query = (
            sa.select(workflows.c.id, workflows.c.name)
            .where(
                workflows.c.active.is_(True),
                workflows.c.webhook_method == record.webhook_method,
                workflows.c.webhook_path == record.webhook_path,
                workflows.c.id != record.id,
            )
            .limit(1)
        )
        owner = (await conn.execute(query)).first()
        if owner is None:
            return None
        return WebhookRouteTaken(
            method=record.webhook_method,
            path=record.webhook_path,
            owner_id=owner.id,
            owner_name=owner.name,
        )

    async def _conflict(self, record: WorkflowRecord) -> AlreadyExists:
        """The error for an IntegrityError, read after its transaction rolled back."""
        async with self._engine.connect() as conn:
            taken = await self._route_owner(conn, record)
        return taken or AlreadyExists(f"workflow {record.id} conflicts with a stored one")

    async def insert(self, record: WorkflowRecord) -> None:
        with database_errors("insert workflow"):
            try:
                async with self._engine.begin() as conn:
                    taken = await self._route_owner(conn, record)
                    if taken is not None:
                        raise taken
                    await conn.execute(workflows.insert().values(_row(record)))
            except IntegrityError:
                raise await self._conflict(record) from None

    async def update(self, record: WorkflowRecord) -> None:
        with database_errors("update workflow"):
            try:
                async with self._engine.begin() as conn:
                    taken = await self._route_owner(conn, record)
                    if taken is not None:
                        raise taken
                    values = _row(record)
                    del values["id"], values["created_at"]
                    result = await conn.execute(
                        workflows.update().where(workflows.c.id == record.id).values(values)
                    )
                    if result.rowcount == 0:
                        raise NotFound(f"no workflow with id {record.id!r}")
            except IntegrityError:
                raise await self._conflict(record) from None

    async def get(self, workflow_id: str) -> WorkflowRecord | None:
        with database_errors("read workflow"):
            async with self._engine.connect() as conn:
                row = (
                    await conn.execute(sa.select(workflows).where(workflows.c.id == workflow_id))
                ).first()
        return _record(row) if row is not None else None

    async def by_name(self, name: str) -> WorkflowRecord | None:
        query = (
            sa.select(workflows)
            .where(workflows.c.name == name)
            .order_by(workflows.c.created_at, workflows.c.id)
            .limit(1)
        )
        with database_errors("read workflow"):
            async with self._engine.connect() as conn:
                row = (await conn.execute(query)).first()
        return _record(row) if row is not None else None

    async def delete(self, workflow_id: str) -> bool:
        with database_errors("delete workflow"):
            async with self._engine.begin() as conn:
                result = await conn.execute(workflows.delete().where(workflows.c.id == workflow_id))
        return bool(result.rowcount)

    async def page(self, after: PageKey | None, limit: int) -> list[WorkflowRecord]:
        query = sa.select(workflows).order_by(workflows.c.created_at, workflows.c.id).limit(limit)
        if after is not None:
            query = query.where(
                sa.or_(
                    workflows.c.created_at > after.created_at,
                    sa.and_(workflows.c.created_at == after.created_at, workflows.c.id > after.id),
                )
            )
        with database_errors("list workflows"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        return [_record(row) for row in rows]

    async def active_triggers(self) -> list[WorkflowRecord]:
        query = sa.select(workflows).where(
            workflows.c.active.is_(True),
            workflows.c.trigger_type.in_(_TRIGGER_TYPES_WITH_INDEX),
        )
        with database_errors("load active triggers"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        return [_record(row) for row in rows]

    async def version(self) -> tuple[int, datetime | None]:
        query = sa.select(sa.func.count(), sa.func.max(workflows.c.updated_at))
        with database_errors("check workflows for changes"):
            async with self._engine.connect() as conn:
                count, latest = (await conn.execute(query)).one()
        return int(count), as_utc(latest) if latest is not None else None

    async def active_with_credentials(self) -> list[WorkflowRecord]:
        query = sa.select(workflows).where(
            workflows.c.active.is_(True), workflows.c.definition.contains('"credential"')
        )
        with database_errors("find workflows using credentials"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        return [_record(row) for row in rows]
