"""Places: turning what a resident types ("bellevile", "75020", "Paris 20ème") into a neighbourhood.

Residents are often older and not technical; the neighbourhood question is the first thing they type
freely, and a "not found" there loses people. So matching forgives accents, case, "St"/"Ste",
"20e"/"XXe"/"arrondissement", typos and homonyms, and when it is unsure it asks with buttons
("choose") rather than guessing.

Two tiers of places, always tried in this order:

1. the deployment's own neighbourhoods (TOML files under ``content/places/``, ids ``nb:<slug>``):
   the circles live there, so a Paris deployment typing "belleville" must get Belleville (Paris 20e),
   never the commune Belleville in Meurthe-et-Moselle;
2. France's communes (``content/data/communes-fr.tsv.gz``, ids ``insee:<code>``): the fallback for
   someone outside the deployment's area, so the bot can still say where they are.

Everything here is pure and platform-free except :func:`load_places`, which reads the files once at
start. Matching must stay under 1 ms at p99 over ~40,000 names on one core (``bench/bench_places.py``):
exact names, aliases, postal codes and communes are dict lookups; fuzzy matching runs rapidfuzz on a
few hundred candidates found through a trigram index, never on the whole list.
"""

from __future__ import annotations

import csv
import gzip
import math
import re
import tomllib
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from bot.core import answers

# --- Tuning, with the reason for each figure --------------------------------------------------------

#: Longer input is not a place name (the longest commune name is 45 characters); refusing it early
#: keeps a pasted essay from costing anything.
MAX_QUERY_CHARS = 200
#: Fuzzy matching on one or two characters matches everything; such queries must be exact.
MIN_FUZZY_CHARS = 3
#: Below this score (0-100) a candidate is noise. 75 keeps one or two typos in a short name
#: ("bellevile" scores 95, "charone" 93) and drops unrelated names that share a few letters.
FUZZY_CUTOFF = 75.0
#: A fuzzy winner is "found" only with at least this score and this lead over the runner-up;
#: otherwise the resident chooses among the candidates. 85 lets one wrong letter in an eight-letter
#: name ("charonme", 87.5) through.
FOUND_SCORE = 85.0
FOUND_MARGIN = 8.0
#: A tier with at most this many keys is scored whole, and also word by word so that a sentence
#: ("j'habite à Belleville", "rue de Charonne") finds the name in it; larger tiers go through the
#: trigram index and match the whole text only.
SMALL_TIER_KEYS = 2_000
#: A name found among other words scores a little less than the same name typed alone, so that the
#: whole text wins a tie, and only the first words of a long text are searched.
WORDS_FACTOR = 0.95
MAX_WORDS = 12
#: Fuzzy candidates in a large tier are the keys sharing one of the query's rarest trigrams, counted
#: only among keys whose length can reach the cutoff at all. One typo destroys at most three trigrams,
#: so five lists keep the best name among the candidates (measured: 0 misses against a brute-force
#: scan in 800 one-typo names), and a budget on their total length stops short queries made of
#: common trigrams ("aville": "ill", "lle") from costing a millisecond.
CANDIDATE_GRAM_LISTS = 5
CANDIDATE_BUDGET = 1_500
#: A name matched with typos is used without asking only when it is long enough for them: no typo
#: below this length, one (a swapped pair of letters counts as one) from it, two from the second.
ONE_TYPO_CHARS = 7
TWO_TYPOS_CHARS = 12
#: "vitry" → the communes whose compound name starts with it, when there are at most this many (a
#: bare "saint" is not a prefix worth listing).
MAX_PREFIXED = 200
#: Postal codes shared by many quarters (75020 has 7): all of them are offered, up to this many.
POSTAL_LIMIT = 12
#: A shared location selects a neighbourhood only within this distance of its centroid, because a
#: quarter is about a kilometre across and a wrong circle is worse than asking.
NEIGHBOURHOOD_RADIUS_KM = 3.0
#: ... and, when no neighbourhood is that close, a commune with a centroid within this distance.
COMMUNE_RADIUS_KM = 10.0

Outcome = Literal["found", "confirm", "choose", "none"]


