"""Natural dates as organizers type them, in French and English, in the deployment's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.activities.dates import normalise, parse_when, week_bounds

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # Wednesday 25 November, 11:00 in Paris


@pytest.mark.parametrize(("typed", "expected"), [
    ("samedi 15h", datetime(2026, 11, 28, 15, 0)),
    ("Samedi à 15H", datetime(2026, 11, 28, 15, 0)),
    ("12/12 à 18h30", datetime(2026, 12, 12, 18, 30)),
    ("le 12/12 à 18h30", datetime(2026, 12, 12, 18, 30)),
    ("demain 10h", datetime(2026, 11, 26, 10, 0)),
    ("next friday 7pm", datetime(2026, 11, 27, 19, 0)),
    ("vendredi prochain 19h", datetime(2026, 11, 27, 19, 0)),
    ("lundi 9h15", datetime(2026, 11, 30, 9, 15)),
    ("12 décembre 18:30", datetime(2026, 12, 12, 18, 30)),
    ("tomorrow 10am", datetime(2026, 11, 26, 10, 0)),
    ("dimanche midi", datetime(2026, 11, 29, 12, 0)),
    ("1/2 à 9h", datetime(2027, 2, 1, 9, 0)),
])
def test_french_and_english_dates_are_read_in_local_time(typed: str, expected: datetime) -> None:
    found = parse_when(typed, NOW, PARIS)
    assert found.problem is None
    assert found.moment == expected.replace(tzinfo=PARIS)


def test_summer_time_is_respected() -> None:
    found = parse_when("12/7 à 15h", NOW, PARIS)
    assert found.moment is not None and found.moment.utcoffset().total_seconds() == 7200


@pytest.mark.parametrize(("typed", "problem"), [
    ("hier 10h", "past"),
    ("25/11 à 10h", "past"),  # today, one hour ago: dateparser would roll it to next year
    ("31/02 à 10h", "impossible"),
    ("12/13 à 10h", "impossible"),
    ("blabla", "unknown"),
    ("", "unknown"),
    ("demain", "no_time"),
    ("12/12/2028 10h", "too_far"),
])
def test_bad_dates_say_what_is_wrong(typed: str, problem: str) -> None:
    assert parse_when(typed, NOW, PARIS) == parse_when(typed, NOW, PARIS)
    found = parse_when(typed, NOW, PARIS)
    assert found.moment is None and found.problem == problem


def test_normalise_turns_french_hours_into_clock_times() -> None:
    assert normalise("Samedi à 15h") == "samedi 15:00"
    assert normalise("12/12 à 18h30") == "12/12 18:30"
    assert normalise("in a week at 3pm") == "in a week 3pm"


def test_week_bounds_are_monday_to_monday_local() -> None:
    start, end = week_bounds(datetime(2026, 11, 29, 22, 30, tzinfo=UTC), PARIS)  # Sunday 23:30 in Paris
    assert start == datetime(2026, 11, 23, tzinfo=PARIS) and end == datetime(2026, 11, 30, tzinfo=PARIS)
