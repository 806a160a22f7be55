"""The short lists people pick from at onboarding: interests, and kinds of help.

Lists live in ``content/`` so a deployment can change them. People may type words instead of tapping
("jardin, belote"): each word is matched, accent- and case-insensitively and with typos tolerated,
to the list's labels and synonyms in both languages.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process


@dataclass(frozen=True)
class Topic:
    key: str
    labels: dict[str, str]  # language -> label
    words: tuple[str, ...]

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels["en"]


def fold(text: str) -> str:
    """Lower case without accents, so "Pétanque" and "petanque" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


class TopicList:
    """One list (interests or help kinds) and the fuzzy matching of typed words to it."""

    def __init__(self, topics: list[Topic]) -> None:
        self.topics = topics
        self._by_key = {t.key: t for t in topics}
        self._choices: list[str] = []
        self._owners: list[str] = []
        for topic in topics:
            for phrase in (*topic.labels.values(), *topic.words, topic.key):
                self._choices.append(fold(phrase))
                self._owners.append(topic.key)

    @classmethod
    def load(cls, path: Path, table: str) -> TopicList:
        with path.open("rb") as fh:
            entries = tomllib.load(fh)[table]
        topics = [Topic(e["key"], {"fr": e["fr"], "en": e["en"]}, tuple(e.get("words", ()))) for e in entries]
        return cls(topics)

    def get(self, key: str) -> Topic | None:
        return self._by_key.get(key)

    def keys(self) -> list[str]:
        return [t.key for t in self.topics]

    def labels(self, keys: tuple[str, ...] | list[str], lang: str) -> list[str]:
        return [self._by_key[k].label(lang) for k in keys if k in self._by_key]

    def match_words(self, text: str) -> tuple[list[str], list[str]]:
        """Split typed text on commas/"et"/"and" and match each part.

        Returns (matched keys, parts that matched nothing) so the answer can say which words were not
        understood instead of silently dropping them.
        """
        parts = [p.strip() for p in re.split(r",|;|/|\bet\b|\band\b|\+|\n", text) if p.strip()]
        found: list[str] = []
        unknown: list[str] = []
        for part in parts[:20]:
            key = self._match_one(fold(part)[:60])
            if key is None:
                unknown.append(part[:60])
            elif key not in found:
                found.append(key)
        return found, unknown

    def _match_one(self, word: str) -> str | None:
        if not word:
            return None
        best = process.extractOne(word, self._choices, scorer=fuzz.WRatio, score_cutoff=82)
        return self._owners[best[2]] if best else None
