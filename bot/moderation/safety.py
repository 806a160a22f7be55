"""Protection of circles, as pure decisions: flooding, links from newcomers, words never relayed.

Kept free of storage and of the core so each rule is unit-tested (and fuzzed) on plain values; the
group hook in ``bot.moderation.protection`` applies them to what neighbours say in their circle rooms.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# A link is anything a chat app would make clickable: a scheme, "www.", a bare domain with a common
# top-level domain, or a Telegram / Matrix invite. Over-matching is fine: the newcomer is only asked
# to wait, nothing is lost.
_LINK = re.compile(
    r"(?:[a-z][a-z0-9+.-]{1,20}://|www\.|\bt\.me/|\bmatrix\.to/|"
    r"\b[a-z0-9-]{2,63}\.(?:com|fr|org|net|io|ly|me|info|biz|xyz|ru|co|be|eu|app|link|site|online|gg)\b)",
    re.IGNORECASE,
)
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def has_link(text: str) -> bool:
    return bool(_LINK.search(text))


def words_of(text: str) -> str:
    """Lower case, no accents, punctuation and emoji as spaces, padded: " nique ta mere ".

    Whole-word matching on this form means "con" never catches "concert" and "C.O.N.N.A.R.D" style
    tricks are at least reduced to their letters.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " " + " ".join(_NOT_WORD.sub(" ", plain).split()) + " "


@dataclass(frozen=True)
class WordList:
    """Words and phrases (already in ``words_of`` form) that a circle never gets relayed."""

    phrases: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> WordList:
        phrases = set()
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                folded = words_of(line)
                if folded.strip():
                    phrases.add(folded)
        return cls(frozenset(phrases))

    @classmethod
    def load(cls, path: Path | None) -> WordList:
        if path is None or not path.is_file():
            return cls()
        return cls.parse(path.read_text(encoding="utf-8"))

    def found_in(self, text: str) -> bool:
        if not self.phrases:
            return False
        plain = words_of(text)
        return any(phrase in plain for phrase in self.phrases)


def is_newcomer(joined_at: datetime | None, now: datetime, hours: int) -> bool:
    """Still in their first ``hours`` in the circle (a missing date counts as settled, not new)."""
    return joined_at is not None and hours > 0 and now - joined_at < timedelta(hours=hours)


def over_limit(times: deque[float], now: float, limit: int, window: float) -> bool:
    """Record a message at ``now`` and say whether more than ``limit`` fell inside ``window`` seconds.

    ``times`` is the sender's recent history, pruned here so it never holds more than the window.
    """
    times.append(now)
    while times and now - times[0] >= window:
        times.popleft()
    while len(times) > limit + 1:
        times.popleft()
    return len(times) > limit


class FloodMeter:
    """Recent message times per person, in memory: a restart forgets them, which only errs on the kind
    side. Memory stays bounded by the number of people who spoke within one window."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._times: dict[int, deque[float]] = {}

    def hit(self, person_id: int, now: float) -> bool:
        if len(self._times) > 10_000:
            self._times = {p: t for p, t in self._times.items() if t and now - t[-1] < self.window}
        times = self._times.setdefault(person_id, deque())
        return over_limit(times, now, self.limit, self.window)

    def forget(self, person_id: int) -> None:
        self._times.pop(person_id, None)

    def history(self, person_id: int) -> tuple[float, ...]:
        """The person's recent message times, to put back with ``restore`` if a message is taken back."""
        return tuple(self._times.get(person_id, ()))

    def restore(self, person_id: int, history: tuple[float, ...]) -> None:
        if history:
            self._times[person_id] = deque(history)
        else:
            self._times.pop(person_id, None)


@dataclass(frozen=True)
class Verdict:
    """What to do with one message in a circle room: relay it, or hold it back and why."""

    relay: bool
    reason: str = ""  # muted | flood | link | word


RELAY = Verdict(True)


def judge(
    text: str,
    *,
    muted: bool,
    flooding: bool,
    newcomer: bool,
    words: WordList,
) -> Verdict:
    """The order matters: a muted person is simply not relayed (no new notice each time), flooding is
    caught before content rules so it is counted, and words before links so a newcomer posting an
    insult with a link is told about the insult."""
    if muted:
        return Verdict(False, "muted")
    if flooding:
        return Verdict(False, "flood")
    if words.found_in(text):
        return Verdict(False, "word")
    if newcomer and has_link(text):
        return Verdict(False, "link")
    return RELAY


def normalise_answer(text: str) -> str:
    return words_of(text).strip()
