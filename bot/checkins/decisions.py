"""Check-ins, the decisions: when the pass may run, what an open check-in needs next, whom to tell,
and what "until when" means when someone says they are away.

Pure functions over plain values (no database, no clock of their own), so the rules that decide
whether an older neighbour is asked, reminded or escalated are tested directly in ``tests/unit``.
The storage side is ``bot.storage.checkins``; the messages and buttons are ``bot.checkins.answers``
and ``bot.checkins.rounds``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.core.scheduler import IsDue, daily_at

MAX_AWAY_DAYS = 366
PAYLOAD_PREFIX = "checkin"

# ---- quiet hours ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """No message about check-ins between ``start`` and ``end`` local time (may wrap past midnight)."""

    start: time
    end: time

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        return cls(_hhmm(start), _hhmm(end))

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def _hhmm(text: str) -> time:
    hour, minute = (int(x) for x in text.split(":"))
    return time(hour, minute)


def is_quiet(moment: datetime, hours: QuietHours, zone: ZoneInfo) -> bool:
    return hours.contains(moment.astimezone(zone).time().replace(tzinfo=None))


def next_allowed(moment: datetime, hours: QuietHours, zone: ZoneInfo) -> datetime:
    """``moment`` itself when outside quiet hours, else the end of these quiet hours."""
    if not is_quiet(moment, hours, zone):
        return moment
    local = moment.astimezone(zone)
    end = datetime.combine(local.date(), hours.end, zone)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(moment.tzinfo)


def pass_is_due(pass_time: str, hours: QuietHours, zone: ZoneInfo) -> IsDue:
    """Daily at ``pass_time``, never inside quiet hours. A pass missed during downtime (or set inside
    the quiet hours) runs once, at the first tick after they end — not once per missed day.

    Never more than 24 hours apart either: the night the clocks go back, 10:00 comes 25 hours after
    the day before's, and someone who crossed the threshold just after that pass would wait 25
    hours. So the pass also runs 24 hours after the last one (an hour early, that one day)."""
    daily = daily_at(pass_time, zone)

    def is_due(last: datetime | None, now: datetime) -> bool:
        overdue = last is not None and now - last >= timedelta(hours=24)
        return (daily(last, now) or overdue) and not is_quiet(now, hours, zone)

    return is_due


def quiet_cutoff(now: datetime, days: int, zone: ZoneInfo) -> datetime:
    """Who was last active before this moment has been quiet for ``days`` days. Days are calendar
    days in the deployment's zone ("since the 14th at 10:00"), which across a clock change is an hour
    more or less than ``days`` × 24 hours: the earlier of the two counts, so nobody waits an hour
    longer because the clocks moved."""
    by_hours = now - timedelta(days=days)
    by_calendar = now.astimezone(zone) - timedelta(days=days)  # same zone: Python counts in wall-clock time
    return max(by_hours, by_calendar.astimezone(now.tzinfo))


def care_time(now: datetime, hours: QuietHours, zone: ZoneInfo) -> datetime | None:
    """When a check-in message to someone in ``zone`` may go out: None for now, else the end of the
    quiet hours (the outbox holds it until then)."""
    later = next_allowed(now, hours, zone)
    return None if later == now else later


# ---- an open check-in ----------------------------------------------------------------------------

FollowUp = Literal["stopped", "alive", "remind", "escalate", "next"]


@dataclass(frozen=True)
class OpenCheckin:
    """What the follow-up needs to know about a check-in nobody has answered yet."""

    asked_at: datetime
    reminded: bool
    last_active_at: datetime | None
    checkins_on: bool
    escalated: bool = False
    stage_until: datetime | None = None  # when the ladder moves on to the next person (escalated only)


def follow_up(c: OpenCheckin, now: datetime, delay: timedelta, hours: QuietHours, zone: ZoneInfo) -> FollowUp | None:
    """What an open check-in needs now: nothing, a reminder at half-time (once), one escalation
    once the delay is over, the next person on the ladder once a stage ran out — or closing, because
    the person turned check-ins off or wrote since (any message in their circle is an answer too:
    nobody is escalated for not pressing a button, and an escalated person who writes is all right)."""
    if not c.checkins_on:
        return "stopped"
    if c.last_active_at is not None and c.last_active_at > c.asked_at:
        return "alive"
    if is_quiet(now, hours, zone):
        return None
    if c.escalated:
        return "next" if c.stage_until is None or now >= c.stage_until else None
    if now >= c.asked_at + delay:
        return "escalate"
    if not c.reminded and now >= c.asked_at + delay / 2:
        return "remind"
    return None


# ---- whom to tell ----------------------------------------------------------------------------------

Role = Literal["contact", "host", "moderator", "admin"]


def escalation_order(
    person_id: int,
    contact_id: int | None,
    contact_confirmed: bool,
    hosts: list[int],
    moderators: list[int],
    admins: list[int],
    *,
    with_self: bool = False,
) -> list[tuple[Role, int]]:
    """Who to tell, best first: the chosen contact (only once they said yes themselves), the circle's
    host, a moderator of the neighbourhood, an admin. The caller tells the first one reachable.
    Never the person themself (unless ``with_self``: kept where they stand, for the caller to pass
    over and say so in the audit log); nobody twice."""
    ladder: list[tuple[Role, int]] = []
    if contact_id is not None and contact_confirmed:
        ladder.append(("contact", contact_id))
    ladder += [("host", h) for h in hosts]
    ladder += [("moderator", m) for m in moderators]
    ladder += [("admin", a) for a in admins]
    seen: set[int] = set() if with_self else {person_id}
    result = []
    for role, who in ladder:
        if who not in seen:
            seen.add(who)
            result.append((role, who))
    return result


# ---- the ladder: who is told next ------------------------------------------------------------------

STAGES: tuple[str, ...] = ("contact", "host", "moderator", "admin", "services")
Unfit = Literal["self", "helper", "unreachable", "away", "quiet"]


def unfit(candidate: int, subject: int, helper: int | None, reachable: bool, away_until: datetime | None,
          last_active: datetime | None, now: datetime, cutoff: datetime) -> Unfit | None:
    """Why this person cannot be the one told (None: they can). Someone away, quiet past the
    threshold themself, or who blocked the bot cannot go and knock on a door; nobody is told about
    themself, and a helper who did not answer for a neighbour is not asked to go and see."""
    if candidate == subject:
        return "self"
    if candidate == helper:
        return "helper"
    if not reachable:
        return "unreachable"
    if away_until is not None and away_until > now:
        return "away"
    if last_active is None or last_active < cutoff:
        return "quiet"
    return None


@dataclass(frozen=True)
class NextStep:
    """The ladder's next stage: who to tell (``who`` None at the last stage, "services"), and who
    was passed over on the way, with why, for the audit log."""

    stage: str
    who: int | None
    skipped: tuple[tuple[str, int, str], ...] = ()


def next_on_ladder(ladder: list[tuple[str, int]], stage: str | None, told: set[int],
                   reasons: dict[int, str]) -> NextStep:
    """The first fit person of a stage after ``stage`` (each stage once, in the order contact →
    host → another moderator → admin), not told yet; "services" when nobody is left. ``reasons``
    holds why the unfit ones cannot be told (see ``unfit``)."""
    after = STAGES.index(stage) + 1 if stage in STAGES else 0
    skipped: list[tuple[str, int, str]] = []
    for role, who in ladder:
        if role not in STAGES[after:] or who in told:
            continue
        if who in reasons:
            skipped.append((role, who, reasons[who]))
            continue
        return NextStep(role, who, tuple(skipped))
    return NextStep("services", None, tuple(skipped))


def ladder_total(delay: timedelta, stage: timedelta, hours: QuietHours) -> timedelta:
    """The longest a check-in can stay open: the escalation delay, then each stage but the last
    one, each one possibly pushed past a night of quiet hours."""
    night = _quiet_length(hours)
    return delay + night + (len(STAGES) - 1) * (stage + night)


def _quiet_length(hours: QuietHours) -> timedelta:
    start = datetime.combine(date(2000, 1, 1), hours.start)
    end = datetime.combine(date(2000, 1, 1), hours.end)
    return (end - start) % timedelta(days=1)


# ---- "ça va" typed --------------------------------------------------------------------------------

_FINE = frozenset({
    "ca va", "ca va bien", "ca va tres bien", "ca va tres bien merci", "je vais bien", "je vais tres bien",
    "tout va bien", "tout va tres bien", "tres bien", "bien", "ok", "okay", "oki", "d accord", "impeccable",
    "im fine", "i m fine", "i am fine", "im ok", "i m ok", "i am ok", "im okay", "i m okay", "i am okay",
    "all good", "all is well", "fine", "im well", "i m well", "i am well", "everything is fine",
})
_FILLERS = ("oui", "yes", "merci", "thanks", "thank you", "et vous", "and you", "bonjour", "hello", "hi", "salut")


def says_fine(text: str) -> bool:
    """A private message that only says "I'm fine" ("ça va", "je vais bien", "tout va bien",
    "I'm fine", "ok", with a "oui", a "merci" or an emoji around it). "Ça va pas" and anything longer
    is not: better to let a human read it than close a check-in on a misunderstanding."""
    words = _fold_words(text)
    changed = True
    while changed and words:
        changed = False
        for filler in _FILLERS:
            if words.startswith(filler + " ") or words.endswith(" " + filler):
                words = words.removeprefix(filler + " ") if words.startswith(filler + " ") else words[:-len(filler) - 1]
                changed = True
    return words in _FINE


def _fold_words(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text[:200].lower())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z]+", " ", plain).split())


# ---- button payloads -----------------------------------------------------------------------------

VERBS = frozenset(
    {"fine", "chat", "away", "stop", "ok", "unreached", "talked", "resolved", "seen", "drop", "dropyes", "dropno",
     "new"}
)


def payload(verb: str, number: int) -> str:
    """``checkin:<verb>:<id>``: short (Telegram allows 64 bytes) and valid outside any conversation."""
    if verb not in VERBS:
        raise ValueError(f"unknown check-in verb {verb!r}")
    return f"{PAYLOAD_PREFIX}:{verb}:{number}"


def parse_payload(text: str) -> tuple[str, int] | None:
    """(verb, id) from a pressed button, or None for anything forged or mangled."""
    prefix, _, rest = text.partition(":")
    verb, _, number = rest.partition(":")
    if prefix != PAYLOAD_PREFIX or verb not in VERBS or not (number.isascii() and number.isdigit()) or len(number) > 12:
        return None
    return verb, int(number)


# ---- "until when?" -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Until:
    day: date  # the last day away; check-ins may resume the day after

    def ends_at(self, zone: ZoneInfo) -> datetime:
        """The moment the absence ends: midnight after the last day, local time."""
        return datetime.combine(self.day + timedelta(days=1), time(0, 0), zone)


@dataclass(frozen=True)
class UntilProblem:
    reason: Literal["unknown", "past", "too-far"]


_UNITS = {
    "jour": 1, "jours": 1, "j": 1, "day": 1, "days": 1, "d": 1,
    "semaine": 7, "semaines": 7, "sem": 7, "week": 7, "weeks": 7, "wk": 7, "w": 7,
    "mois": 30, "month": 30, "months": 30,
}
_NUMBER_WORDS = {"un": 1, "une": 1, "a": 1, "an": 1, "one": 1, "deux": 2, "two": 2, "trois": 3, "three": 3,
                 "quatre": 4, "four": 4, "cinq": 5, "five": 5, "six": 6, "huit": 8, "eight": 8, "dix": 10, "ten": 10,
                 "quinze": 15, "fifteen": 15}
_DURATION = re.compile(r"^(?:dans|pendant|pour|for|in|during)?\s*(\d{1,3}|[a-z]+)\s*([a-z]+)$")
_LEAD_WORDS = re.compile(
    r"^(?:jusqu\s*'?\s*(?:au|a|à|aux)|jusque|until|till|til|to|au|le|on|back on|retour le|de retour le)\s+"
)
_TRAILING = re.compile(r"\s+(?:prochain|prochaine)$")


def parse_until(text: str, now: datetime, zone: ZoneInfo, lang: str = "fr") -> Until | UntilProblem:
    """"2 weeks", "2 semaines", "10 jours", "jusqu'au 15 décembre", "lundi", "15/12" → the last day
    away. Durations are read here (simple and exact); dates go to dateparser, French and English,
    preferring the future ("lundi" is the coming Monday). Past dates and absences beyond a year are
    refused with their reason, so the answer can say what was wrong."""
    today = now.astimezone(zone).date()
    cleaned = _clean(text)
    if not cleaned or len(cleaned) > 60:
        return UntilProblem("unknown")
    days = _duration_days(cleaned)
    if days == 0:
        return UntilProblem("unknown")
    day = today + timedelta(days=days) if days is not None else _natural_date(cleaned, now, zone, lang)
    if day is None:
        return UntilProblem("unknown")
    if day < today or (day == today and days is None and _says_today(cleaned)):
        return UntilProblem("past")
    if (day - today).days > MAX_AWAY_DAYS:
        return UntilProblem("too-far")
    return Until(day)


def _clean(text: str) -> str:
    folded = text.strip().lower().replace("’", "'").rstrip(".!")
    folded = re.sub(r"\s+", " ", folded)
    folded = _LEAD_WORDS.sub("", folded)
    return _TRAILING.sub("", folded).strip()


def _duration_days(text: str) -> int | None:
    match = _DURATION.match(text)
    if not match:
        return None
    count, unit = match.groups()
    number = int(count) if count.isdigit() else _NUMBER_WORDS.get(count)
    if number is None or unit not in _UNITS:
        return None
    return number * _UNITS[unit]


def _says_today(text: str) -> bool:
    return text in ("aujourd'hui", "today", "ce soir", "tonight")


def _natural_date(text: str, now: datetime, zone: ZoneInfo, lang: str) -> date | None:
    import dateparser  # imported on first use: loading its language data costs a moment at start

    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
        "DATE_ORDER": "DMY",  # France writes 15/12; so do most English speakers here
        "PREFER_DAY_OF_MONTH": "last" if text.startswith(("fin ", "end of ")) else "first",
    }
    text = re.sub(r"^(?:fin|end of)\s+", "", text)
    languages = ["fr", "en"] if lang == "fr" else ["en", "fr"]
    found = dateparser.parse(text, languages=languages, settings=settings)
    return found.date() if found else None
