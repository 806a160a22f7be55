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
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

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


# ---- what a typed answer means ---------------------------------------------------------------------
#
# "Est-ce que tout va bien ?" answered in words. Read in order of care: urgent first (a fall, a
# hospital, "au secours"), then not fine, then away, then fine; anything else is "unclear" (the
# person wrote, but did not say how they are). Word lists per language, on folded text (no case, no
# accent, letters only: "J'ai mal" → "j ai mal"). A term preceded closely by a negation ("je ne suis
# pas triste", "not sick") does not count, unless the term carries the negation itself ("pas bien",
# "ça va pas", "not great"). "Pas mal", "pas trop mal", "not bad" are fine-ish and are taken out
# before anything else is read, so "ça va pas trop mal" is fine and "pas mal fatiguée" is tired.

Meaning = Literal["urgent", "not_fine", "away", "fine", "unclear"]

_URGENT = {
    "fr": ("au secours", "a l aide", "aidez moi", "aide moi", "aidez nous", "besoin d aide", "urgence", "urgences",
           "urgent", "urgente", "je suis tombee", "je suis tombe", "suis tombee", "tombee par terre", "j ai chute",
           "une chute", "j ai mal", "malaise", "hopital", "hosto", "samu", "pompiers", "ambulance", "blessee",
           "blesse", "je saigne", "douleur", "douleurs", "pas me lever", "pas me relever", "plus me lever",
           "plus me relever", "pas a me lever", "pas a me relever", "plus a me lever", "plus a me relever"),
    "en": ("help", "help me", "i fell", "i ve fallen", "i have fallen", "fell down", "had a fall", "emergency",
           "urgent", "i m hurt", "i am hurt", "hurt myself", "in pain", "hospital", "ambulance", "can t get up",
           "cannot get up", "injured", "bleeding", "chest pain"),
}
_NOT_FINE = {
    "fr": ("bof", "pas trop", "pas bien", "pas tres bien", "pas terrible", "pas top", "pas fort", "pas tres fort",
           "pas la forme", "pas en forme", "pas le moral", "pas genial", "pas vraiment", "pas facile", "ca va pas",
           "ne va pas", "va pas fort", "ca va mal", "je vais mal", "tres mal", "mal dormi", "ca va moyen",
           "plutot moyen", "moyennement", "couci couca", "comme ci comme ca", "fatigue", "fatiguee", "epuise",
           "epuisee", "creve", "crevee", "triste", "suis seul", "suis seule", "tout seul", "toute seule",
           "sens seul", "sens seule", "solitude", "isole", "isolee", "malade", "grippe", "fievre", "deprime",
           "deprimee", "cafard", "angoisse", "angoissee", "inquiet", "inquiete", "je m ennuie",
           "difficile en ce moment", "dur en ce moment", "moments difficiles", "sauf"),
    "en": ("not great", "not well", "not good", "not so good", "not fine", "not ok", "not okay", "not really",
           "not doing well", "not feeling well", "not feeling great", "don t feel well", "do not feel well",
           "feel bad", "feeling bad", "pretty bad", "really bad", "bad day", "awful", "terrible", "sad", "lonely",
           "alone", "sick", "ill", "unwell", "tired", "exhausted", "depressed", "feeling down", "a bit down", "meh",
           "so so", "could be better", "struggling", "worried", "anxious", "rough", "except"),
}
_AWAY = {
    "fr": ("absent", "absente", "en vacances", "vacances", "en voyage", "je pars en", "je pars chez",
           "je pars pour", "je pars quelques", "je suis partie", "je suis parti", "chez ma", "chez mon", "chez mes",
           "chez des amis", "en deplacement", "a la campagne", "a la mer", "en cure", "pas chez moi",
           "loin de chez moi"),
    "en": ("i m away", "i am away", "away for", "away until", "be away", "going away", "away from home",
           "on holiday", "on holidays", "on vacation", "travelling", "traveling", "staying with", "out of town",
           "abroad", "visiting my", "at my daughter", "at my son", "not at home", "not home"),
}
# A bare "no" to "is everything all right?" is not fine; a bare "yes" is. Only alone ("non merci").
_NO_ALONE = frozenset({"non", "no", "nope", "nan", "non pas vraiment", "no not really"})
_YES_ALONE = frozenset({"oui", "ouais", "yes", "yep", "yeah"})
_COURTESY = ("merci", "thanks", "thank you", "merci beaucoup")
# Back rather than away: "de retour de vacances" is not an absence.
_BACK = frozenset({"retour", "rentre", "rentree", "revenu", "revenue", "back"})
_FINE_ISH = ("pas trop mal", "pas si mal", "pas mal", "not too bad", "not bad", "non ca va", "ca peut aller",
             "pas a me plaindre", "can t complain", "pas de souci", "pas de soucis", "pas de probleme",
             "no problem", "no worries")
_FINE_START = ("ca va", "oui ca va", "tout va bien", "je vais bien", "tres bien", "im fine", "i m fine",
               "i am fine", "i m ok", "i m okay", "i m good", "i m well", "all good", "all is well")
_NEGATORS = frozenset({"pas", "ne", "n", "not", "no", "jamais", "never", "rien", "sans", "plus", "nothing"})
# What may follow a term and change its sense: "j'ai mal dormi" is a bad night, not a pain;
# "pas trop fatiguée" is not too tired.
_UNLESS_NEXT = {"j ai mal": frozenset({"dormi"}), "pas trop": frozenset({"fatigue", "fatiguee", "malade", "triste",
                                                                        "inquiet", "inquiete", "seul", "seule"})}
# Typos forgiven (one letter off) only for these long words: nothing common sits one letter from
# them ("secours" is not here: "recours" is; nor "malade": "salade").
_FORGIVING = frozenset({"fatiguee", "fatigue", "epuisee", "deprimee", "hopital", "urgence", "hospital",
                        "emergency", "exhausted", "depressed", "vacances", "absente"})


