"""What people type at a question with choices: numbers, yes and no, the words of a choice, typos.

The residents are often elderly and new to chat apps; on Matrix and in the console there are no
buttons at all. A refusal of "oui" can be the end of the conversation, so a typed answer is read
the way a person would read it:

- "2", "2." or "n°2" picks the second choice; "2, 5 et 9" picks several on a multi-choice question;
- yes and no words in French and English ("oui", "ouais", "d'accord", "bien sûr", "non merci",
  "pas maintenant", "yes", "sure", "not now"…) pick the choice that means yes or no, when exactly
  one does;
- the words of a choice, or a clear part of them ("cuisine" for "🍳 Cuisine et recettes"), with
  small typos ("fancais", "oiu");
- a yes or a no and the words that say which ("oui, le voisin").

An answer that fits several choices ("oui" where two choices mean yes, a word in two labels, a typo
as close to one as to another) is never guessed: ``fitting_words`` and ``choice_polarity`` say which
fit, and the bot asks which of those was meant (``bot.core.router.Ambiguous``).

Pure functions, no I/O: ``bot.core.router.as_choice`` applies them to the offered choices.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

from bot.core.interests import fold

YES_WORDS = frozenset({
    "oui", "ouais", "ouai", "ouaip", "ouep", "oue", "wi", "yes", "yeah", "yep", "yup", "ya", "y", "o",
    "d accord", "daccord", "dac", "d ac", "ok", "okay", "okey", "oki", "bien sur", "bien sure", "volontiers",
    "avec plaisir", "parfait", "tres bien", "entendu", "certainement", "absolument", "evidemment",
    "c est ca", "c est bon", "exactement", "exact", "carrement", "allez", "go", "vas y", "allons y",
    "sure", "of course", "certainly", "alright", "all right", "fine", "agreed", "i agree", "absolutely",
    "correct", "right", "that s right", "please", "yes please", "oui merci", "oui s il vous plait",
    "je suis d accord", "j accepte", "accepte", "sounds good", "good", "great", "perfect",
    "ca va", "ca va bien", "ca va tres bien", "je vais bien", "tout va bien", "tres bien merci", "bien",
    "i m fine", "im fine", "i am fine", "all good", "all is well", "i m ok", "i am ok", "doing fine",
})
NO_WORDS = frozenset({
    "non", "nan", "nope", "no", "n", "non merci", "pas maintenant", "pas pour l instant", "plus tard",
    "pas du tout", "surtout pas", "jamais", "pas question", "pas vraiment", "je refuse", "refuse",
    "no thanks", "no thank you", "not now", "not really", "later", "never", "nah", "no way",
    "pas d accord", "je ne suis pas d accord", "i disagree", "don t", "do not",
})
GREETINGS = {
    "fr": frozenset({"bonjour", "bonsoir", "salut", "coucou", "bjr", "slt", "bonjour a tous", "re bonjour",
                     "allo", "bonne journee", "bonjour bonjour", "yo"}),
    "en": frozenset({"hello", "hi", "hey", "good morning", "good afternoon", "good evening", "hiya",
                     "hello there", "hi there", "greetings", "howdy"}),
}
#: Words that end a "pick several" question, as the "Continue" button does.
FINISH_WORDS = frozenset({
    "fini", "finit", "termine", "terminer", "c est tout", "c est fini", "ca suffit", "ca ira", "continuer",
    "continue", "suivant", "la suite", "valider", "je valide", "rien", "aucun", "aucune", "rien de plus",
    "done", "next", "that s all", "thats all", "nothing", "none", "finish", "finished", "skip",
    "passer", "ok", "okay", "non", "non merci", "no", "no thanks",
})
#: Payload parts that mean yes or no, for choices whose label says it less plainly ("✅ Publier").
#: A check-in's "no, not all right" is a wish to talk: "chat" answers a "non" there.
_YES_VALUES = frozenset({"yes", "publish", "fine", "cancelyes", "accept"})
_NO_VALUES = frozenset({"no", "none", "skip", "chat", "decline"})
#: What may follow a yes or a no and keep its meaning ("oui merci", "non, pas maintenant", "yes, I
#: agree"); anything else ("non je ne comprends pas") makes the answer more than a yes or a no.
_COURTESY = frozenset({
    "merci", "beaucoup", "svp", "stp", "s", "il", "vous", "te", "plait", "thanks", "thank", "you", "please", "pas",
    "maintenant", "aujourd", "hui", "du", "tout", "bien", "sur", "sure", "vraiment", "non", "oui", "ok", "d",
    "accord", "c", "est", "ca", "really", "not", "now", "yes", "no", "of", "course", "volontiers", "avec", "plaisir",
    "madame", "monsieur", "absolument", "i", "agree", "that", "right", "je", "suis", "tres",
})
#: Little words around the words of a choice ("le voisin", "pour l'animateur", "the neighbour, please"):
#: left out when the answer is read as the choice's words.
_FILLERS = frozenset({
    "le", "la", "les", "l", "un", "une", "du", "de", "des", "d", "au", "aux", "a", "the", "an", "my", "mon", "ma",
    "mes", "celui", "celle", "ce", "cette", "pour", "for", "merci", "svp", "stp", "please", "thanks",
})
_LABEL_YES = ("oui", "yes")
_LABEL_NO = ("non", "no", "pas")

_NUMBER = re.compile(r"^\s*(?:n\s*°?|no\.?|num(?:ero)?\.?|#)?\s*(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)
_NUMBERS = re.compile(r"^\s*\d{1,2}(?:\s*(?:,|;|/|&|\+|\bet\b|\band\b|\s)\s*\d{1,2})+\s*[.!]?\s*$")
#: A choice matched by its words must score this (0-100) and lead the next one by the margin.
CHOICE_SCORE = 85.0
CHOICE_MARGIN = 8.0


@lru_cache(maxsize=4096)
def plain(text: str) -> str:
    """Folded (no case, no accent), letters and digits only, single spaces: how answers are compared.
    Cached: the same few labels are compared with every answer to their question."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(text).replace("’", "'")).replace("_", " ").split())


