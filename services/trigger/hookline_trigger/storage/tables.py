"""The tables the trigger service reads and writes, as created by the migrations in
hookline_runtime/database/migrations/versions/ (0001_initial, 0002_credentials; the migrations are the
source of truth)."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["credentials", "metadata", "schedule_ticks", "workflows"]

metadata = sa.MetaData()

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("trigger_type", sa.String(16), nullable=False),
    sa.Column("webhook_method", sa.String(8), nullable=True),
    sa.Column("webhook_path", sa.String(512), nullable=True),
    sa.Column("definition", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

schedule_ticks = sa.Table(
    "schedule_ticks",
    metadata,
    sa.Column("workflow_id", sa.String(36), primary_key=True),
    sa.Column("tick_at", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_by", sa.String(64), nullable=False),
)

credentials = sa.Table(
    "credentials",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("sealed", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
