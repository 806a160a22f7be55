"""Every sentence a person reads comes from the gettext catalogues in ``content/locales``.

Catalogues are keyed (``msgid "onboarding-consent"``) rather than keyed by English source text, so a
deployment (a town hall, a social centre) can rewrite the English wording as freely as the French one,
and so a test can check that both languages have every key. Each feature keeps its own ``.po`` file
(``onboarding.po``, ``circles.po`` …); all files of a language are merged.

Values put into a sentence are HTML-escaped here, once, so whatever a neighbour or an organizer typed
cannot turn into markup in a Telegram or Matrix message. The result is a ``Localized`` string: the
fake adapter in the tests refuses anything else, which is how a literal sentence in a handler is caught.
"""

from __future__ import annotations

import gettext
import html
import logging
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from babel.dates import format_date, format_datetime, format_time
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


class Localized(str):
    """A sentence from the catalogue with its values escaped: safe to send as HTML."""

    __slots__ = ()

    def __add__(self, other: str) -> Localized:
        if not isinstance(other, Localized):
            return NotImplemented
        return Localized(str.__add__(self, other))

    @staticmethod
    def join(parts: Iterable[Localized], sep: str = "\n") -> Localized:
        return Localized(sep.join(parts))


class _Catalogue:
    """One language: singular strings, plural strings and the plural rule from the .po header."""

    def __init__(self) -> None:
        self.singular: dict[str, str] = {}
        self.plural: dict[str, tuple[str, ...]] = {}
        self.plural_rule = gettext.c2py("n != 1")

    def load(self, path: Path) -> None:
        with path.open("rb") as fh:
            catalog = read_po(fh)
        if catalog.plural_expr:
            self.plural_rule = gettext.c2py(catalog.plural_expr)
        for message in catalog:
            if not message.id:
                continue
            if isinstance(message.id, tuple):
                self.plural[message.id[0]] = tuple(message.string)
            elif message.string:
                self.singular[message.id] = message.string


class Catalogues:
    """All languages, loaded once at start from ``content/locales/<lang>/LC_MESSAGES/*.po``."""

    def __init__(self, locales_dir: Path) -> None:
        self._by_lang: dict[str, _Catalogue] = {}
        for lang in LANGUAGES:
            cat = _Catalogue()
            for po in sorted((locales_dir / lang / "LC_MESSAGES").glob("*.po")):
                cat.load(po)
            self._by_lang[lang] = cat

    def keys(self, lang: str) -> set[str]:
        cat = self._by_lang[lang]
        return set(cat.singular) | set(cat.plural)

    def translator(self, lang: str | None) -> Translator:
        return Translator(self, lang if lang in LANGUAGES else DEFAULT_LANGUAGE)

    def lookup(self, lang: str, key: str) -> str:
        for candidate in (lang, "en"):
            text = self._by_lang[candidate].singular.get(key)
            if text is not None:
                return text
        log.error("missing message %r for %s", key, lang)
        return key

    def lookup_plural(self, lang: str, key: str, n: int) -> str:
        for candidate in (lang, "en"):
            cat = self._by_lang[candidate]
            forms = cat.plural.get(key)
            if forms:
                return forms[min(cat.plural_rule(n), len(forms) - 1)]
        log.error("missing plural message %r for %s", key, lang)
        return key


def _escape(value: object) -> str:
    """Values already localized are trusted; anything else (a name, a title, a place) is escaped."""
    if isinstance(value, Localized):
        return str(value)
    return html.escape(str(value), quote=False)


class Translator:
    """The catalogue of one person's language, with the date formats of that language."""

    def __init__(self, catalogues: Catalogues, lang: str) -> None:
        self._catalogues = catalogues
        self.lang = lang

    def __call__(self, key: str, **values: object) -> Localized:
        template = self._catalogues.lookup(self.lang, key)
        return Localized(template.format(**{k: _escape(v) for k, v in values.items()}))

    def plural(self, key: str, n: int, **values: object) -> Localized:
        template = self._catalogues.lookup_plural(self.lang, key, n)
        escaped = {k: _escape(v) for k, v in values.items()}
        return Localized(template.format(n=n, **escaped))

    def date(self, moment: datetime) -> str:
        """ "samedi 12 décembre" / "Saturday 12 December"."""
        return format_date(moment, "EEEE d MMMM", locale=self.lang)

    def datetime(self, moment: datetime) -> str:
        """ "samedi 12 décembre à 15:00" / "Saturday 12 December at 15:00" in the moment's own zone."""
        day = format_date(moment, "EEEE d MMMM", locale=self.lang)
        hour = format_time(moment, "HH:mm", locale=self.lang)
        return str(self(("date-at-time"), day=day, time=hour))

    def full_date(self, day: date | datetime) -> str:
        """ "samedi 12 décembre 2026": with the year, for a date worth checking."""
        return format_date(day, "EEEE d MMMM y", locale=self.lang)

    def full_datetime(self, moment: datetime) -> str:
        """ "jeudi 3 décembre 2026 à 15:00": what an ambiguous answer ("jeudi prochain") is read as."""
        hour = format_time(moment, "HH:mm", locale=self.lang)
        return str(self("date-at-time", day=self.full_date(moment), time=hour))

    def short_date(self, moment: datetime) -> str:
        return format_datetime(moment, "d MMM y", locale=self.lang)

    def tenths(self, value: float) -> str:
        """A number with one decimal as the language writes it: "0,5" in French, "0.5" in English."""
        return format_decimal(value, format="0.0", locale=self.lang)