@dataclass(frozen=True, slots=True)
class Place:
    """A neighbourhood of the deployment or a French commune: what a resident can be placed in."""

    id: str
    name: str
    commune: str
    postal_codes: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    centroid: tuple[float, float] | None = None
    kind: str = "neighbourhood"
    population: int | None = None
    department: str = ""  # a commune's department by name ("Corse-du-Sud"), when known

    @property
    def spoken(self) -> str:
        """How a person would say which one it is: "Salice (Corse-du-Sud)" rather than a postal code,
        for the question "did you mean …?"; the button label otherwise."""
        return f"{self.name} ({self.department})" if self.kind == "commune" and self.department else self.label

    @property
    def label(self) -> str:
        """What a button shows: enough to tell homonyms apart.

        A neighbourhood shows its commune ("Belleville (Paris 20e)"); a commune its postal code
        ("Die (26150)"), which is how the French tell two Saint-Martin apart; a former commune without
        a code of its own shows the commune it now belongs to.
        """
        if self.kind != "commune":
            return f"{self.name} ({self.commune})"
        if self.postal_codes:
            return f"{self.name} ({self.postal_codes[0]})"
        if self.commune and self.commune != self.name:
            return f"{self.name} ({self.commune})"
        return self.name


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """The answer to what a resident typed.

    ``found``: exactly one place, sure enough to use. ``confirm``: one place, but found with more typos
    than a name of its length allows ("alice" → Salice): ask "did you mean …?". ``choose``:
    2..limit candidates, best first, to offer as buttons. ``none``: nothing plausible; ask again with
    :meth:`PlaceIndex.examples`.
    """

    outcome: Outcome
    places: tuple[Place, ...]


NO_MATCH = PlaceMatch("none", ())

# --- Normalization --------------------------------------------------------------------------------

# Letters that NFKD does not decompose into a base letter plus accents.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ß": "ss",
                            "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "’": "'"})
# "XXe", "IVème", "Ier": only upper-case numerals with a lower-case suffix, so that words such as
# "Vie" (Saint-Gilles-Croix-de-Vie) or "VIE" typed in capitals stay words.
_ROMAN_ORDINAL = re.compile(r"\b([IVX]{1,5})(?:e|è|ème|eme|er|ère|ere|re)\b")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
_COMBINING = re.compile(r"[\u0300-\u036f]+")  # the accents NFKD splits off Latin letters
_NON_ALNUM = re.compile(r"[^a-z0-9]+")  # after folding: punctuation, dashes, emoji, other scripts
_ORDINAL = re.compile(r"^(\d{1,2})(?:e|eme|er|ere|re|nd|nde)$")
_ORDINAL_SUFFIXES = frozenset({"e", "eme", "er", "ere", "re"})
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_DROPPED = frozenset({"arrondissement", "arrondissements", "arr", "arrt", "ardt", "arrdt"})
_ARTICLES = ("le ", "la ", "les ", "l ")


def _roman_to_int(numeral: str) -> int | None:
    """Value of a Roman numeral, or None when it is not a well-formed one between 1 and 20."""
    total = 0
    for char, following in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _ROMAN_VALUES[char]
        total += -value if following and _ROMAN_VALUES[following] > value else value
    return total if 1 <= total <= 20 and _int_to_roman(total) == numeral else None


