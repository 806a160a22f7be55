"""The check-in decisions, without a database: quiet hours, the daily pass, follow-ups, whom to tell,
button payloads and "until when?"."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.checkins.decisions import (
    STAGES,
    NextStep,
    OpenCheckin,
    QuietHours,
    Until,
    UntilProblem,
    care_time,
    escalation_order,
    follow_up,
    is_quiet,
    ladder_total,
    next_allowed,
    next_on_ladder,
    parse_payload,
    parse_until,
    pass_is_due,
    payload,
    quiet_cutoff,
    says_fine,
    unfit,
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
    kept = escalation_order(1, None, False, [1], [1, 4], [], with_self=True)
    assert kept == [("host", 1), ("moderator", 4)]  # for the caller to pass over, and say so


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


# ---- the clock change ---------------------------------------------------------------------------------


def test_the_pass_is_never_more_than_24_hours_apart_across_the_clock_change() -> None:
    """Reproduces: on 25 October 2026 (clocks back at 03:00) 10:00 came 25 hours after the day
    before's 10:00, so someone who crossed the threshold just after a pass waited 25 hours."""
    due = pass_is_due("10:00", NIGHT, PARIS)
    last = paris(24, 10, month=10)  # 08:00 UTC, summer time
    assert not due(last, paris(25, 8, 59, month=10))  # quiet hours still
    assert due(last, paris(25, 9, month=10))  # 24 hours later (09:00 winter time)
    assert due(paris(25, 9, month=10), paris(25, 10, month=10))  # and the usual 10:00 pass that day too
    assert not due(paris(25, 10, month=10), paris(26, 9, 30, month=10))  # then daily at 10:00 again


def test_the_threshold_counts_calendar_days_or_hours_whichever_comes_first() -> None:
    """Ten days before 30 October 10:00 (winter) is 20 October 10:00 (summer): 241 hours. The earlier
    of the two counts holds, so across the change nobody is asked an hour later than 240 hours."""
    now = paris(30, 10, month=10)
    assert quiet_cutoff(now, 10, PARIS) == max(now - timedelta(days=10), paris(20, 10, month=10))
    assert quiet_cutoff(now, 10, PARIS) == now - timedelta(days=10)
    spring = paris(2, 10, month=4)  # 29 March: clocks forward; 23 hours that day
    assert quiet_cutoff(spring, 10, PARIS) == paris(23, 10, month=3)  # ten calendar days: 239 hours
    assert quiet_cutoff(paris(25, 10), 10, PARIS) == paris(15, 10)  # an ordinary day: both agree


def test_a_check_in_message_at_night_is_held_until_the_morning() -> None:
    assert care_time(paris(25, 21, 13), NIGHT, PARIS) == paris(26, 9)
    assert care_time(paris(26, 1, 6), NIGHT, PARIS) == paris(26, 9)
    assert care_time(paris(26, 9), NIGHT, PARIS) is None
    assert care_time(paris(25, 20, 59), NIGHT, PARIS) is None


# ---- after an escalation ------------------------------------------------------------------------------


def test_an_escalated_check_in_closes_when_they_show_life() -> None:
    """Reproduces: an escalated check-in ignored the person's later messages and stayed open for good."""
    asked = paris(25, 10)
    escalated = OpenCheckin(asked, True, asked + timedelta(hours=53), True, True, asked + timedelta(hours=72))
    assert follow_up(escalated, asked + timedelta(hours=54), DELAY, NIGHT, PARIS) == "alive"
    at_night = OpenCheckin(asked, True, paris(27, 23), True, True, asked + timedelta(hours=72))
    assert follow_up(at_night, paris(27, 23, 15), DELAY, NIGHT, PARIS) == "alive"  # closed; the all-clear waits


def test_an_escalated_check_in_moves_up_the_ladder_when_the_stage_runs_out() -> None:
    asked = paris(25, 10)
    until = asked + timedelta(hours=72)
    silent = OpenCheckin(asked, True, asked - timedelta(days=11), True, True, until)
    assert follow_up(silent, until - timedelta(minutes=1), DELAY, NIGHT, PARIS) is None
    assert follow_up(silent, until, DELAY, NIGHT, PARIS) == "next"
    assert follow_up(OpenCheckin(asked, True, None, True, True, paris(28, 22)), paris(28, 23), DELAY, NIGHT,
                     PARIS) is None  # not at night: the next person is told in the morning
    assert follow_up(OpenCheckin(asked, True, None, True, True, None), paris(28, 10), DELAY, NIGHT, PARIS) == "next"


