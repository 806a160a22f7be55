"""The one source of time. Tests move a ``FakeClock`` to live a month of a neighbourhood in a second."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in UTC."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """Time that only moves when a test says so. ``sleep`` yields without waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class ShiftedClock(SystemClock):
    """Real time moved forward by hand: the console's clock, so someone trying the bot can live the
    eleven days of a check-in in a minute (``/clock +11d``). Only a platform that declares
    ``Capabilities.move_clock`` (the console) lets anyone move it."""

    def __init__(self, offset: timedelta | None = None) -> None:
        self.offset = offset or timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.offset += delta if delta is not None else timedelta(**kwargs)
        return self.now()


_SHIFT_UNITS = {"w": 7 * 86400, "sem": 7 * 86400, "d": 86400, "j": 86400, "h": 3600, "m": 60, "min": 60}
_SHIFT = re.compile(r"^\+?((?:\d{1,4}\s*(?:sem|min|w|d|j|h|m)\s*)+)(?:\s+(\d{1,2})[:h](\d{2}))?$")


def parse_shift(text: str, now: datetime, zone: tzinfo) -> timedelta | None:
    """"+11d", "+2h30m", "+1w", French "+11j" / "+1sem"; an optional "10:00" then goes on to the next
    such local time (so a check-in pass outside quiet hours can be reached on purpose). None if the
    text is not such a shift, or goes back, or further than a year and a month."""
    match = _SHIFT.match(text.strip().lower())
    if not match:
        return None
    seconds = sum(int(n) * _SHIFT_UNITS[unit] for n, unit in re.findall(r"(\d+)\s*(sem|min|w|d|j|h|m)", match.group(1)))
    delta = timedelta(seconds=seconds)
    if match.group(2) is not None:
        hour, minute = int(match.group(2)), int(match.group(3))
        if hour > 23 or minute > 59:
            return None
        target = (now + delta).astimezone(zone)
        wanted = target.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if wanted < target:
            wanted += timedelta(days=1)
        delta += wanted - target
    return delta if timedelta(0) < delta <= timedelta(days=400) else None


def to_iso(moment: datetime) -> str:
    """Timestamps are stored as ISO 8601 UTC text: sortable, readable in sqlite3, portable to PostgreSQL."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
