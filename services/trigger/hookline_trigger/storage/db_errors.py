"""Database failures become ``Unavailable``; UTC for the timestamps SQLite hands back
without a zone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hookline_runtime.errors import Unavailable
from hookline_runtime.logs import get_logger

__all__ = ["as_utc", "database_errors"]

log = get_logger(__name__)


@contextmanager
def database_errors(action: str) -> Iterator[None]:
    """Turn connection and driver errors into ``Unavailable``; integrity errors pass."""
    try:
        yield
    except IntegrityError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        log.error("Database error", action=action, error=str(exc))
        raise Unavailable(f"the database is unavailable ({action})") from exc


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
