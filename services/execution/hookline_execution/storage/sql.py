"""Saved execution records in the ``executions`` table (migration 0001), through
SQLAlchemy Core on any async engine (SQLite and PostgreSQL are tested)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hookline_execution.domain.ports import ExecutionPage, SavedRow
from hookline_execution.storage.cursor import decode_cursor, encode_cursor
from hookline_runtime.errors import Unavailable

__all__ = ["SqlExecutionStore", "executions"]

# What a database that is down or refusing raises (drivers may not wrap socket errors).
_DB_ERRORS = (SQLAlchemyError, OSError)

_metadata = sa.MetaData()

executions = sa.Table(
    "executions",
    _metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workflow_id", sa.String(36), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("record", sa.Text(), nullable=False),
)


def _utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SqlExecutionStore:
    """``ExecutionStore`` over an async SQLAlchemy engine. Database errors become
    ``Unavailable``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        dialect = engine.dialect.name
        self._upsert_insert = (
            postgresql.insert if dialect == "postgresql" else sqlite.insert
        )

    async def save(self, rows: list[SavedRow]) -> None:
        """One transaction for every row: ``INSERT … ON CONFLICT (id) DO UPDATE``."""
        if not rows:
            return
        insert = self._upsert_insert(executions)
        statement = insert.on_conflict_do_update(
            index_elements=[executions.c.id],
            set_={
                "status": insert.excluded.status,
                "finished_at": insert.excluded.finished_at,
                "record": insert.excluded.record,
            },
        )
        values = [
            {
                "id": row.execution_id,
                "workflow_id": row.workflow_id,
                "mode": row.mode,
                "status": row.status,
                "started_at": row.started_at,
                "finished_at": row.finished_at,
                "record": row.record_json.decode("utf-8"),
            }
            for row in rows
        ]
        try:
            async with self._engine.begin() as conn:
                await conn.execute(statement, values)
        except _DB_ERRORS as exc:
            raise Unavailable(f"cannot save {len(rows)} execution(s): {exc}") from exc

    async def insert(
        self,
        *,
        execution_id: str,
        workflow_id: str,
        mode: str,
        status: str,
        started_at: datetime,
        finished_at: datetime | None,
        record_json: bytes,
    ) -> None:
        statement = executions.insert().values(
            id=execution_id,
            workflow_id=workflow_id,
            mode=mode,
            status=status,
            started_at=started_at,
            finished_at=finished_at,
            record=record_json.decode("utf-8"),
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(statement)
        except _DB_ERRORS as exc:
            raise Unavailable(f"cannot save execution {execution_id}: {exc}") from exc

    async def update(
        self, *, execution_id: str, status: str, finished_at: datetime | None, record_json: bytes
    ) -> bool:
        statement = (
            executions.update()
            .where(executions.c.id == execution_id)
            .values(status=status, finished_at=finished_at, record=record_json.decode("utf-8"))
        )
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(statement)
        except _DB_ERRORS as exc:
            raise Unavailable(f"cannot save execution {execution_id}: {exc}") from exc
        return bool(result.rowcount)

    async def get(self, execution_id: str) -> bytes | None:
        statement = sa.select(executions.c.record).where(executions.c.id == execution_id)
        try:
            async with self._engine.connect() as conn:
                record = (await conn.execute(statement)).scalar_one_or_none()
        except _DB_ERRORS as exc:
            raise Unavailable(f"cannot read execution {execution_id}: {exc}") from exc
        return record.encode("utf-8") if record is not None else None

    async def list(
        self, *, workflow_id: str | None, status: str | None, limit: int, cursor: str | None
    ) -> ExecutionPage:
        c = executions.c
        statement = (
            sa.select(c.id, c.started_at, c.record)
            .order_by(c.started_at.desc(), c.id.desc())
            .limit(limit + 1)
        )
        if workflow_id is not None:
            statement = statement.where(c.workflow_id == workflow_id)
        if status is not None:
            statement = statement.where(c.status == status)
        if cursor is not None:
            after_started, after_id = decode_cursor(cursor)
            statement = statement.where(
                sa.or_(
                    c.started_at < after_started,
                    sa.and_(c.started_at == after_started, c.id < after_id),
                )
            )
        try:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(statement)).all()
        except _DB_ERRORS as exc:
            raise Unavailable(f"cannot list executions: {exc}") from exc
        page = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            next_cursor = encode_cursor(_utc(last.started_at), last.id)
        return ExecutionPage([row.record.encode("utf-8") for row in page], next_cursor)
