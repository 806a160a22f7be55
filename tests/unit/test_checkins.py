"""The check-in decisions, without a database: quiet hours, the daily pass, follow-ups, whom to tell,
button payloads and "until when?"."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.checkins.decisions import (
    OpenCheckin,
    QuietHours,
    Until,
    UntilProblem,
    escalation_order,
    follow_up,
    is_quiet,
    next_allowed,
    parse_payload,
    parse_until,
    pass_is_due,
    payload,
)

PARIS = ZoneInfo("Europe/Paris")
NIGHT = QuietHours.parse("21:00", "09:00")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # Wednesday, 11:00 in Paris
DELAY = timedelta(hours=48)


def paris(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


# ---- quiet hours ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("local", "quiet"), [
    (time(20, 59), False), (time(21, 0), True), (time(23, 59), True), (time(0, 0), True), (time(8, 59), True),
    (time(9, 0), False), (time(12, 0), False),
])
def test_quiet_hours_wrap_past_midnight(local: time, quiet: bool) -> None:
    assert NIGHT.contains(local) is quiet


def test_quiet_hours_within_a_day_and_none_at_all() -> None:
    lunch = QuietHours.parse("12:00", "14:00")
    assert lunch.contains(time(13, 0)) and not lunch.contains(time(14, 0)) and not lunch.contains(time(11, 59))
    assert not QuietHours.parse("00:00", "00:00").contains(time(3, 0))


def test_quiet_hours_are_local_time_whatever_the_season() -> None:
    assert is_quiet(datetime(2026, 7, 1, 19, 30, tzinfo=UTC), NIGHT, PARIS)  # 21:30 in summer (UTC+2)
    assert not is_quiet(datetime(2026, 12, 1, 19, 30, tzinfo=UTC), NIGHT, PARIS)  # 20:30 in winter (UTC+1)


def test_next_allowed_moves_a_night_moment_to_the_morning() -> None:
    assert next_allowed(paris(25, 23), NIGHT, PARIS) == paris(26, 9)
    assert next_allowed(paris(26, 3), NIGHT, PARIS) == paris(26, 9)
    assert next_allowed(paris(26, 10), NIGHT, PARIS) == paris(26, 10)


# ---- the daily pass -------------------------------------------------------------------------------


def test_the_pass_runs_daily_at_its_time() -> None:
    due = pass_is_due("10:00", NIGHT, PARIS)
    assert due(None, paris(25, 11))
    assert not due(paris(25, 10), paris(25, 20))
    assert due(paris(25, 10), paris(26, 10))


def test_a_pass_missed_overnight_waits_for_the_morning_and_runs_once() -> None:
    due = pass_is_due("10:00", NIGHT, PARIS)
    last = paris(20, 10)
    assert not due(last, paris(25, 23))  # back up at 23:00 after five days: not at night
    assert due(last, paris(26, 9))  # the first tick after quiet hours
    assert not due(paris(26, 9), paris(26, 9, 30))  # then not again before tomorrow's 10:00
    assert due(paris(26, 9), paris(26, 10))  # then the usual daily pass (no duplicates: nothing opens twice)


def test_a_pass_time_inside_quiet_hours_runs_when_they_end() -> None:
    due = pass_is_due("22:00", NIGHT, PARIS)
    assert not due(paris(24, 9), paris(25, 22, 30))
    assert due(paris(24, 9), paris(26, 9))


# ---- following up an open check-in --------------------------------------------------------------


def state(asked: datetime, *, reminded: bool = False, active: datetime | None = None, on: bool = True) -> OpenCheckin:
    return OpenCheckin(asked, reminded, active, on)


def test_follow_up_reminds_at_half_time_once_then_escalates() -> None:
    asked = paris(25, 10)
    assert follow_up(state(asked), asked + timedelta(hours=23), DELAY, NIGHT, PARIS) is None
    assert follow_up(state(asked), asked + timedelta(hours=24), DELAY, NIGHT, PARIS) == "remind"
    assert follow_up(state(asked, reminded=True), asked + timedelta(hours=30), DELAY, NIGHT, PARIS) is None
    assert follow_up(state(asked, reminded=True), asked + DELAY, DELAY, NIGHT, PARIS) == "escalate"
    assert follow_up(state(asked), asked + DELAY, DELAY, NIGHT, PARIS) == "escalate"  # late: no reminder first


def test_follow_up_waits_for_the_morning() -> None:
    asked = paris(25, 20)
    assert follow_up(state(asked), paris(27, 22), DELAY, NIGHT, PARIS) is None
    assert follow_up(state(asked), paris(28, 9), DELAY, NIGHT, PARIS) == "escalate"


def test_follow_up_closes_when_they_wrote_or_turned_check_ins_off() -> None:
    asked = paris(25, 10)
    assert follow_up(state(asked, active=asked + timedelta(hours=5)), asked + DELAY, DELAY, NIGHT, PARIS) == "alive"
    assert follow_up(state(asked, active=asked - timedelta(days=12)), asked + DELAY, DELAY, NIGHT, PARIS) == "escalate"
    assert follow_up(state(asked, on=False), asked + timedelta(hours=1), DELAY, NIGHT, PARIS) == "stopped"


# ---- whom to tell -------------------------------------------------------------------------------------


def test_the_ladder_prefers_a_confirmed_contact_then_host_then_moderator_then_admin() -> None:
    assert escalation_order(1, 7, True, [3], [4], [5]) == [("contact", 7), ("host", 3), ("moderator", 4), ("admin", 5)]
    assert escalation_order(1, 7, False, [3], [4], [5]) == [("host", 3), ("moderator", 4), ("admin", 5)]
    assert escalation_order(1, None, False, [], [4, 6], []) == [("moderator", 4), ("moderator", 6)]


def test_the_ladder_never_names_the_person_or_anyone_twice() -> None:
    assert escalation_order(1, 3, True, [1, 3], [3, 4], [4]) == [("contact", 3), ("moderator", 4)]
    assert escalation_order(1, None, False, [], [], []) == []


# ---- payloads ---------------------------------------------------------------------------------------


def test_payloads_round_trip_and_stay_short() -> None:
    text = payload("unreached", 999_999_999_999)
    assert parse_payload(text) == ("unreached", 999_999_999_999)
    assert len(text.encode()) <= 64
    with pytest.raises(ValueError):
        payload("explode", 1)


@pytest.mark.parametrize("forged", [
    "", "checkin", "checkin:", "checkin:fine", "checkin:fine:", "checkin:fine:-1", "checkin:fine:1.5",
    "checkin:FINE:1", "checkin:drop table:1", "rsvp:fine:1", "checkin:fine:1234567890123", "checkin:fine:١",
])
def test_forged_payloads_are_refused(forged: str) -> None:
    assert parse_payload(forged) is None


# ---- until when? --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "last_day"), [
    ("2 semaines", date(2026, 12, 9)),
    ("2 weeks", date(2026, 12, 9)),
    ("pendant 10 jours", date(2026, 12, 5)),
    ("une semaine", date(2026, 12, 2)),
    ("a week", date(2026, 12, 2)),
    ("3 sem.", date(2026, 12, 16)),
    ("1 mois", date(2026, 12, 25)),
    ("jusqu'au 15 décembre", date(2026, 12, 15)),
    ("Jusqu’au 15 décembre", date(2026, 12, 15)),
    ("until December 15", date(2026, 12, 15)),
    ("15/12", date(2026, 12, 15)),
    ("lundi", date(2026, 11, 30)),
    ("lundi prochain", date(2026, 11, 30)),
    ("monday", date(2026, 11, 30)),
    ("demain", date(2026, 11, 26)),
    ("1er janvier", date(2027, 1, 1)),
    ("fin décembre", date(2026, 12, 31)),
])
def test_until_reads_durations_and_natural_dates(text: str, last_day: date) -> None:
    assert parse_until(text, NOW, PARIS, "fr") == Until(last_day)


@pytest.mark.parametrize(("text", "reason"), [
    ("", "unknown"), ("   ", "unknown"), ("blah blah", "unknown"), ("quand les poules auront des dents", "unknown"),
    ("0 jours", "unknown"), ("x" * 200, "unknown"), ("hier", "past"), ("aujourd'hui", "past"),
    ("500 jours", "too-far"), ("60 weeks", "too-far"),
])
def test_until_refuses_with_a_reason(text: str, reason: str) -> None:
    assert parse_until(text, NOW, PARIS, "fr") == UntilProblem(reason)  # type: ignore[arg-type]


def test_until_counts_days_in_the_deployments_zone() -> None:
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # already the 26th in Paris
    assert parse_until("demain", late, PARIS, "fr") == Until(date(2026, 11, 27))
    assert Until(date(2026, 12, 9)).ends_at(PARIS) == datetime(2026, 12, 10, 0, 0, tzinfo=PARIS)