def _int_to_roman(value: int) -> str:
    """Roman numeral for 1..39, to check that a parsed numeral was written canonically."""
    tens, units = divmod(value, 10)
    return "X" * tens + ["", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX"][units]


def _replace_roman(match: re.Match[str]) -> str:
    value = _roman_to_int(match.group(1))
    return match.group(0) if value is None else str(value)


def normalize(text: str) -> str:
    """Fold text into the form every name, alias and query is compared in.

    Accents and case are folded (people type "menilmontant" on phones without accents), punctuation
    becomes a space ("Père-Lachaise" = "pere lachaise"), "St"/"Ste" become "saint"/"sainte", ordinals
    lose their suffix ("20e", "20ème", "XXe" → "20", as in "Paris XXe") and "arrondissement"/"arr"
    are dropped, so "Paris 20e arrondissement" and "paris 20" are the same key. Letters outside the
    Latin alphabet and emoji are dropped: no place name here has them.
    """
    text = _ROMAN_ORDINAL.sub(_replace_roman, text.translate(_LIGATURES))
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()
    tokens: list[str] = []
    for token in _NON_ALNUM.sub(" ", text).split():
        if token in _DROPPED or (token in _ORDINAL_SUFFIXES and tokens and tokens[-1].isdigit()):
            continue
        ordinal = _ORDINAL.match(token)
        tokens.append(ordinal.group(1) if ordinal else _ABBREVIATIONS.get(token, token))
    return " ".join(tokens)


def _keys(place: Place) -> list[str]:
    """The normalized names a place answers to: its name, its aliases, and each without its article.

    "Le Mans" also answers to "mans": people often leave the article out, and with it the name is too
    different for the fuzzy cutoff.
    """
    keys: list[str] = []
    for name in (place.name, *place.aliases):
        key = normalize(name)
        for candidate in (key, *(key[len(a):] for a in _ARTICLES if key.startswith(a))):
            if candidate and candidate not in keys:
                keys.append(candidate)
    return keys


def _city_part(commune_key: str) -> str:
    """ "paris 20" → "paris": a deployment's neighbourhoods also answer to their city's bare name."""
    tokens = commune_key.split()
    while len(tokens) > 1 and tokens[-1].isdigit():
        tokens.pop()
    return " ".join(tokens)


#: What people type at the place question that is not a place: yes, no, done, hello, thanks. Never offered
#: as places ("oui" used to offer Bouin, Louin and Nouic). Names of real places are taken out of it
#: when the index is built (there is a commune called Aucun).
ORDINARY_WORDS = frozenset(
    w for w in (*answers.YES_WORDS, *answers.NO_WORDS, *answers.FINISH_WORDS,
                *answers.GREETINGS["fr"], *answers.GREETINGS["en"],
                "merci", "merci beaucoup", "thanks", "thank you", "svp", "s il vous plait", "stp", "aide", "help",
                "je ne sais pas", "sais pas", "aucune idee", "no idea", "rien", "nothing", "test", "quoi", "what")
    if len(w) >= 2
)
_NTH_OF = re.compile(r"^(\d{1,2}) (?:de |d |du )?([a-z][a-z ]*)$")  # "7 de paris" (7e arrondissement de Paris)
_DEPARTMENT = re.compile(r"^(?:0[1-9]|[1-8]\d|9[0-5]|2a|2b|97[1-6])$")


def _nth_first(query: str) -> str | None:
    """ "7 de paris" (typed "7e arrondissement de Paris") → "paris 7", how the index names it."""
    found = _NTH_OF.match(query)
    return f"{found.group(2)} {found.group(1)}" if found else None


def _department(query: str) -> tuple[str, str] | None:
    """ "saint denis 93" → ("saint denis", "93"): a name with its department number before or after."""
    tokens = query.split()
    if len(tokens) < 2:
        return None
    for token, rest in ((tokens[-1], tokens[:-1]), (tokens[0], tokens[1:])):
        if _DEPARTMENT.match(token) and any(not t.isdigit() for t in rest):
            code = "20" if token in ("2a", "2b") else token
            return " ".join(rest), code
    return None


def typos(query: str, place: Place) -> int:
    """How many typos separate what was typed from the closest of the place's names, a swapped pair of
    letters counting as one; a name among other words ("j habite a bellevile") is compared alone."""
    words = query.split()
    best = len(query)
    for key in _cached_keys(place):
        size = key.count(" ") + 1
        windows = {" ".join(words[i:i + size]) for i in range(max(1, len(words) - size + 1))}
        for window in windows:
            best = min(best, DamerauLevenshtein.distance(window, key, score_cutoff=best))
    return best


@lru_cache(maxsize=4096)
def _cached_keys(place: Place) -> tuple[str, ...]:
    """A place's names, normalized once: asked again for every "found" that had typos."""
    return tuple(_keys(place))


def confident(query: str, place: Place) -> bool:
    """Sure enough to use without asking: no typo in a short name, one in a name of seven letters or
    more, two in a long one ("alice" is one letter from Salice: that is asked)."""
    length = len(query.replace(" ", ""))
    allowed = (length >= ONE_TYPO_CHARS) + (length >= TWO_TYPOS_CHARS)
    return typos(query, place) <= allowed


# --- One tier of places ---------------------------------------------------------------------------


def _trigrams(key: str) -> set[str]:
    padded = f" {key} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


class _Tier:
    """The lookups over one tier (deployment or national), built once.

    Keys are unique normalized names; each maps to the places that answer to it (homonyms share a
    key, so "saint martin" is one key with many communes and they always score the same).
    """

    def __init__(self, places: Sequence[Place]) -> None:
        self.places = tuple(places)
        by_key: dict[str, list[int]] = {}
        postal: dict[str, list[int]] = {}
        communes: dict[str, list[int]] = {}
        self.place_keys: list[tuple[str, ...]] = []
        for index, place in enumerate(self.places):
            keys = tuple(_keys(place))
            self.place_keys.append(keys)
            for key in keys:
                by_key.setdefault(key, []).append(index)
            for code in dict.fromkeys(place.postal_codes):
                postal.setdefault(code, []).append(index)
            if place.kind != "commune":
                commune_key = normalize(place.commune)
                for key in dict.fromkeys((commune_key, _city_part(commune_key))):
                    if key:
                        communes.setdefault(key, []).append(index)
        # Keys sorted by length: each trigram's posting list (ascending key ids) is then also sorted by
        # key length, so the keys of a length range are one slice of it, found by bisection.
        self.keys: list[str] = sorted(by_key, key=len)
        self.key_places: list[tuple[int, ...]] = [tuple(by_key[key]) for key in self.keys]
        self.exact: dict[str, int] = {key: i for i, key in enumerate(self.keys)}
        lengths = [len(key) for key in self.keys]
        self._first_of_length = [bisect_left(lengths, n) for n in range(max(lengths, default=0) + 2)]
        self.postal = {code: tuple(v) for code, v in postal.items()}
        self.communes = {key: tuple(v) for key, v in communes.items()}
        # First word → ids of the compound names starting with it ("vitry" → "vitry sur seine", …), not
        # a city's arrondissements ("lyon 3"): what a bare prefix offers.
        compounds: dict[str, list[int]] = {}
        for key_id, key in enumerate(self.keys):
            first, _, rest = key.partition(" ")
            if rest and not rest.isdigit():
                compounds.setdefault(first, []).append(key_id)
        self.compounds = {first: tuple(ids) for first, ids in compounds.items()}
        small = len(self.keys) <= SMALL_TIER_KEYS
        self.grams: dict[str, array[int]] = {} if small else self._build_grams()
        self._by_word_count: dict[int, tuple[list[int], list[str]]] = {}
        for key_id, key in enumerate(self.keys if small else ()):
            ids, keys = self._by_word_count.setdefault(key.count(" ") + 1, ([], []))
            ids.append(key_id)
            keys.append(key)

    def _build_grams(self) -> dict[str, array[int]]:
        """Trigram → ascending key ids, as compact int arrays (a tuple of ints would cost 9x more)."""
        grams: dict[str, array[int]] = {}
        for key_id, key in enumerate(self.keys):
            for gram in _trigrams(key):
                ids = grams.get(gram)
                if ids is None:
                    grams[gram] = ids = array("i")
                ids.append(key_id)
        return grams

    def _id_range(self, query_length: int) -> tuple[int, int]:
        """Key ids whose length lets ratio reach :data:`FUZZY_CUTOFF` against the query.

        ratio = 2·matches / (len1 + len2) ≤ 2·min / (len1 + len2), so a key shorter than c/(2-c) or
        longer than (2-c)/c times the query (c = cutoff/100) can never score enough.
        """
        c = FUZZY_CUTOFF / 100
        shortest = math.ceil(query_length * c / (2 - c))
        longest = math.floor(query_length * (2 - c) / c)
        last = len(self._first_of_length) - 1
        return self._first_of_length[min(shortest, last)], self._first_of_length[min(longest + 1, last)]

    def prefixed(self, query: str) -> list[Place]:
        """Places whose compound name starts with the query as whole words ("vitry" → Vitry-sur-Seine,
        Vitry-le-François), not the arrondissements of a city ("lyon" → not "lyon 3"); nothing when
        more than :data:`MAX_PREFIXED` do (a bare "saint")."""
        key_ids = self.compounds.get(query.partition(" ")[0], ())
        if " " in query:
            start = query + " "
            if len(key_ids) > 2 * MAX_PREFIXED:  # "saint …": too common a first word to sift
                return []
            key_ids = tuple(i for i in key_ids if self.keys[i].startswith(start))
        if len(key_ids) > MAX_PREFIXED:
            return []
        return [self.places[i] for key_id in key_ids for i in self.key_places[key_id]]

    def exact_places(self, key: str) -> list[Place]:
        key_id = self.exact.get(key)
        return [] if key_id is None else [self.places[i] for i in self.key_places[key_id]]

    def fuzzy(self, query: str) -> dict[int, float]:
        """Best fuzzy score of the whole query per place index, for scores at or above the cutoff.

        ``fuzz.ratio`` (an edit-distance similarity) on normalized strings: it counts typos and
        nothing else. WRatio was tried and dropped: its partial and token-set parts give 85+ to any
        text sharing one word with a name ("la", "saint"), and to "Belleville-sur-Meuse" for
        "belleville". A small tier is scored whole; a large one only on its trigram candidates, which
        is what keeps the national list under a millisecond.
        """
        if self.grams:
            key_ids = self._candidates(query)
            if not key_ids:
                return {}
            choices = itemgetter(*key_ids)(self.keys) if len(key_ids) > 1 else (self.keys[key_ids[0]],)
        else:
            key_ids, choices = list(range(len(self.keys))), self.keys
        scores: dict[int, float] = {}
        self._collect(query, choices, key_ids, 1.0, scores)
        return scores

    def fuzzy_words(self, query: str) -> dict[int, float]:
        """Best score per place index of a name found among the query's words (small tiers only).

        Each run of consecutive words is compared with the keys having as many words, so "j habite a
        bellevile" finds Belleville with its typo; the score is scaled by :data:`WORDS_FACTOR`.
        """
        words = query.split()[:MAX_WORDS]
        scores: dict[int, float] = {}
        if len(words) < 2:
            return scores
        for count, (key_ids, choices) in self._by_word_count.items():
            for start in range(len(words) - count + 1 if count < len(words) else 0):
                window = " ".join(words[start:start + count])
                if len(window) >= MIN_FUZZY_CHARS:
                    self._collect(window, choices, key_ids, WORDS_FACTOR, scores)
        return scores

    def _collect(self, text: str, choices: Sequence[str], key_ids: Sequence[int], factor: float,
                 scores: dict[int, float]) -> None:
        """Score ``text`` against ``choices`` and keep each place's best score (times ``factor``)."""
        results = process.extract(text, choices, scorer=fuzz.ratio, processor=None,
                                  score_cutoff=FUZZY_CUTOFF / factor, limit=None)
        for _choice, raw, position in results:
            score = raw * factor
            for place_index in self.key_places[key_ids[position]]:
                if score > scores.get(place_index, -1.0):
                    scores[place_index] = score

    def _candidates(self, query: str) -> list[int]:
        """Ids of the keys of a plausible length sharing one of the query's rarest trigrams."""
        low, high = self._id_range(len(query))
        slices = []
        for gram in _trigrams(query):
            ids = self.grams.get(gram)
            if ids:
                start, end = bisect_left(ids, low), bisect_left(ids, high)
                if end > start:
                    slices.append((end - start, start, end, ids))
        slices.sort(key=itemgetter(0))
        chosen: list[array[int]] = []
        total = 0
        for size, start, end, ids in slices[:CANDIDATE_GRAM_LISTS]:
            if len(chosen) >= 2 and total + size > CANDIDATE_BUDGET:
                break
            chosen.append(ids[start:end])
            total += size
        return list(set().union(*chosen))


# --- The index ------------------------------------------------------------------------------------


def _population(place: Place) -> int:
    return place.population or 0


def _choose_or_found(places: Sequence[Place], limit: int) -> PlaceMatch:
    """One place is found; several are offered, in the order given, at most ``limit``."""
    unique = tuple(dict.fromkeys(places))[:limit]
    if not unique:
        return NO_MATCH
    return PlaceMatch("found", unique) if len(unique) == 1 else PlaceMatch("choose", unique)


def _by_population(places: Iterable[Place]) -> list[Place]:
    """Homonym communes, biggest first: the bigger one is likelier to be meant (stable for ties)."""
    return sorted(places, key=_population, reverse=True)


def _decide(scored: Sequence[tuple[float, Place]], limit: int) -> PlaceMatch:
    """Found for a clear winner, choose for a close call, none when nothing scored.

    ``scored`` is best first. A clear winner has a high score and a lead over the runner-up, or no
    runner-up at all (the cutoff already kept only plausible names).
    """
    if not scored:
        return NO_MATCH
    if len(scored) == 1:
        return PlaceMatch("found", (scored[0][1],))
    (best, winner), (runner_up, _) = scored[0], scored[1]
    if best >= FOUND_SCORE and best - runner_up >= FOUND_MARGIN:
        return PlaceMatch("found", (winner,))
    return _choose_or_found([place for _, place in scored], limit)


def _ask_unless_sure(query: str, match: PlaceMatch, *, exact: bool = True) -> PlaceMatch:
    """A place found with more typos than its length allows (or only by the start of its name, when
    ``exact`` is False) becomes a question: "did you mean …?"."""
    if match.outcome != "found" or (exact and confident(query, match.places[0])):
        return match
    return PlaceMatch("confirm", match.places)


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine): exact enough and cheap for a few hundred centroids."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


