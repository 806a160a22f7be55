"""Natural dates typed by organizers ("samedi 15h", "12/12 à 18h30", "next friday 7pm") → a moment.

dateparser does the hard part, in French and English, relative to "now" in the deployment's time zone
and preferring the future. A few French habits trip it, so the text is normalised first:
- "15h", "18h30", "9 h 15" are read by dateparser as durations ("in 15 hours"): they become "15:00";
- "vendredi prochain" is not understood, while "vendredi" with PREFER_DATES_FROM=future already means
  the next Friday: "prochain(e)" is dropped;
- "à" / "a" before a time and "le" / "at" / "on" are noise words it sometimes stumbles on.
An answer without an hour ("demain") would silently get the current time: it is refused instead,
and so are past moments, impossible days ("31/02") and moments more than a year ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import dateparser

Problem = Literal["no_time", "past", "impossible", "too_far", "unknown"]
MAX_AHEAD = timedelta(days=366)

_HOUR_MINUTES = re.compile(r"\b(\d{1,2})\s*h\s*(\d{2})\b")
_HOUR = re.compile(r"\b(\d{1,2})\s*h\b")
_NOISE = re.compile(r"\b(prochaine?|le|at|on)\b|\b(à|a)\s+(?=\d)")
_HAS_TIME = re.compile(r"\d{1,2}:\d{2}|\d\s*(am|pm)\b|\b(midi|minuit|noon|midnight)\b")
_DAY_MONTH = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?\b")
_YEAR = re.compile(r"\b\d{4}\b")

_SETTINGS = {"PREFER_DATES_FROM": "future", "DATE_ORDER": "DMY", "RETURN_AS_TIMEZONE_AWARE": False}


@dataclass(frozen=True)
class When:
    """Either a moment (aware, in the deployment's zone) or the reason it could not be one."""

    moment: datetime | None = None
    problem: Problem | None = None


def normalise(text: str) -> str:
    """The small rewrites dateparser needs for French habits (see the module docstring)."""
    text = text.lower().strip()
    text = _HOUR_MINUTES.sub(lambda m: f"{int(m.group(1))}:{m.group(2)}", text)
    text = _HOUR.sub(lambda m: f"{int(m.group(1))}:00", text)
    text = _NOISE.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def _impossible_day(text: str) -> bool:
    """"31/02" or "12/13": dateparser gives up or guesses; the organizer deserves a precise answer."""
    for match in _DAY_MONTH.finditer(text):
        day, month = int(match.group(1)), int(match.group(2))
        year = int(match.group(3)) if match.group(3) else 2024  # a leap year: 29/02 is possible
        if year < 100:
            year += 2000
        try:
            datetime(year, month, day)
        except ValueError:
            return True
    return False


def parse_when(text: str, now: datetime, zone: ZoneInfo) -> When:
    """Read a start time typed by an organizer; ``now`` is the core clock's aware UTC time."""
    cleaned = normalise(text[:100])
    if not cleaned:
        return When(problem="unknown")
    if _impossible_day(cleaned):
        return When(problem="impossible")
    base = now.astimezone(zone).replace(tzinfo=None)
    parsed = dateparser.parse(cleaned, languages=["fr", "en"], settings={**_SETTINGS, "RELATIVE_BASE": base})
    if parsed is None:
        return When(problem="unknown")
    if not _HAS_TIME.search(cleaned):
        return When(problem="no_time")
    moment = parsed.replace(tzinfo=zone, second=0, microsecond=0)
    if moment <= now:
        return When(problem="past")
    if moment - now > MAX_AHEAD or (moment - now > timedelta(days=300) and not _YEAR.search(cleaned)):
        # "25/11 à 10h" typed on 25/11 at 11:00 is rolled to next year by PREFER_DATES_FROM=future:
        # without an explicit year that is almost surely a day already past.
        return When(problem="past" if not _YEAR.search(cleaned) else "too_far")
    return When(moment=moment)


def week_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00, local time, around ``moment``: the weekly cap's week."""
    local = moment.astimezone(zone)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday, (monday + timedelta(days=7)).replace(tzinfo=zone)