def _index() -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Every term by its first word: a message is read in one pass over its words."""
    index: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for meaning, lists in (("urgent", _URGENT), ("not_fine", _NOT_FINE), ("away", _AWAY)):
        for terms in lists.values():
            for term in terms:
                parts = tuple(term.split())
                index.setdefault(parts[0], []).append((meaning, parts))
    return index


_INDEX = _index()
_CARE_ORDER = ("urgent", "not_fine", "away")


def typed_meaning(text: str) -> Meaning:
    """What a private message means as an answer to "is everything all right?" (see above)."""
    words = _fold_words(text).split()
    if not words:
        return "unclear"
    rest = _without(words, _FINE_ISH)
    alone = " ".join(_without(rest, _COURTESY))
    found = _meanings(rest)
    if "urgent" in found or "not_fine" in found:
        return "urgent" if "urgent" in found else "not_fine"
    if alone in _NO_ALONE:
        return "not_fine"
    if "away" in found and not _BACK & set(rest):
        return "away"
    if len(rest) < len(words) or alone in _YES_ALONE or says_fine(text) or _starts_fine(words):
        return "fine"
    return "unclear"


def _without(words: list[str], phrases: tuple[str, ...]) -> list[str]:
    """``words`` with every occurrence of these phrases taken out."""
    starts = _split(phrases)
    out, i = [], 0
    while i < len(words):
        for parts in starts.get(words[i], ()):
            if tuple(words[i:i + len(parts)]) == parts:
                i += len(parts)
                break
        else:
            out.append(words[i])
            i += 1
    return out


@cache
def _split(phrases: tuple[str, ...]) -> dict[str, list[tuple[str, ...]]]:
    """These phrases by their first word, longest first."""
    starts: dict[str, list[tuple[str, ...]]] = {}
    for phrase in sorted(phrases, key=lambda p: -len(p.split())):
        parts = tuple(phrase.split())
        starts.setdefault(parts[0], []).append(parts)
    return starts


def _meanings(words: list[str]) -> set[str]:
    """The meanings whose terms occur in ``words`` (a one-letter typo forgiven for the long words of
    ``_FORGIVING``), not just after a negation — unless the term holds the negation itself ("pas
    bien"), nor followed by what changes its sense (``_UNLESS_NEXT``)."""
    found: set[str] = set()
    for i, word in enumerate(words):
        candidates = _INDEX.get(word) or _INDEX.get(_forgiven(word) or "", [])
        for meaning, parts in candidates:
            size = len(parts)
            if size > 1 and tuple(words[i:i + size]) != parts:
                continue
            after = words[i + size] if i + size < len(words) else ""
            if after in _UNLESS_NEXT.get(" ".join(parts), ()):
                continue
            if _NEGATORS.isdisjoint(parts) and not _NEGATORS.isdisjoint(words[max(0, i - 3):i]):
                continue
            found.add(meaning)
    return found


def _forgiven(word: str) -> str | None:
    """The long word of ``_FORGIVING`` this one is a typo of (one letter off), if any."""
    if len(word) < 6:
        return None
    found = process.extractOne(word, _FORGIVING, scorer=DamerauLevenshtein.distance, score_cutoff=1)
    return found[0] if found else None


def _starts_fine(words: list[str]) -> bool:
    """Begins with "ça va", "oui ça va", "I'm fine"…: the answer to the question comes first, whatever
    follows ("Oui ça va, c'est quand le prochain atelier ?")."""
    plain = " ".join(words)
    return any(plain == start or plain.startswith(start + " ") for start in _FINE_START)


TypedAction = Literal["urgent", "chat", "away", "fine", "wrote", "noted", "ask-again"]
UNSAID = frozenset({"active", "wrote"})  # closed by a sign of life that did not say how they are
URGENT_WAIT = timedelta(minutes=10)


def listening(is_open: bool, closed_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """Whether a private message is still read as an answer to this check-in: while it is open, and
    for ``window`` after it closed (the escalation delay, 48 hours by default: an answer to "is
    everything all right?" comes within the time the bot itself waits for one, while those told still
    remember it; a message days later is conversation, not an answer, and a check-in long closed is
    not reopened on /quiet)."""
    return is_open or (closed_at is not None and now - closed_at < window)


def typed_action(meaning: Meaning, answer: str | None, is_open: bool) -> TypedAction | None:
    """What a typed message does to a check-in still listening (see ``listening``), given what was
    answered so far; None: not ours (the bot's usual hint).

    - urgent always counts: the emergency numbers and the question "shall I tell them now?";
    - while an urgent question waits for its answer, anything else asks it again;
    - not fine asks for a chat, even after "fine" (the one told hears the truth); once a chat is
      asked for, it is noted again;
    - away asks until when, as the button does;
    - fine and unclear only while nothing was said yet: unclear closes it as "wrote" (alive, not
      "all is well") and asks again with the buttons."""
    unsaid = is_open or answer is None or answer in UNSAID
    if meaning == "urgent":
        return "urgent"
    if answer == "urgent":
        return "ask-again"
    if answer in ("alerted", "declined"):
        return "away" if meaning == "away" else None
    if meaning == "not_fine":
        return "noted" if answer == "chat" else "chat"
    if meaning == "away":
        return "away"
    if meaning == "fine":
        return "fine" if unsaid else None
    return "wrote" if is_open or answer is None else None


# ---- button payloads -----------------------------------------------------------------------------

VERBS = frozenset(
    {"fine", "chat", "away", "stop", "ok", "unreached", "talked", "resolved", "seen", "drop", "dropyes", "dropno",
     "new", "tell", "notell"}
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