def _near(word: str, known: frozenset[str]) -> bool:
    """One typo away from a known word: a wrong, missing, extra or swapped letter ("ouii", "oiu",
    "d'acord"); words under four letters only by a swap, since "nom" is not "non"."""
    if word in known:
        return True
    for candidate in known:
        if abs(len(candidate) - len(word)) > 1:
            continue
        if len(word) >= 4 and len(candidate) >= 4 and DamerauLevenshtein.distance(word, candidate) <= 1:
            return True
        if len(word) == len(candidate) == 3 and sorted(word) == sorted(candidate) \
                and DamerauLevenshtein.distance(word, candidate) == 1:
            return True
    return False


def polarity(text: str) -> str | None:
    """ "yes", "no" or None for what was typed: the whole answer, or its first words followed by
    politeness ("oui merci", "non, pas aujourd'hui", "yes please")."""
    words = plain(text)
    if not words or len(words) > 60:
        return None
    tokens = words.split()
    heads = [" ".join(tokens[:size]) for size in range(min(len(tokens), 5), 0, -1)
             if all(t in _COURTESY for t in tokens[size:])]
    for near in (False, True):  # the exact words first, wherever they are, then one typo
        for head in heads:
            for meaning, known in (("no", NO_WORDS), ("yes", YES_WORDS)):
                if head in known or (near and _near(head, known)):
                    return meaning
    return None


def is_greeting(text: str) -> str | None:
    """The language of a greeting ("bonjour" → "fr", "hello" → "en"), or None when it is not one."""
    words = plain(text)
    words = re.sub(r"\b(?:a vous|a tous|tout le monde|everyone|all|the bot|le robot|madame|monsieur)\b", "",
                   words).strip()
    for lang, known in GREETINGS.items():
        if words in known or (" " not in words and len(words) >= 4 and _near(words, known)):
            return lang
    return None


def is_finish(text: str) -> bool:
    return plain(text) in FINISH_WORDS


def choice_polarity(label: str, payload: str) -> str | None:
    """Whether a choice means yes or no: from its payload ("forget:yes") or its label's first word."""
    parts = set(re.split(r"[:.]", payload))
    if parts & _YES_VALUES:
        return "yes"
    if parts & _NO_VALUES:
        return "no"
    first = plain(label).split()[:1]
    if first and first[0] in _LABEL_YES:
        return "yes"
    if first and first[0] in _LABEL_NO:
        return "no"
    return None


def number(text: str) -> int | None:
    """The number of a choice typed alone ("2", "2.", "n°2"), or None."""
    found = _NUMBER.match(text)
    return int(found.group(1)) if found else None


def numbers(text: str) -> list[int] | None:
    """Several numbers in one answer ("2, 5 et 9", "2 5 9"), in order without repeats, or None."""
    if not _NUMBERS.match(text):
        return None
    return list(dict.fromkeys(int(n) for n in re.findall(r"\d{1,2}", text)))


