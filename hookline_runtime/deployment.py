"""The deployment's id: one random id per database, made by migration 0003.

Every process of one deployment reads the same id from its database, so names it
shares in Redis with its own replicas, and with no one else, can carry it — two
deployments on one Redis (staging and production, say) keep apart.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["deployment", "deployment_id"]

deployment = sa.Table(
    "deployment",
    sa.MetaData(),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


async def deployment_id(engine: AsyncEngine) -> str:
    """The id of the deployment ``engine``'s database belongs to (migrated first)."""
    async with engine.connect() as conn:
        found = (await conn.execute(sa.select(deployment.c.id).limit(1))).scalar_one()
    return str(found)