class PlaceIndex:
    """All places of a deployment, indexed once for fast, forgiving lookups.

    Places whose id starts with ``insee:`` form the national tier; every other place (``nb:…``) is the
    deployment's tier and always wins when it matches well — see :meth:`match`.
    """

    def __init__(self, places: Iterable[Place]) -> None:
        all_places = tuple(places)
        self._by_id: dict[str, Place] = {}
        for place in all_places:
            if place.id in self._by_id:
                raise ValueError(f"duplicate place id {place.id!r}")
            self._by_id[place.id] = place
        self._local = _Tier([p for p in all_places if not p.id.startswith("insee:")])
        self._national = _Tier([p for p in all_places if p.id.startswith("insee:")])
        self._located = [p for p in self._local.places if p.centroid is not None]
        self._ordinary = {w for w in ORDINARY_WORDS if w not in self._local.exact and w not in self._national.exact}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Place]:
        """Every place, deployment's first, in the order given."""
        return iter(self._by_id.values())

    @property
    def key_count(self) -> int:
        """Distinct normalized names and aliases indexed, over both tiers (for the benchmark)."""
        return len(self._local.keys) + len(self._national.keys)

    def get(self, place_id: str) -> Place | None:
        return self._by_id.get(place_id)

    def examples(self, n: int = 3) -> list[str]:
        """Names of the deployment's neighbourhoods, in file order, to suggest after a "none"."""
        return [p.name for p in self._local.places if p.kind != "commune"][:max(0, n)]

    def match(self, text: str, limit: int = 4) -> PlaceMatch:
        """What the resident meant by ``text``; never raises on any input.

        Tried in order, the first step that finds something answers:

        1. a deployment name or alias, exactly (after :func:`normalize`);
        2. a postal code (with optional words to pick among its places: "75020 belleville") —
           deployment places with that code, else communes;
        3. a deployment commune ("paris 20e", "Paris", "Honfleur") → its neighbourhoods;
        4. a commune's exact name ("Die", "paris 20" when the deployment has nothing there); homonyms
           are offered biggest first. If a deployment name also scores high fuzzily ("belleville sur
           meuse" vs Belleville) both are offered, because an exact commune is evidence and a close
           neighbourhood is what the deployment is for;
        5. a deployment name fuzzily (the whole text), when it scores at least :data:`FOUND_SCORE`;
        6. deployment names (also found among the words) and communes fuzzily together, best score
           first, deployment first on a tie.

        ``limit`` (at least 2) caps the candidates of a "choose".
        """
        limit = max(2, limit)
        if not text or len(text) > MAX_QUERY_CHARS:
            return NO_MATCH
        query = normalize(text)
        if not query or query in self._ordinary:
            return NO_MATCH
        query = _nth_first(query) or query
        local_exact = self._local.exact_places(query)
        if local_exact:
            return _choose_or_found(local_exact, limit)
        postal = self._match_postal(query, limit)
        if postal is not None:
            return postal
        if query.replace(" ", "").isdigit():
            return NO_MATCH  # "1", "20", "2 5": an answer to another question, never a place
        if query in self._local.communes:
            return _choose_or_found([self._local.places[i] for i in self._local.communes[query]], limit)
        department = _department(query)
        if department and query not in self._national.exact:
            found = self._match_department(*department, limit)
            if found is not None:
                return found
        return self._match_names(query, limit)

    def _match_department(self, name: str, code: str, limit: int) -> PlaceMatch | None:
        """ "saint denis 93": the places of that name (exactly, as the start of a compound name, or
        fuzzily) whose postal code is in the department; None when there are none."""
        def inside(places: Iterable[Place]) -> list[Place]:
            return [p for p in places if any(c.startswith(code) for c in p.postal_codes)]

        exact = inside(_by_population(self._national.exact_places(name)))
        if exact:
            return _choose_or_found(exact, limit)
        prefixed = inside(_by_population(self._national.prefixed(name))) if len(name) >= 4 else []
        if prefixed:
            return _ask_unless_sure(name, _choose_or_found(prefixed, limit), exact=False)
        if len(name.replace(" ", "")) < MIN_FUZZY_CHARS:
            return None
        scored = [sp for sp in self._scored(self._national, self._national.fuzzy(name)) if inside([sp[1]])]
        return _ask_unless_sure(name, _decide(scored, limit), exact=False) if scored else None

    def _match_names(self, query: str, limit: int) -> PlaceMatch:
        """Steps 4-6 of :meth:`match`: exact communes, then fuzzy in both tiers."""
        fuzzy_ok = len(query.replace(" ", "")) >= MIN_FUZZY_CHARS
        whole = self._local.fuzzy(query) if fuzzy_ok else {}
        in_words = self._local.fuzzy_words(query) if fuzzy_ok else {}
        best = {i: max(whole.get(i, 0.0), in_words.get(i, 0.0)) for i in whole.keys() | in_words.keys()}
        local = self._scored(self._local, best)
        national_exact = _by_population(self._national.exact_places(query))
        if national_exact:
            if len(national_exact) > 1 and len(query) >= 4:
                prefixed = self._national.prefixed(query)
                # "neuilly" is already a question: the villages called Neuilly, then Neuilly-sur-Seine and
                # the other compound names bigger than all of them.
                biggest = _population(national_exact[0])
                national_exact += _by_population(p for p in prefixed if _population(p) > biggest)
            # Room is kept for the close neighbourhoods even when the commune has many homonyms.
            strong = [place for score, place in local if score >= FOUND_SCORE][:limit - 1]
            return _choose_or_found([*national_exact[:limit - len(strong)], *strong], limit)
        local_whole = self._scored(self._local, whole)
        if local_whole and local_whole[0][0] >= FOUND_SCORE:
            return _ask_unless_sure(query, _decide(local_whole, limit))
        prefixed = self._national.prefixed(query) if len(query) >= 4 else []
        if len(prefixed) > 1:  # "vitry", "cherbourg": the communes whose name starts with it
            return _choose_or_found(_by_population(prefixed), limit)
        if not fuzzy_ok:
            return NO_MATCH
        # A name found among words ("bellevile" in "bellevile sur meuse") competes with communes.
        national = self._scored(self._national, self._national.fuzzy(query))
        merged = sorted(local + national, key=lambda sp: -sp[0])  # stable: deployment first on ties
        if not merged and prefixed:  # one compound name starts with it, nothing is close: ask
            return PlaceMatch("confirm", tuple(prefixed))
        return _ask_unless_sure(query, _decide(merged, limit))

    @staticmethod
    def _scored(tier: _Tier, scores: dict[int, float]) -> list[tuple[float, Place]]:
        """(score, place) best first; homonyms of equal score biggest first."""
        pairs = [(score, tier.places[i]) for i, score in scores.items()]
        pairs.sort(key=lambda sp: (-sp[0], -_population(sp[1]), sp[1].name))
        return pairs

    def _match_postal(self, query: str, limit: int) -> PlaceMatch | None:
        """Step 2 of :meth:`match`, or None when the query holds no postal code we know.

        The words beside the code, if any, pick among that code's places ("26150 die"); if they
        match none of them, all the code's places are offered.
        """
        tokens = query.split()
        codes = [t for t in tokens if len(t) == 5 and t.isdigit()]
        if len(codes) != 1:
            return None
        code = codes[0]
        tier = self._local if code in self._local.postal else self._national
        indexes = tier.postal.get(code, ())
        if not indexes:
            return None
        if tier is self._national:
            indexes = sorted(indexes, key=lambda i: _population(tier.places[i]), reverse=True)
        places = [tier.places[i] for i in indexes]
        rest = " ".join(t for t in tokens if t != code)
        if rest:
            scored = [(max((fuzz.WRatio(rest, k, processor=None) for k in tier.place_keys[i]), default=0.0),
                       tier.places[i]) for i in indexes]
            scored = sorted([sp for sp in scored if sp[0] >= FUZZY_CUTOFF], key=lambda sp: -sp[0])
            if scored:
                return _decide(scored, limit)
        return _choose_or_found(places, max(limit, POSTAL_LIMIT))  # every quarter of the code

    def around(self, place_id: str, radius_km: float) -> list[tuple[float, Place]]:
        """The deployment's other neighbourhoods whose centroid lies within ``radius_km`` of this place's,
        nearest first, with their distance in km (none when the place has no centroid). Communes are
        left out: a circle lives in a neighbourhood."""
        place = self.get(place_id)
        if place is None or place.centroid is None:
            return []
        near = [(_distance_km(place.centroid, p.centroid), p) for p in self._located
                if p.id != place.id and p.kind != "commune" and p.centroid is not None]
        return sorted((dp for dp in near if dp[0] <= radius_km), key=lambda dp: (dp[0], dp[1].id))

    def nearest(self, lat: float, lon: float) -> Place | None:
        """The place for a shared location, or None when the deployment has nothing near it.

        The nearest deployment neighbourhood with a centroid within :data:`NEIGHBOURHOOD_RADIUS_KM`;
        failing that, the nearest place of kind "commune" with a centroid within
        :data:`COMMUNE_RADIUS_KM`; failing that None (then the resident types their neighbourhood).
        A far-away neighbourhood is never returned: a wrong circle is worse than a question. National
        communes carry no centroid in the bundled data, so only the deployment's places take part.
        """
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        for wanted_commune, radius in ((False, NEIGHBOURHOOD_RADIUS_KM), (True, COMMUNE_RADIUS_KM)):
            near = [(_distance_km((lat, lon), p.centroid), p) for p in self._located
                    if (p.kind == "commune") == wanted_commune and p.centroid is not None]
            near = [dp for dp in near if dp[0] <= radius]
            if near:
                return min(near, key=lambda dp: dp[0])[1]
        return None