def by_words(text: str, labels: list[str], *, in_sentence: bool = False) -> int | None:
    """The index of the one label the typed words stand for, or None when none or several fit."""
    found = fitting_words(text, labels, in_sentence=in_sentence)
    return found[0] if len(found) == 1 else None


def fitting_words(text: str, labels: list[str], *, in_sentence: bool = False) -> list[int]:
    """Every label the typed words could stand for: one is the answer, several are a question back
    ("which of these?") rather than a guess, none means the words name no choice.

    The whole label ("Oui, d'accord"), the label's words without the rest ("cuisine" in
    "🍳 Cuisine et recettes", "voisin" in two labels), either with a small typo, or — where one
    answer is expected (``in_sentence``) — the label within a short sentence ("english please") or
    the label's words around little words ("le voisin")."""
    wanted = plain(text)
    if not wanted:
        return []
    shown = [plain(label) for label in labels]
    exact = [i for i, label in enumerate(shown) if label == wanted]
    if exact:
        return exact
    found = _by_parts(wanted, shown, in_sentence)
    if not found and in_sentence:
        core = " ".join(word for word in wanted.split() if word not in _FILLERS)
        if core and core != wanted:
            found = _by_parts(core, shown, in_sentence)
    return found or _fuzzy(wanted, shown)


def _by_parts(wanted: str, shown: list[str], in_sentence: bool) -> list[int]:
    """The labels holding the typed words, or (``in_sentence``) held in them. Several only when the
    words say something ("prévenir", four letters or more): "les" in two labels is not an answer."""
    if len(wanted) < 3:
        return []
    padded = f" {wanted} "
    inside = [i for i, label in enumerate(shown) if padded in f" {label} "]
    if len(inside) == 1:
        return inside
    # The whole label within a short sentence ("english please", "en français"), where one answer
    # is expected (``in_sentence``): in a "pick several" list the other words matter too.
    around = [i for i, label in enumerate(shown) if len(label) >= 4 and f" {label} " in padded]
    if not in_sentence:
        around = []
    words = len(wanted.split())
    if len(around) == 1 and words <= len(shown[around[0]].split()) + 3:
        return around
    if len(inside) > 1 and max(len(word) for word in wanted.split()) >= 4:
        return inside
    if len(around) > 1 and words <= sum(len(shown[i].split()) for i in around) + 3:
        return around  # "cuisine ou jardin" where one answer is expected
    return []


def _fuzzy(wanted: str, shown: list[str]) -> list[int]:
    """The labels typed with typos: the best, if it scores ``CHOICE_SCORE``, and every other within
    ``CHOICE_MARGIN`` of it (a tie is not a guess)."""
    if len(wanted) < 4:
        return []
    scores = sorted(((_score(wanted, label), i) for i, label in enumerate(shown) if label), reverse=True)
    if not scores or scores[0][0] < CHOICE_SCORE:
        return []
    return [i for score, i in scores if scores[0][0] - score < CHOICE_MARGIN]


def yes_or_no_and(text: str) -> tuple[str, str] | None:
    """A yes or a no followed by words that may say which ("oui, le voisin" → ("yes", "le voisin")),
    for a question where several choices mean yes; None when the answer does not start so."""
    tokens = plain(text).split()
    if not 2 <= len(tokens) <= 12:
        return None
    for size in range(min(len(tokens) - 1, 4), 0, -1):
        head = " ".join(tokens[:size])
        for meaning, known in (("no", NO_WORDS), ("yes", YES_WORDS)):
            if head in known:
                return meaning, " ".join(tokens[size:])
    for meaning, known in (("no", NO_WORDS), ("yes", YES_WORDS)):  # one typo in a one-word yes ("ouii")
        if len(tokens[0]) >= 3 and _near(tokens[0], known):
            return meaning, " ".join(tokens[1:])
    return None


def _score(wanted: str, label: str) -> float:
    """The whole label with typos, or one of its words (of four letters or more) with a typo."""
    best = fuzz.ratio(wanted, label)
    if " " not in wanted:
        for word in label.split():
            if len(word) >= 4:
                best = max(best, fuzz.ratio(wanted, word))
    return best


def split_parts(text: str) -> list[str]:
    """ "cuisine, jardin et lecture" → its parts, for matching each against a list."""
    return [p for p in re.split(r"\s*(?:,|;|/|&|\+|\bet\b|\band\b|\n)\s*", text) if p.strip()]


