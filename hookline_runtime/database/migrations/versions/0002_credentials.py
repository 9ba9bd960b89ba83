"""Credentials: name, type and the values sealed with HOOKLINE_ENCRYPTION_KEY.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        # version byte, nonce, AES-GCM ciphertext and tag (never the values in clear)
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_credentials_name", "credentials", ["name"], unique=True)
    op.create_index("ix_credentials_created", "credentials", ["created_at", "id"])


def downgrade() -> None:
    op.drop_table("credentials")