def test_who_cannot_be_told() -> None:
    """Reproduces: a quiet only-moderator was alerted about herself; contacts away or quiet for 10+
    days were told."""
    now, cutoff = paris(25, 12), paris(15, 12)
    fresh = paris(25, 9)
    assert unfit(5, 5, None, True, None, fresh, now, cutoff) == "self"
    assert unfit(6, 5, 6, True, None, fresh, now, cutoff) == "helper"
    assert unfit(7, 5, None, False, None, fresh, now, cutoff) == "unreachable"
    assert unfit(7, 5, None, True, paris(30, 0), fresh, now, cutoff) == "away"
    assert unfit(7, 5, None, True, paris(20, 0), fresh, now, cutoff) is None  # back already
    assert unfit(7, 5, None, True, None, paris(14, 12), now, cutoff) == "quiet"
    assert unfit(7, 5, None, True, None, None, now, cutoff) == "quiet"
    assert unfit(7, 5, None, True, None, fresh, now, cutoff) is None


LADDER = [("contact", 7), ("host", 3), ("moderator", 4), ("moderator", 6), ("admin", 5)]


def test_the_ladder_goes_stage_by_stage_once_each() -> None:
    assert next_on_ladder(LADDER, None, set(), {}) == NextStep("contact", 7)
    assert next_on_ladder(LADDER, "contact", {7}, {}) == NextStep("host", 3)
    assert next_on_ladder(LADDER, "host", {7, 3}, {}) == NextStep("moderator", 4)
    assert next_on_ladder(LADDER, "moderator", {7, 3, 4}, {}) == NextStep("admin", 5)  # one moderator, once
    assert next_on_ladder(LADDER, "admin", {7, 3, 4, 5}, {}) == NextStep("services", None)
    assert next_on_ladder(LADDER, "services", set(), {}) == NextStep("services", None)


def test_the_ladder_passes_over_who_cannot_act_and_says_why() -> None:
    step = next_on_ladder(LADDER, None, set(), {7: "away", 3: "quiet", 4: "self"})
    assert step == NextStep("moderator", 6, (("contact", 7, "away"), ("host", 3, "quiet"), ("moderator", 4, "self")))
    assert next_on_ladder(LADDER, "host", {4}, {}) == NextStep("moderator", 6)  # 4 was alerted already
    everyone = {7: "away", 3: "away", 4: "quiet", 6: "unreachable", 5: "self"}
    assert next_on_ladder(LADDER, None, set(), everyone).who is None


def test_the_ladder_has_a_total_time() -> None:
    """48 h, then four stages of 24 h, each possibly pushed past a 12-hour night."""
    total = ladder_total(DELAY, timedelta(hours=24), NIGHT)
    assert total == timedelta(hours=48 + 12 + 4 * (24 + 12))
    assert STAGES[-1] == "services"
    assert ladder_total(DELAY, timedelta(hours=24), QuietHours.parse("00:00", "00:00")) == timedelta(hours=48 + 96)


# ---- a typed answer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "ça va", "Ça va !", "ca va", "oui ça va merci", "Je vais bien.", "tout va bien 🙂", "Tout va très bien",
    "ok", "OK 👍", "okay", "I'm fine", "I’m fine, thanks", "i am fine", "ça va, et vous ?",
])
def test_typed_i_am_fine(text: str) -> None:
    assert says_fine(text)


@pytest.mark.parametrize("text", [
    "ça va pas", "ça va pas du tout", "non", "pas bien", "je ne vais pas bien", "I'm not fine", "", "merci",
    "ok mais j'ai besoin d'aide", "au secours", "tout va bien sauf ma jambe", "x" * 500,
])
def test_anything_else_is_not_taken_for_i_am_fine(text: str) -> None:
    assert not says_fine(text)
