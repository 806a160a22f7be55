"""Natural dates typed by organizers ("samedi 15h", "12/12 à 18h30", "next friday 7pm") → a moment.

The rules (issue 19), with ``now`` the core clock read in the deployment's time zone:
1. A past moment is refused as past ("hier 10h", "ce matin 9h"), never as "not understood".
2. A time is required ("samedi", "demain", "ce soir" alone ask for it); midi / noon is 12:00.
3. A bare weekday is its next occurrence, today only if the time is still ahead.
4. "<weekday> prochain" / "next <weekday>" is the first such day strictly after today ("jeudi en
   huit": the one after that). Such answers are flagged ``ambiguous``: the wizard confirms them
   with the full date in words.
5. A time alone is today if still ahead, else refused as past.
6. Day and month without a year: this year if ahead, else next year — except a day of the last two
   months, which is a mistake rather than a plan ("30/11" typed on 2/12 is past, not 2027). A day of
   month alone ("le 5", "on the 5th") is this month if ahead, else next month.
7. Numeric dates are day/month in both languages; two-digit years are 20xx; "/", "-", "." separators;
   ISO "2026-12-12 18:30".
8. Clock forms: 15h, 15h30, 15 h 30, 15:00, 15 heures, 3pm, 6.30pm. A bare hour is 24-hour, except
   in the evening or afternoon ("ce soir 8h" → 20:00, "3 heures de l'après-midi" → 15:00).
9. Invalid or contradictory answers are refused with their reason: impossible day ("30/02"),
   impossible time ("25h", "15h75", "13pm"), a weekday that disagrees with the date, two candidates
   ("samedi 15h ou dimanche 16h"), vague words ("bientôt", "soon").
10. A range ("samedi de 10h à 12h") gives its start and its end.

The text is read by a small tokenizer written for these rules (dateparser reads "15h" as a duration,
ignores "prochain", rolls today's past hours to next year and cannot tell a contradiction); what it
leaves unread goes to dateparser as a last resort ("in two weeks at 3pm"), under the same checks.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Problem = Literal["no_time", "past", "impossible", "bad_time", "contradiction", "two", "too_far", "unknown"]
MAX_AHEAD = timedelta(days=366)
RECENT_PAST = timedelta(days=62)  # a day and month this close behind is a mistake, not next year

WEEKDAYS = {
    "lundi": 0, "lun": 0, "monday": 0, "mon": 0,
    "mardi": 1, "mar": 1, "tuesday": 1, "tue": 1, "tues": 1,
    "mercredi": 2, "mer": 2, "wednesday": 2, "wed": 2,
    "jeudi": 3, "jeu": 3, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3,
    "vendredi": 4, "ven": 4, "friday": 4, "fri": 4,
    "samedi": 5, "sam": 5, "saturday": 5, "sat": 5,
    "dimanche": 6, "dim": 6, "sunday": 6, "sun": 6,
}
MONTHS = {
    "janvier": 1, "janv": 1, "january": 1, "jan": 1,
    "fevrier": 2, "fevr": 2, "fev": 2, "february": 2, "feb": 2,
    "mars": 3, "march": 3, "mar": 3,
    "avril": 4, "avr": 4, "april": 4, "apr": 4,
    "mai": 5, "may": 5,
    "juin": 6, "june": 6, "jun": 6,
    "juillet": 7, "juil": 7, "july": 7, "jul": 7,
    "aout": 8, "august": 8, "aug": 8,
    "septembre": 9, "sept": 9, "sep": 9, "september": 9,
    "octobre": 10, "oct": 10, "october": 10,
    "novembre": 11, "nov": 11, "november": 11,
    "decembre": 12, "dec": 12, "december": 12,
}
NUMBERS = {"un": 1, "une": 1, "a": 1, "an": 1, "one": 1, "deux": 2, "two": 2, "trois": 3, "three": 3,
           "quatre": 4, "four": 4, "cinq": 5, "five": 5, "six": 6, "sept": 7, "seven": 7, "huit": 8, "eight": 8,
           "dix": 10, "ten": 10, "quinze": 15, "fifteen": 15}
# Words that carry nothing once the date and time are read ("le", "à", "at", "vers 15h", "15h précises").
NOISE = {
    "le", "la", "l", "les", "a", "au", "at", "on", "the", "de", "du", "des", "d", "vers", "around", "about",
    "environ", "pour", "for", "ce", "cet", "cette", "this", "partir", "starting", "from", "precises", "pile",
    "sharp", "heure", "heures", "h", "rdv", "rendez-vous", "rendez", "vous", "en", "of", "by", "et", "and",
    "-", "–", "entre", "between", "o", "clock", "oclock", "dans", "in", "jusqu", "jusque", "to", "till", "until",
    "is", "it", "s", "c", "est", "will", "be", "sera", "ca", "aura", "lieu", "starts", "commence",
}
VAGUE = re.compile(r"\b(bientot|prochainement|un jour|plus tard|un de ces jours|soon|later|someday|some day|"
                   r"sometime|one day|asap|des que possible|a voir|tbd|tba|je ne sais pas|jsp|dunno)\b")

_MERIDIEM = r"(a\.?\s?m\.?|p\.?\s?m\.?)(?![a-z])"
_AMPM = re.compile(r"\b(\d{1,2})(?:[:.h](\d{1,2}))?\s*" + _MERIDIEM)
_HOURS = re.compile(r"\b(\d{1,2})\s*(?:h|heures?|hrs?)\s*(\d{1,2})?(?:\s*(?:min|minutes)\b)?"
                    r"(?:\s+(?:et\s+)?(demie?|quart|trente|quinze|quarante[- ]cinq|vingt|dix))?(?![a-z0-9])")
_MINUTE_WORDS = {"demi": 30, "demie": 30, "trente": 30, "quart": 15, "quinze": 15, "quarante-cinq": 45,
                 "quarante cinq": 45, "vingt": 20, "dix": 10}
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{1,2})\b")
_OCLOCK = re.compile(r"\b(\d{1,2})\s*o\s*'?\s*clock\b")
_NOON = re.compile(r"\b(?:12\s*)?(midi|noon|midday|minuit|midnight)(?:\s+et\s+(demie?|quart))?\b")
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ](\d{1,2}):(\d{2})(?::\d{2})?)?\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{4}|\d{2}))?(?![\d/])")
_MONTH_WORDS = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:er|e|eme|st|nd|rd|th)?\s+(?:de\s+|of\s+)?(" + _MONTH_WORDS +
                        r")\b\.?(?:\s*,?\s+(\d{4}))?")
_MONTH_DAY = re.compile(r"\b(" + _MONTH_WORDS + r")\b\.?\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\b(?:\s*,?\s+(\d{4}))?")
_HOLIDAYS = re.compile(r"\b(?:(noel|christmas(?:\s+day)?)|(saint[- ]sylvestre|new\s+year\s*'?\s*s?\s+eve)|"
                       r"(jour\s+de\s+l\s*'?\s*an|nouvel\s+an|new\s+year\s*'?\s*s?(?:\s+day)?))\b")
_RELATIVE_DAYS = re.compile(
    r"\b(avant[- ]hier|apres[- ]demain|(?:the\s+)?day\s+after\s+tomorrow|(?:the\s+)?day\s+before\s+yesterday|"
    r"aujourd\s*'?\s*hui|today|demain|tomorrow|hier|yesterday|tonight|tonite)\b")
_IN = re.compile(r"\b(?:dans|in)\s+(\d{1,3}|[a-z]+)\s+(jours?|days?|semaines?|weeks?|heures?|hours?|minutes?|mins?)\b")
_PERIOD = re.compile(
    r"\b(?:(?:de|dans)\s+l\s*'?\s*)?(?:(apres[- ]?midi|aprem|afternoon)|(soir|soiree|evening|night)|"
    r"(matin|matinee|morning))\b")
_THIS = re.compile(r"\b(ce|cet|cette|this)\s+(?=(?:apres[- ]?midi|aprem|afternoon|soir|soiree|evening|night|matin|"
                   r"matinee|morning|midi)\b)")
_WEEKDAY_WORDS = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_WEEKDAY = re.compile(
    r"\b(next\s+|last\s+|this\s+coming\s+|coming\s+|this\s+|ce\s+)?(" + _WEEKDAY_WORDS + r")\b\.?"
    r"(\s+(?:prochaine?|qui vient|d\s*'?\s*apres|dernier|derniere|passe|en\s+(?:huit|8)|en\s+(?:quinze|15)|week|"
    r"(?:de\s+)?la\s+semaine\s+prochaine|next\s+week|after\s+next))?")
_DAY_OF_MONTH = re.compile(r"\b(?:(?:le|the|on\s+the)\s+)(\d{1,2})(?:er|e|eme|st|nd|rd|th)?\b"
                           r"|\b(\d{1,2})(?:er|eme|st|nd|rd|th)\b")
_AFTER_AT = re.compile(r"\b(?:a|at|vers|around|des|from|de|by)\s+(\d{1,2})\b(?!\s*[/.:-]\d)")
_RANGE_END = r"\s*\d{1,2}\s*(?:h\b|heures?\b|:\d|[ap]\.?\s?m\b))"
# The bare start of a range: "de 10 à 12h", "2-5pm" (not "le 5 à 15h", a day then a time).
_RANGE_START = re.compile(r"\b(?:de|from|entre|between)\s+(\d{1,2})(?=\s*(?:-|–|a|to|till|until|et|and|jusqu\s*'?\s*a)"
                          + _RANGE_END + r"|(?<![:.h])\b(\d{1,2})(?=\s*(?:-|–|to|till|until)" + _RANGE_END)
# "de 10 à 12", "saturday 10 to 12": two bare hours (not "du 10 au 12", days; not "12/12")
_BARE_RANGE = re.compile(r"(?:\b(?:de|from|between|entre)\s+(\d{1,2})\s*(?:-|–|a|to|et|and|jusqu\s*'?\s*a)\s*(\d{1,2})"
                         r"|\b(\d{1,2})\s+(?:to|till|until)\s+(\d{1,2}))\b(?!\s*[/.:-]?\d)")
# Said of something already over: "il y a 2 jours", "2 days ago", "la semaine dernière", "last week"
_AGO = re.compile(r"\bil y a\b|\bago\b|\b(?:la\s+)?semaine\s+derniere\b|\blast\s+(?:week|month|year)\b|"
                  r"\b(?:le\s+)?mois\s+dernier\b")
_MONTH_AFTER = re.compile(r"\s*(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b")
_CONNECTOR = re.compile(r"^\s*(?:-|–|a|au|to|till|until|jusqu\s*'?\s*a|et|and)\s*$")
_OR = re.compile(r"\b(ou|or|sinon|otherwise)\b|\bou bien\b")


@dataclass(frozen=True)
class When:
    """Either a moment (aware, in the deployment's zone) or the reason it could not be one.

    ``ends``: the end of a range ("de 10h à 12h"). ``ambiguous``: a reading worth confirming with the
    full date ("jeudi prochain"). ``day``: for a contradiction, the date that was meant."""

    moment: datetime | None = None
    problem: Problem | None = None
    ends: datetime | None = None
    ambiguous: bool = False
    day: date | None = None


@dataclass
class _Time:
    start: int  # where it was found, to pair a range
    end: int
    hour: int
    minute: int
    meridiem: str | None = None  # "am" / "pm"


@dataclass
class _Reading:
    """What the tokenizer found in one answer."""

    times: list[_Time] = field(default_factory=list)
    dates: list[tuple[str, tuple]] = field(default_factory=list)  # ("abs", (y|None, m, d)), ("rel", (n,)), …
    period: str | None = None  # "evening", "afternoon", "morning"
    offset: timedelta | None = None  # "dans 2 heures"
    ambiguous: bool = False
    ranged: bool = False  # two times already known to be a range ("de 10 à 12")
    text: str = ""


class _Refused(Exception):
    def __init__(self, problem: Problem, day: date | None = None) -> None:
        self.problem, self.day = problem, day


def fold(text: str) -> str:
    """Lower case, no accents, one kind of apostrophe, single spaces: "Après-demain à 15 H" → "apres-demain a 15 h"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'").replace("`", "'").replace("@", " at "))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = re.sub(r"[!?;«»\"()]", " ", plain).replace(",", " , ")
    return re.sub(r"\s+", " ", plain).strip(" .,")


def normalise(text: str) -> str:
    """The rewrites dateparser needs for French habits ("15h" → "15:00"), for the fallback path."""
    text = fold(text)
    text = re.sub(r"\b(\d{1,2})\s*h\s*(\d{2})\b", lambda m: f"{int(m.group(1))}:{m.group(2)}", text)
    text = re.sub(r"\b(\d{1,2})\s*h\b", lambda m: f"{int(m.group(1))}:00", text)
    text = re.sub(r"\b(prochaine?|le|at|on)\b|\b(a)\s+(?=\d)", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def parse_when(text: str, now: datetime, zone: ZoneInfo) -> When:
    """Read a start time typed by an organizer; ``now`` is the core clock's aware time."""
    cleaned = fold(text[:100])
    if not cleaned or VAGUE.search(cleaned):
        return When(problem="unknown")
    try:
        reading = _read(cleaned)
        if reading is None:
            return _fallback(cleaned, now, zone)
        return _resolve(reading, now.astimezone(zone))
    except _Refused as refused:
        return When(problem=refused.problem, day=refused.day)


# ---- reading: every piece is taken out of the text; what is left must be noise ----------------------

def _take(reading: _Reading, pattern: re.Pattern[str], handle) -> None:
    """Run ``handle`` on each match of ``pattern`` and blank the matched span (same length, so the
    positions of times stay comparable for ranges)."""
    chars = list(reading.text)
    for match in list(pattern.finditer(reading.text)):
        if handle(match) is not False:
            chars[match.start():match.end()] = " " * (match.end() - match.start())
    reading.text = "".join(chars)


def _read(text: str) -> _Reading | None:
    """Pieces of a date and a time, or None when unknown words are left (the fallback's turn)."""
    reading = _Reading(text=text)
    if _OR.search(text) and sum(_names_something(part) for part in _OR.split(text) if part) >= 2:
        raise _Refused("two")
    if _AGO.search(text):
        raise _Refused("past")
    _take(reading, _IN, lambda m: _in(reading, m))
    _take(reading, _BARE_RANGE, lambda m: _bare_range(reading, m))
    _take(reading, _RANGE_START, lambda m: _add_time(reading, m, m.group(1) or m.group(2), None, None))
    _take(reading, _ISO, lambda m: _iso(reading, m))
    _take(reading, _AMPM, lambda m: _add_time(reading, m, m.group(1), m.group(2), m.group(3)))
    _take(reading, _HOURS, lambda m: _add_time(reading, m, m.group(1), m.group(2), None, m.group(3)))
    _take(reading, _CLOCK, lambda m: _add_time(reading, m, m.group(1), m.group(2), None))
    _take(reading, _OCLOCK, lambda m: _add_time(reading, m, m.group(1), None, None))
    _take(reading, _THIS, lambda m: reading.dates.append(("rel", (0,))))
    _take(reading, _PERIOD, lambda m: _period(reading, m))
    _take(reading, _NOON, lambda m: _noon(reading, m))
    _take(reading, _RELATIVE_DAYS, lambda m: _relative(reading, m.group(1)))
    _take(reading, _NUMERIC, lambda m: _numeric(reading, m))
    _take(reading, _HOLIDAYS, lambda m: reading.dates.append(("abs", (None, 12, 25) if m.group(1) else (None, 12, 31)
                                                                     if m.group(2) else (None, 1, 1))))
    _take(reading, _DAY_MONTH, lambda m: reading.dates.append(("abs", (_year(m.group(3)), MONTHS[m.group(2)],
                                                                        int(m.group(1))))))
    _take(reading, _MONTH_DAY, lambda m: reading.dates.append(("abs", (_year(m.group(3)), MONTHS[m.group(1)],
                                                                        int(m.group(2))))))
    _take(reading, _WEEKDAY, lambda m: _weekday(reading, m))
    _take(reading, _DAY_OF_MONTH, lambda m: reading.dates.append(("dom", (int(m.group(1) or m.group(2)),))))
    if not reading.times:
        _take(reading, _AFTER_AT, lambda m: _add_time(reading, m, m.group(1), None, None))
    _bare_numbers(reading)
    leftover = [w for w in re.split(r"[\s,'.]+", reading.text) if w and w not in NOISE]
    return None if leftover else reading


def _bare_range(reading: _Reading, m: re.Match[str]) -> bool:
    """Two bare hours joined by "à" / "to": a range of times; its months check is left to the dates."""
    first, second = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    if _MONTH_AFTER.match(reading.text, m.end()):
        return False  # "de 10 à 12 décembre": days, not hours
    start, end = int(first), int(second)
    reading.times.append(_Time(m.start(), m.start() + 1, start, 0))
    reading.times.append(_Time(m.end() - 1, m.end(), end, 0))
    reading.ranged = True
    return True


def _names_something(part: str) -> bool:
    """One side of an "ou" / "or" that names a day or a time: two such sides are two candidates."""
    if part.strip() in ("ou", "or", "sinon", "otherwise", "ou bien", ""):
        return False
    try:
        reading = _read(part.strip())
    except _Refused:
        return True
    return reading is not None and bool(reading.times or reading.dates or reading.offset)


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _numeric(reading: _Reading, m: re.Match[str]) -> None:
    """12/05 is the 12th of May; but "7.30" after "at", or "19.45", can only be a time."""
    first, second, year = int(m.group(1)), int(m.group(2)), m.group(3)
    as_time = "." in m.group(0) and year is None and first <= 23 and second <= 59 and len(m.group(2)) == 2
    before = reading.text[:m.start()].split()[-1:]
    if as_time and (second > 12 or before in (["at"], ["a"], ["vers"], ["around"])):
        _add_time(reading, m, m.group(1), m.group(2), None)
    else:
        reading.dates.append(("abs", (_year(year), second, first)))


def _iso(reading: _Reading, m: re.Match[str]) -> None:
    reading.dates.append(("abs", (int(m.group(1)), int(m.group(2)), int(m.group(3)))))
    if m.group(4):
        _add_time(reading, m, m.group(4), m.group(5), None)


def _add_time(reading: _Reading, m: re.Match[str], hour: str, minute: str | None, meridiem: str | None,
              fraction: str | None = None) -> None:
    """A clock time; impossible ones ("25h", "15h75", "13pm") are refused here with their reason."""
    h, mins = int(hour), int(minute) if minute else 0
    if fraction:
        mins = _MINUTE_WORDS[fraction]
    ampm = None
    if meridiem:
        ampm = "am" if meridiem.startswith("a") else "pm"
        if not 1 <= h <= 12:
            raise _Refused("bad_time")
    if h > 23 or mins > 59:
        raise _Refused("bad_time")
    reading.times.append(_Time(m.start(), m.end(), h, mins, ampm))


def _noon(reading: _Reading, m: re.Match[str]) -> None:
    hour = 12 if m.group(1) in ("midi", "noon", "midday") else 0
    minutes = {"demi": 30, "demie": 30, "quart": 15}.get(m.group(2) or "", 0)
    reading.times.append(_Time(m.start(), m.end(), hour, minutes, "noon" if hour == 12 else "midnight"))


def _period(reading: _Reading, m: re.Match[str]) -> None:
    reading.period = "afternoon" if m.group(1) else "evening" if m.group(2) else "morning"


def _in(reading: _Reading, m: re.Match[str]) -> bool:
    count = int(m.group(1)) if m.group(1).isdigit() else NUMBERS.get(m.group(1))
    if count is None:
        return False
    unit = m.group(2)
    if unit.startswith(("jour", "day")):
        reading.dates.append(("rel", (count,)))
    elif unit.startswith(("semaine", "week")):
        reading.dates.append(("rel", (7 * count,)))
    else:
        reading.offset = timedelta(hours=count) if unit.startswith(("heure", "hour")) else timedelta(minutes=count)
    return True


def _relative(reading: _Reading, word: str) -> None:
    word = re.sub(r"\s+", " ", word)
    if word in ("tonight", "tonite"):
        reading.period = "evening"
    days = {"avant-hier": -2, "avant hier": -2, "hier": -1, "yesterday": -1, "demain": 1, "tomorrow": 1,
            "apres-demain": 2, "apres demain": 2}.get(word)
    if days is None:
        days = 2 if "after" in word else -2 if "before" in word else 0
    reading.dates.append(("rel", (days,)))


def _weekday(reading: _Reading, m: re.Match[str]) -> None:
    before, day, after = (m.group(1) or "").strip(), WEEKDAYS[m.group(2)], re.sub(r"\s+", " ", (m.group(3) or "")
                                                                                     .strip())
    if before == "last" or after in ("dernier", "derniere", "passe"):
        reading.dates.append(("wd", (day, "last")))
    elif after in ("en huit", "en 8", "week", "after next"):
        reading.dates.append(("wd", (day, "plus7")))
    elif after in ("en quinze", "en 15"):
        reading.dates.append(("wd", (day, "plus14")))
    elif after.endswith(("semaine prochaine", "next week")):
        reading.dates.append(("wd", (day, "nextweek")))
    elif before == "next" or after:
        reading.dates.append(("wd", (day, "strict")))
    else:
        reading.dates.append(("wd", (day, "bare")))
        return
    reading.ambiguous = True


def _bare_numbers(reading: _Reading) -> None:
    """A number left alone after a date: "samedi 5" is the 5th, "demain 10" is 10:00."""
    kinds = {kind for kind, _ in reading.dates}
    for m in list(re.finditer(r"\b(\d{1,2})\b", reading.text)):
        number = int(m.group(1))
        if reading.period and not reading.times and number <= 23:  # "tuesday night 8"
            reading.times.append(_Time(m.start(), m.end(), number, 0))
        elif "wd" in kinds and not kinds & {"abs", "dom"} and 1 <= number <= 31:
            reading.dates.append(("dom", (number,)))
        elif kinds and not reading.times and number <= 23:
            reading.times.append(_Time(m.start(), m.end(), number, 0))
        else:
            continue
        reading.text = reading.text[:m.start()] + " " * (m.end() - m.start()) + reading.text[m.end():]
        kinds = {kind for kind, _ in reading.dates}


# ---- resolving: the pieces against now --------------------------------------------------------------

def _resolve(reading: _Reading, now: datetime) -> When:
    zone = now.tzinfo
    assert isinstance(zone, ZoneInfo)
    if reading.offset is not None and not reading.times and not reading.dates:
        moment = (now + reading.offset).replace(second=0, microsecond=0)
        return When(moment=moment)
    starts, ends = _clock(reading)
    dates = reading.dates
    if starts is None and not dates and reading.period is None:
        return When(problem="unknown")
    day = _day(dates, now, starts)
    if starts is None:
        raise _Refused("past" if day is not None and day < now.date() else "no_time")
    if day is None:
        day = now.date()
    if starts == time(0) and reading.times[0].meridiem == "midnight":
        day += timedelta(days=1)  # "minuit", "samedi à minuit": the night after that day
    moment = datetime.combine(day, starts, zone)
    if moment <= now:
        raise _Refused("past")
    if moment - now > MAX_AHEAD:
        raise _Refused("too_far")
    end = None
    if ends is not None:
        end = datetime.combine(day, ends, zone)
        if end <= moment:
            end += timedelta(days=1)
    return When(moment=moment, ends=end, ambiguous=reading.ambiguous)


def _clock(reading: _Reading) -> tuple[time | None, time | None]:
    """Start (and end of a range) as clock times, after am/pm and "ce soir" are applied."""
    times = sorted(reading.times, key=lambda t: t.start)
    if not times:
        return None, None
    if len(times) > 2:
        raise _Refused("two")
    if len(times) == 2:
        between = reading.text[times[0].end:times[1].start]
        if not reading.ranged and not _CONNECTOR.match(between):
            raise _Refused("two")
        if times[0].meridiem is None and times[1].meridiem in ("am", "pm"):
            times[0].meridiem = times[1].meridiem
            if times[0].hour > times[1].hour % 12 and times[1].meridiem == "pm":
                times[0].meridiem = "am"  # "11-2pm": 11 in the morning to 2 in the afternoon
    hours = [_hour(t, reading.period) for t in times]
    start = time(hours[0], times[0].minute)
    end = time(hours[1], times[1].minute) if len(times) == 2 else None
    return start, end


def _hour(t: _Time, period: str | None) -> int:
    if t.meridiem == "am":
        return 0 if t.hour == 12 else t.hour
    if t.meridiem == "pm":
        return 12 if t.hour == 12 else t.hour + 12
    if t.meridiem in ("noon", "midnight"):
        return t.hour
    if period in ("evening", "afternoon") and 1 <= t.hour <= 11:
        return t.hour + 12
    return t.hour


def _day(dates: list[tuple[str, tuple]], now: datetime, starts: time | None) -> date | None:
    """The day the pieces name; a weekday beside a date must agree with it."""
    if not dates:
        return None
    weekdays = [d for d in dates if d[0] == "wd"]
    others = [d for d in dates if d[0] != "wd"]
    if len(weekdays) > 1 or len(others) > 1:
        raise _Refused("two")
    if others:
        day = _one_day(others[0], now, starts)
        if weekdays and weekdays[0][1][0] != day.weekday():
            if weekdays[0][1][1] in ("bare", "strict"):
                raise _Refused("contradiction", day)
            raise _Refused("two")
        return day
    return _weekday_day(*weekdays[0][1], now, starts)


def _ahead(day: date, now: datetime, starts: time | None) -> bool:
    """Still to come: a later day, or today with a time not yet passed."""
    return day > now.date() or (day == now.date() and (starts is None or starts > now.time()))


def _one_day(piece: tuple[str, tuple], now: datetime, starts: time | None) -> date:
    kind, values = piece
    today = now.date()
    if kind == "rel":
        return today + timedelta(days=values[0])
    if kind == "dom":
        return _day_of_month(values[0], now, starts)
    year, month, day = values
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise _Refused("impossible")
    if year is not None:
        return _valid(year, month, day)
    this_year = _valid_or_none(today.year, month, day)
    if this_year is not None and _ahead(this_year, now, starts):
        return this_year
    if this_year is not None and today - this_year <= RECENT_PAST:
        raise _Refused("past")
    return _valid(today.year + 1, month, day) if _valid_or_none(today.year + 1, month, day) else _valid(
        today.year + 2, month, day)


def _day_of_month(number: int, now: datetime, starts: time | None) -> date:
    if not 1 <= number <= 31:
        raise _Refused("impossible")
    today = now.date()
    year, month = today.year, today.month
    for _ in range(3):
        found = _valid_or_none(year, month, number)
        if found is not None and (_ahead(found, now, starts) or found == today):
            return found  # today with its hour past is refused as past by the caller
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise _Refused("impossible")


def _weekday_day(weekday: int, mode: str, now: datetime, starts: time | None) -> date:
    today = now.date()
    ahead = (weekday - today.weekday()) % 7
    if mode == "last":
        raise _Refused("past")
    if mode == "nextweek":
        return today - timedelta(days=today.weekday()) + timedelta(days=7 + weekday)
    if mode == "bare":
        if ahead == 0 and starts is not None and starts <= now.time():
            ahead = 7
        return today + timedelta(days=ahead)
    strict = ahead or 7
    return today + timedelta(days=strict + {"strict": 0, "plus7": 7, "plus14": 14}[mode])


def _valid_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _valid(year: int, month: int, day: int) -> date:
    found = _valid_or_none(year, month, day)
    if found is None:
        raise _Refused("impossible")
    return found


# ---- the last resort ------------------------------------------------------------------------------

_HAS_TIME = re.compile(r"\d{1,2}:\d{2}|\d\s*(am|pm)\b|\b(midi|minuit|noon|midnight)\b")


def _fallback(cleaned: str, now: datetime, zone: ZoneInfo) -> When:
    """Words the tokenizer does not know: dateparser reads them, under the same checks."""
    import dateparser  # loaded on first use: its language data costs a moment at start

    text = normalise(cleaned)
    base = now.astimezone(zone).replace(tzinfo=None)
    settings = {"PREFER_DATES_FROM": "future", "DATE_ORDER": "DMY", "RETURN_AS_TIMEZONE_AWARE": False,
                "RELATIVE_BASE": base}
    parsed = dateparser.parse(text, languages=["fr", "en"], settings=settings)
    if parsed is None:
        return When(problem="unknown")
    if not _HAS_TIME.search(text):
        return When(problem="no_time")
    moment = parsed.replace(tzinfo=zone, second=0, microsecond=0)
    if moment <= now:
        return When(problem="past")
    if moment - now > MAX_AHEAD:
        return When(problem="too_far")
    return When(moment=moment, ambiguous=True)


def week_bounds(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00, local time, around ``moment``: the weekly cap's week."""
    local = moment.astimezone(zone)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday, (monday + timedelta(days=7)).replace(tzinfo=zone)