# --- Loading --------------------------------------------------------------------------------------

_NATIONAL_HEADER = ["insee", "name", "postal_codes", "departement", "population", "type", "parent"]
_FORMER_COMMUNE_TYPES = {"commune-deleguee": "deleguee", "commune-associee": "associee"}


def _place_from_toml(entry: dict[str, Any], where: str) -> Place:
    """One ``[[place]]`` table; a mistake is reported with its file and position, for volunteers."""
    missing = [k for k in ("id", "name", "commune", "postal_codes") if k not in entry]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if str(entry["id"]).startswith("insee:"):
        raise ValueError(f"{where}: id {entry['id']!r}: 'insee:' is reserved for the national list")
    centroid = entry.get("centroid")
    if centroid is not None and (len(centroid) != 2 or not all(isinstance(c, int | float) for c in centroid)):
        raise ValueError(f"{where}: centroid must be [latitude, longitude], got {centroid!r}")
    codes = tuple(str(c) for c in entry["postal_codes"])
    if not all(len(c) == 5 and c.isdigit() for c in codes):
        raise ValueError(f"{where}: postal_codes must be five-digit strings, got {list(codes)!r}")
    return Place(
        id=str(entry["id"]),
        name=str(entry["name"]),
        commune=str(entry["commune"]),
        postal_codes=codes,
        aliases=tuple(str(a) for a in entry.get("aliases", ())),
        centroid=(float(centroid[0]), float(centroid[1])) if centroid is not None else None,
        kind=str(entry.get("kind", "neighbourhood")),
        population=int(entry["population"]) if "population" in entry else None,
    )


