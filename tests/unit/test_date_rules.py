"""The ten event-date rules of issue 19, phrase by phrase, in French and English.

``now`` is Wednesday 2 December 2026, 10:00 in Paris. Each table is one rule; each phrase is how an
organizer might type it. Before the rewrite of ``bot.activities.dates`` dateparser read 79 % of French
and 92 % of English phrases of such a set: soir/matin/après-midi forms, "15 heures", ranges, same-day
weekdays, "en huit", "apres demain" and contradictions failed.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.activities.dates import parse_when

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=PARIS)  # Wednesday


def at(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def read(typed: str):
    return parse_when(typed, NOW.astimezone(ZoneInfo("UTC")), PARIS)


def check(typed: str, expected: datetime | str) -> None:
    found = read(typed)
    if isinstance(expected, str):
        assert (found.moment, found.problem) == (None, expected), typed
    else:
        assert (found.problem, found.moment) == (None, expected), typed


# ---- 1. past → refused as past --------------------------------------------------------------------
PAST = [
    "hier 10h", "hier à 18h", "hier soir 20h", "avant-hier 15h", "ce matin 9h", "ce matin à 8h30", "9h",
    "aujourd'hui 8h", "2/12 9h", "02/12/2026 9h30", "30/11 10h", "1er décembre 15h", "lundi dernier 10h",
    "mardi dernier à 18h", "le 2 à 9h", "15/11 14h", "12/12/2025 10h", "2025-12-12 18:30", "hier",
    "yesterday 10am", "yesterday at 6pm", "this morning at 9", "this morning 8am", "9am", "8:30",
    "today at 7am", "last monday 10am", "last friday at 3pm", "december 1st 3pm", "november 30 at 10am",
    "the day before yesterday at 5pm", "yesterday", "12/12/2025 10am", "9:15 am", "il y a 2 jours",
    "la semaine dernière", "last week", "2 days ago at 10am",
]


@pytest.mark.parametrize("typed", PAST)
def test_rule_1_a_past_moment_is_refused_as_past(typed: str) -> None:
    check(typed, "past")


# ---- 2. a time is required; midi / noon is 12:00 -------------------------------------------------------
NO_TIME = [
    "samedi", "demain", "ce soir", "samedi prochain", "jeudi en huit", "le 15 décembre", "12/12", "le 5",
    "demain soir", "demain matin", "cet après-midi", "après-demain", "dans 3 jours", "vendredi soir",
    "aujourd'hui", "saturday", "tomorrow", "tonight", "next friday", "december 15", "the 5th",
    "tomorrow evening", "this afternoon", "in 3 days", "sunday morning", "12/12/2026", "2026-12-12",
]


@pytest.mark.parametrize("typed", NO_TIME)
def test_rule_2_a_time_is_required(typed: str) -> None:
    check(typed, "no_time")


@pytest.mark.parametrize(("typed", "expected"), [
    ("midi", at(2, 12)), ("ce midi", at(2, 12)), ("demain midi", at(3, 12)), ("dimanche midi", at(6, 12)),
    ("samedi à midi", at(5, 12)), ("demain midi et demi", at(3, 12, 30)), ("le 12/12 à midi", at(12, 12)),
    ("noon", at(2, 12)), ("tomorrow noon", at(3, 12)), ("saturday at noon", at(5, 12)),
    ("12 noon on sunday", at(6, 12)), ("tomorrow at midday", at(3, 12)), ("minuit", at(3, 0)),
    ("ce soir à minuit", at(3, 0)), ("samedi à minuit", at(6, 0)),
])
def test_rule_2_noon_is_twelve(typed: str, expected: datetime) -> None:
    check(typed, expected)


# ---- 3. a bare weekday: its next occurrence, today only if the time is ahead ----------------------------
@pytest.mark.parametrize(("typed", "expected"), [
    ("mercredi 16h", at(2, 16)), ("mercredi 9h", at(9, 9)), ("mercredi 10h", at(9, 10)),
    ("mercredi à 10h30", at(2, 10, 30)), ("ce mercredi 18h", at(2, 18)), ("jeudi 15h", at(3, 15)),
    ("vendredi 19h", at(4, 19)), ("samedi 15h", at(5, 15)), ("dimanche 11h", at(6, 11)),
    ("lundi 9h15", at(7, 9, 15)), ("mardi 14h", at(8, 14)), ("sam. 15h", at(5, 15)), ("Samedi à 15H", at(5, 15)),
    ("le samedi à 15h", at(5, 15)), ("lun 18h", at(7, 18)),
    ("wednesday 4pm", at(2, 16)), ("wednesday 9am", at(9, 9)), ("wednesday at 10", at(9, 10)),
    ("this wednesday at 6pm", at(2, 18)), ("thursday 3pm", at(3, 15)), ("friday at 7pm", at(4, 19)),
    ("saturday 3:30pm", at(5, 15, 30)), ("sunday 11am", at(6, 11)), ("monday 9:15", at(7, 9, 15)),
    ("tuesday at 2pm", at(8, 14)), ("sat 3pm", at(5, 15)), ("on Friday at 7 pm", at(4, 19)),
    ("this saturday at 3pm", at(5, 15)), ("Wed 16h", at(2, 16)), ("this coming Saturday 3pm", at(5, 15)),
    ("coming saturday at 3pm", at(5, 15)), ("tomorrow @ 3pm", at(3, 15)), ("3pm Saturday", at(5, 15)),
])
def test_rule_3_a_bare_weekday_is_its_next_occurrence(typed: str, expected: datetime) -> None:
    check(typed, expected)


# ---- 4. "prochain" / "next": strictly after today, confirmed; "en huit": the one after --------------------
@pytest.mark.parametrize(("typed", "expected"), [
    ("jeudi prochain 15h", at(3, 15)), ("jeudi prochain à 15h", at(3, 15)), ("mercredi prochain 16h", at(9, 16)),
    ("mercredi prochain 9h", at(9, 9)), ("vendredi prochain 19h", at(4, 19)), ("samedi prochain 10h", at(5, 10)),
    ("dimanche prochain à midi", at(6, 12)), ("lundi prochain 18h", at(7, 18)),
    ("mardi prochain 14h30", at(8, 14, 30)), ("jeudi en huit 15h", at(10, 15)),
    ("mercredi en huit 10h", at(16, 10)), ("samedi en huit à 14h", at(12, 14)),
    ("samedi en quinze 14h", at(19, 14)), ("mardi de la semaine prochaine 10h", at(8, 10)),
    ("next thursday 3pm", at(3, 15)), ("next wednesday at 4pm", at(9, 16)), ("next wednesday 9am", at(9, 9)),
    ("next friday 7pm", at(4, 19)), ("next saturday at 10am", at(5, 10)), ("next sunday at noon", at(6, 12)),
    ("next monday 6pm", at(7, 18)), ("next tuesday 2:30pm", at(8, 14, 30)), ("friday week 7pm", at(11, 19)),
    ("monday next week at 10am", at(7, 10)), ("thursday after next at 3pm", at(10, 15)),
    ("jeudi en 8 15h", at(10, 15)),
])
def test_rule_4_next_weekday_is_strictly_after_today_and_confirmed(typed: str, expected: datetime) -> None:
    check(typed, expected)
    assert read(typed).ambiguous, "the wizard confirms these with the full date"


def test_rule_4_a_plain_weekday_needs_no_warning() -> None:
    assert not read("samedi 15h").ambiguous and not read("12/12 18h").ambiguous


# ---- 5. a time alone: today if still ahead, else past ---------------------------------------------------
@pytest.mark.parametrize(("typed", "expected"), [
    ("15h", at(2, 15)), ("à 15h", at(2, 15)), ("vers 15h", at(2, 15)), ("15h précises", at(2, 15)),
    ("à partir de 15h", at(2, 15)), ("10h30", at(2, 10, 30)), ("18h", at(2, 18)), ("20h45", at(2, 20, 45)),
    ("17 heures", at(2, 17)), ("23h", at(2, 23)), ("aujourd'hui 15h", at(2, 15)), ("aujourd’hui à 17h", at(2, 17)),
    ("3pm", at(2, 15)), ("at 3pm", at(2, 15)), ("3 pm", at(2, 15)), ("3 p.m.", at(2, 15)), ("6:45pm", at(2, 18, 45)),
    ("11am", at(2, 11)), ("today 5pm", at(2, 17)), ("today at 16:00", at(2, 16)), ("14:00", at(2, 14)),
    ("10:30 am", at(2, 10, 30)), ("11:15", at(2, 11, 15)),
])
def test_rule_5_a_time_alone_is_today(typed: str, expected: datetime) -> None:
    check(typed, expected)


# ---- 6. day and month without a year; a day of month alone --------------------------------------------------
@pytest.mark.parametrize(("typed", "expected"), [
    ("1er janvier 10h", at(1, 10, month=1, year=2027)), ("le 1er janvier à 10h", at(1, 10, month=1, year=2027)),
    ("12 décembre 18h30", at(12, 18, 30)), ("le 12 décembre à 18h30", at(12, 18, 30)),
    ("24 décembre 20h", at(24, 20)), ("15 mars 14h", at(15, 14, month=3, year=2027)),
    ("14 juillet 21h", at(14, 21, month=7, year=2027)), ("3 févr. 9h", at(3, 9, month=2, year=2027)),
    ("12 déc. 18h", at(12, 18)), ("2 décembre 15h", at(2, 15)), ("Noël 18h", at(25, 18)),
    ("le 5 à 15h", at(5, 15)), ("le 31 à 10h", at(31, 10)), ("le 1er à 10h", at(1, 10, month=1, year=2027)),
    ("le 2 à 15h", at(2, 15)), ("le 12 à 18h30", at(12, 18, 30)),
    ("december 12 at 6:30pm", at(12, 18, 30)), ("dec 12th 7pm", at(12, 19)), ("12th December at 10am", at(12, 10)),
    ("the 12th of December at 10", at(12, 10)), ("january 1st at 10am", at(1, 10, month=1, year=2027)),
    ("May 12 at 7pm", at(12, 19, month=5, year=2027)), ("on the 5th at 3pm", at(5, 15)),
    ("the 5th at 3pm", at(5, 15)), ("on the 1st at 10am", at(1, 10, month=1, year=2027)),
    ("the 24th at 8pm", at(24, 20)), ("christmas day noon", at(25, 12)), ("new year's eve 8pm", at(31, 20)),
])
def test_rule_6_dates_without_a_year_are_the_next_ones(typed: str, expected: datetime) -> None:
    check(typed, expected)


# ---- 7. numeric dates: day/month, 20xx, / - . separators, ISO ------------------------------------------------
@pytest.mark.parametrize(("typed", "expected"), [
    ("12/05 7pm", at(12, 19, month=5, year=2027)), ("12/05 19h", at(12, 19, month=5, year=2027)),
    ("12/12 à 18h30", at(12, 18, 30)), ("le 12/12 à 18h30", at(12, 18, 30)), ("1/2 à 9h", at(1, 9, month=2, year=2027)),
    ("12-12 18h", at(12, 18)), ("12.12 19h", at(12, 19)), ("12/12/26 18h", at(12, 18)),
    ("12/05/27 10h", at(12, 10, month=5, year=2027)), ("12-12-2026 18h", at(12, 18)), ("12.12.26 18h", at(12, 18)),
    ("01/01/2027 10:00", at(1, 10, month=1, year=2027)), ("1/1/27 10h", at(1, 10, month=1, year=2027)),
    ("2026-12-12 18:30", at(12, 18, 30)), ("2027-01-15 09:00", at(15, 9, month=1, year=2027)),
    ("2026-12-12T18:30", at(12, 18, 30)), ("12/12 at 6pm", at(12, 18)), ("05/12 at 3pm", at(5, 15)),
    ("6/1 at 10am", at(6, 10, month=1, year=2027)), ("12.12 at 7.30pm", at(12, 19, 30)),
    ("3/12/2026 at 14:00", at(3, 14)),
])
def test_rule_7_numeric_dates_are_day_first(typed: str, expected: datetime) -> None:
    check(typed, expected)


# ---- 8. clock forms; a bare hour is 24-hour except in the evening / afternoon ----------------------------------
@pytest.mark.parametrize(("typed", "expected"), [
    ("samedi 15h", at(5, 15)), ("samedi 15h30", at(5, 15, 30)), ("samedi 15 h 30", at(5, 15, 30)),
    ("samedi 15:00", at(5, 15)), ("samedi 15 heures", at(5, 15)), ("samedi 15 heures 30", at(5, 15, 30)),
    ("samedi 15h00", at(5, 15)), ("samedi 15 h", at(5, 15)), ("samedi 17h 30", at(5, 17, 30)),
    ("samedi 3pm", at(5, 15)), ("samedi 6.30pm", at(5, 18, 30)), ("demain à 10", at(3, 10)),
    ("tomorrow at 10", at(3, 10)), ("tomorrow 10am", at(3, 10)), ("tomorrow at 7", at(3, 7)),
    ("ce soir 8h", at(2, 20)), ("ce soir à 8h30", at(2, 20, 30)), ("ce soir 20h", at(2, 20)),
    ("ce soir à 9", at(2, 21)), ("demain soir 7h", at(3, 19)), ("demain soir à 19h", at(3, 19)),
    ("samedi soir 8h", at(5, 20)), ("demain matin 9h", at(3, 9)), ("samedi matin 10h", at(5, 10)),
    ("cet après-midi 15h", at(2, 15)), ("cet apres midi 3h", at(2, 15)), ("ce midi", at(2, 12)),
    ("apres demain 14h", at(4, 14)), ("après-demain à 14h", at(4, 14)), ("aprés demain 14h", at(4, 14)),
    ("samedi 3 heures de l'après-midi", at(5, 15)), ("8 heures du soir", at(2, 20)),
    ("samedi 9h du matin", at(5, 9)), ("demain 10 heures du matin", at(3, 10)), ("tonight at 8", at(2, 20)),
    ("tonight 8pm", at(2, 20)), ("this evening at 7.30", at(2, 19, 30)), ("this afternoon at 3", at(2, 15)),
    ("tomorrow evening at 7", at(3, 19)), ("tomorrow morning at 9", at(3, 9)), ("tomorrow afternoon 3", at(3, 15)),
    ("saturday at 3 in the afternoon", at(5, 15)), ("day after tomorrow at 2pm", at(4, 14)),
    ("2pm tomorrow", at(3, 14)), ("at 3:30 pm on Saturday", at(5, 15, 30)), ("19.45", at(2, 19, 45)),
    ("jeudi à 14 heures trente", at(3, 14, 30)), ("samedi 15 heures et demie", at(5, 15, 30)),
    ("15h et quart", at(2, 15, 15)), ("tuesday night 8", at(8, 20)), ("samedi soir 8", at(5, 20)),
])
def test_rule_8_clock_forms(typed: str, expected: datetime) -> None:
    check(typed, expected)


# ---- 9. invalid or contradictory: refused with the reason ---------------------------------------------------------
@pytest.mark.parametrize(("typed", "problem"), [
    ("32/12 10h", "impossible"), ("30/02 10h", "impossible"), ("31/11 10h", "impossible"),
    ("12/13 à 10h", "impossible"),
    ("0/12 10h", "impossible"), ("32 décembre 10h", "impossible"), ("le 32 à 10h", "impossible"),
    ("31/04/2027 9h", "impossible"), ("february 30 at 10am", "impossible"), ("32/12 at 10am", "impossible"),
    ("25h", "bad_time"), ("samedi 25h", "bad_time"), ("15h75", "bad_time"), ("demain 15h61", "bad_time"),
    ("13pm", "bad_time"), ("saturday 13pm", "bad_time"), ("0am", "bad_time"), ("demain 24:30", "bad_time"),
    ("10:75 am", "bad_time"),
    ("vendredi 12 décembre 15h", "contradiction"), ("lundi 12/12 10h", "contradiction"),
    ("vendredi 12/12 18h", "contradiction"), ("dimanche 2026-12-12 10:00", "contradiction"),
    ("jeudi 5 15h", "contradiction"), ("friday december 12 7pm", "contradiction"),
    ("monday 12/12 at 10am", "contradiction"), ("demain samedi 10h", "contradiction"),
    ("tomorrow, friday, at 3pm", "contradiction"),
    ("samedi 15h ou dimanche 16h", "two"), ("samedi ou dimanche 15h", "two"), ("15h ou 16h", "two"),
    ("demain 10h ou 11h", "two"), ("le 5 ou le 6 à 15h", "two"), ("samedi et dimanche 15h", "two"),
    ("samedi 15h dimanche 16h", "two"), ("12/12 ou 13/12 à 18h", "two"), ("saturday 3pm or sunday 4pm", "two"),
    ("saturday or sunday at 3pm", "two"), ("3pm or 4pm", "two"), ("tomorrow at 10am or 11am", "two"),
    ("", "unknown"), ("   ", "unknown"), ("bientôt", "unknown"), ("bientot", "unknown"), ("soon", "unknown"),
    ("plus tard", "unknown"), ("later", "unknown"), ("prochainement", "unknown"), ("un jour", "unknown"),
    ("one day", "unknown"), ("blabla", "unknown"), ("la fête des voisins", "unknown"), ("bientôt 15h", "unknown"),
    ("soon at 3pm", "unknown"), ("asap", "unknown"), ("12/12/2028 10h", "too_far"),
])
def test_rule_9_invalid_and_contradictory_answers_say_why(typed: str, problem: str) -> None:
    check(typed, problem)


def test_rule_9_a_contradiction_names_the_real_day() -> None:
    found = read("vendredi 12 décembre 15h")
    assert found.day is not None and found.day.weekday() == 5  # the 12th is a Saturday


# ---- 10. a range: its start, and its end ---------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "start", "end"), [
    ("samedi de 10h à 12h", at(5, 10), at(5, 12)), ("samedi 10h-12h", at(5, 10), at(5, 12)),
    ("samedi 10h - 12h", at(5, 10), at(5, 12)), ("samedi de 10 à 12h", at(5, 10), at(5, 12)),
    ("samedi 14h à 17h", at(5, 14), at(5, 17)), ("de 14h jusqu'à 17h demain", at(3, 14), at(3, 17)),
    ("12/12 de 18h à 20h30", at(12, 18), at(12, 20, 30)), ("samedi 15:00-17:00", at(5, 15), at(5, 17)),
    ("ce soir de 8h à 10h", at(2, 20), at(2, 22)), ("samedi de 22h à 1h", at(5, 22), at(6, 1)),
    ("saturday 2-5pm", at(5, 14), at(5, 17)), ("saturday from 2pm to 5pm", at(5, 14), at(5, 17)),
    ("from 10am to 12pm on saturday", at(5, 10), at(5, 12)), ("between 2pm and 4pm tomorrow", at(3, 14), at(3, 16)),
    ("tomorrow 10am-2pm", at(3, 10), at(3, 14)), ("12/12 6pm to 8pm", at(12, 18), at(12, 20)),
    ("sunday 11-2pm", at(6, 11), at(6, 14)), ("samedi de 10 à 12", at(5, 10), at(5, 12)),
    ("saturday 10 to 12", at(5, 10), at(5, 12)), ("samedi entre 14h et 16h", at(5, 14), at(5, 16)),
])
def test_rule_10_a_range_gives_start_and_end(typed: str, start: datetime, end: datetime) -> None:
    found = read(typed)
    assert (found.problem, found.moment, found.ends) == (None, start, end), typed


# ---- whatever is typed, the answer is a moment ahead or a reason -------------------------------------------------
def test_every_accepted_moment_is_ahead_and_in_the_deployment_zone() -> None:
    tables = [test_rule_3_a_bare_weekday_is_its_next_occurrence, test_rule_8_clock_forms]
    for table in tables:
        for typed, _ in table.pytestmark[0].args[1]:
            found = read(typed)
            assert found.moment is not None and found.moment > NOW and found.moment.tzinfo == PARIS, typed
