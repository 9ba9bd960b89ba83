"""Workflows, executions and schedule ticks.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflows",
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
    op.create_index("ix_workflows_name", "workflows", ["name"])
    op.create_index("ix_workflows_created", "workflows", ["created_at", "id"])
    # At most one active workflow owns a webhook method+path.
    op.create_index(
        "ux_workflows_active_webhook",
        "workflows",
        ["webhook_method", "webhook_path"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workflow_id", sa.String(36), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
    )
    op.create_index("ix_executions_started", "executions", ["started_at", "id"])
    op.create_index("ix_executions_workflow", "executions", ["workflow_id", "started_at", "id"])
    op.create_index("ix_executions_status", "executions", ["status", "started_at", "id"])
    op.create_table(
        "schedule_ticks",
        sa.Column("workflow_id", sa.String(36), primary_key=True),
        sa.Column("tick_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schedule_ticks")
    op.drop_table("executions")
    op.drop_table("workflows")