def _read_neighbourhoods(path: Path) -> list[Place]:
    with path.open("rb") as file:
        data = tomllib.load(file)
    return [_place_from_toml(entry, f"{path} [[place]] #{n}") for n, entry in
            enumerate(data.get("place", []), start=1)]


def _read_national(path: Path) -> list[Place]:
    """Communes from the generated TSV (see ``content/data/README.md``).

    Ids are ``insee:<code>``, and ``insee:<code>:deleguee``/``:associee`` for former communes, whose
    INSEE code is often their commune nouvelle's. A city with arrondissements (Paris, Lyon, Marseille)
    keeps no postal code of its own, so that "75020" means the 20e and not also the whole of Paris.
    """
    with gzip.open(path, "rt", encoding="utf-8", newline="") as file:
        reader = csv.reader(file, delimiter="\t")
        header = next(reader, None)
        if header != _NATIONAL_HEADER:
            raise ValueError(f"{path}: expected columns {_NATIONAL_HEADER}, got {header}")
        rows = list(reader)
    departments = _read_departments(path.parent / "departements.tsv")
    names = {row[0]: row[1] for row in rows if row[5] == "commune-actuelle"}
    cities = {row[6] for row in rows if row[5] == "arrondissement-municipal"}
    places = []
    for code, name, postal, dept, population, kind, parent in rows:
        suffix = _FORMER_COMMUNE_TYPES.get(kind)
        places.append(Place(
            id=f"insee:{code}:{suffix}" if suffix else f"insee:{code}",
            name=name,
            commune=names.get(parent, name) if suffix else name,
            postal_codes=() if code in cities and kind == "commune-actuelle" else tuple(postal.split()),
            kind="commune",
            population=int(population) if population else None,
            department=departments.get(dept, ""),
        ))
    return places


def _read_departments(path: Path) -> dict[str, str]:
    """Department code → name ("2A" → "Corse-du-Sud"), from the file beside the communes; none if absent."""
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file, delimiter="\t"))
    return {code: name for code, name in rows[1:]}


def load_places(neighbourhood_files: Sequence[Path], national_file: Path | None = None) -> PlaceIndex:
    """Read the deployment's neighbourhood TOML files and, optionally, the national communes.

    Errors (a missing key, a bad postal code, a duplicate id) raise ValueError naming the file, so a
    volunteer editing a file sees what to fix at start rather than a wrong match later.
    """
    places: list[Place] = []
    for path in neighbourhood_files:
        places.extend(_read_neighbourhoods(Path(path)))
    if national_file is not None:
        places.extend(_read_national(Path(national_file)))
    return PlaceIndex(places)
