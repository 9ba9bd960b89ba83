"""``CredentialStore`` on SQLAlchemy (SQLite or PostgreSQL): the ``credentials`` table
(migration 0002). Rows hold the values sealed; this adapter never sees them in clear.
The unique index on ``name`` settles two writers racing for one name."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline_runtime.errors import NotFound
from hookline_trigger.domain.credential_types import CredentialRecord
from hookline_trigger.domain.errors import CredentialNameTaken
from hookline_trigger.domain.paging import PageKey
from hookline_trigger.storage.db_errors import as_utc, database_errors
from hookline_trigger.storage.tables import credentials

__all__ = ["SqlCredentialStore"]


def _row(record: CredentialRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "type": record.type,
        "sealed": record.sealed,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _record(row: sa.Row[Any]) -> CredentialRecord:
    return CredentialRecord(
        id=row.id,
        name=row.name,
        type=row.type,
        sealed=bytes(row.sealed),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class SqlCredentialStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _name_taken(self, record: CredentialRecord) -> bool:
        query = sa.select(credentials.c.id).where(
            credentials.c.name == record.name, credentials.c.id != record.id
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(query.limit(1))).first() is not None

    async def insert(self, record: CredentialRecord) -> None:
        with database_errors("insert credential"):
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(credentials.insert().values(_row(record)))
            except IntegrityError:
                if await self._name_taken(record):
                    raise CredentialNameTaken(record.name) from None
                raise

    async def update(self, record: CredentialRecord) -> None:
        values = _row(record)
        del values["id"], values["created_at"]
        with database_errors("update credential"):
            try:
                async with self._engine.begin() as conn:
                    result = await conn.execute(
                        credentials.update().where(credentials.c.id == record.id).values(values)
                    )
            except IntegrityError:
                if await self._name_taken(record):
                    raise CredentialNameTaken(record.name) from None
                raise
        if result.rowcount == 0:
            raise NotFound(f"no credential with id {record.id!r}")

    async def get(self, credential_id: str) -> CredentialRecord | None:
        return await self._one(credentials.c.id == credential_id, "read credential")

    async def by_name(self, name: str) -> CredentialRecord | None:
        return await self._one(credentials.c.name == name, "read credential")

    async def _one(self, where: sa.ColumnElement[bool], action: str) -> CredentialRecord | None:
        with database_errors(action):
            async with self._engine.connect() as conn:
                row = (await conn.execute(sa.select(credentials).where(where))).first()
        return _record(row) if row is not None else None

    async def types_of(self, names: set[str]) -> dict[str, str]:
        query = sa.select(credentials.c.name, credentials.c.type).where(
            credentials.c.name.in_(sorted(names))
        )
        with database_errors("read credential types"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        return {row.name: row.type for row in rows}

    async def delete(self, credential_id: str) -> bool:
        with database_errors("delete credential"):
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    credentials.delete().where(credentials.c.id == credential_id)
                )
        return bool(result.rowcount)

    async def page(self, after: PageKey | None, limit: int) -> list[CredentialRecord]:
        query = (
            sa.select(credentials)
            .order_by(credentials.c.created_at, credentials.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(
                sa.or_(
                    credentials.c.created_at > after.created_at,
                    sa.and_(
                        credentials.c.created_at == after.created_at,
                        credentials.c.id > after.id,
                    ),
                )
            )
        with database_errors("list credentials"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        return [_record(row) for row in rows]
