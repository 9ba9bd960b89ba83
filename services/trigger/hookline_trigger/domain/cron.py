"""Cron ticks of a schedule trigger, computed by croniter in the schedule's time zone
(5 fields, or 6 with a leading seconds field). Ticks are returned in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter

__all__ = ["CronTicks"]


class CronTicks:
    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        self._expression = expression
        self._with_seconds = len(expression.split()) == 6
        self._zone = ZoneInfo(timezone)

    def _iter(self, start: datetime) -> croniter:
        return croniter(
            self._expression,
            start.astimezone(self._zone),
            second_at_beginning=self._with_seconds,
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first tick strictly after ``moment``."""
        tick: datetime = self._iter(moment).get_next(datetime)
        return tick.astimezone(UTC)

    def count_between(self, start: datetime, end: datetime, *, cap: int) -> int:
        """How many ticks fall in (start, end], counting at most ``cap``."""
        ticks = self._iter(start)
        count = 0
        while count < cap and ticks.get_next(datetime) <= end:
            count += 1
        return count
