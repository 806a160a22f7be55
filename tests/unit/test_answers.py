"""Reading typed answers (issue 19): yes and no in French and English, numbers, words of a choice."""

from __future__ import annotations

import pytest

from bot.core import answers
from bot.core.chat import Choice, Outgoing, numbered
from bot.core.i18n import Localized
from bot.core.router import Ambiguous, ChoicesIn, TypedChoice, as_choice

YES = ["oui", "Oui !", "ouais", "d'accord", "D'accord.", "ok", "bien sûr", "volontiers", "oui merci", "oiu", "ouii",
       "d'acord", "je suis d'accord", "yes", "yeah", "sure", "of course", "yes please", "yse", "I agree"]
NO = ["non", "Non merci", "pas maintenant", "nan", "no", "No thanks", "not now", "nope", "pas d'accord"]
NEITHER = ["peut-être", "Alice", "nom", "bonjour", "belleville", "", "2", "maybe", "je ne sais pas",
           "non je ne comprends pas", "oui mais non"]


@pytest.mark.parametrize("text", YES)
def test_yes_words(text: str) -> None:
    assert answers.polarity(text) == "yes"


@pytest.mark.parametrize("text", NO)
def test_no_words(text: str) -> None:
    assert answers.polarity(text) == "no"


@pytest.mark.parametrize("text", NEITHER)
def test_neither_yes_nor_no(text: str) -> None:
    assert answers.polarity(text) is None


def test_greetings_and_their_language() -> None:
    assert answers.is_greeting("Bonjour !") == "fr" and answers.is_greeting("salut") == "fr"
    assert answers.is_greeting("hello") == "en" and answers.is_greeting("Good morning") == "en"
    assert answers.is_greeting("belleville") is None and answers.is_greeting("oui") is None


def test_numbers_alone_and_several() -> None:
    assert answers.number("2") == 2 and answers.number("2.") == 2 and answers.number("n°3") == 3
    assert answers.number("2 5") is None
    assert answers.numbers("2, 5 et 9") == [2, 5, 9] and answers.numbers("1 and 3") == [1, 3]
    assert answers.numbers("2 2") == [2] and answers.numbers("2") is None and answers.numbers("2 rue") is None


YES_NO = [("Oui, tout effacer", "forget:yes"), ("Non, garder", "forget:no")]
TOGGLES = [("Promenades", "f.s:t.walks"), ("🍳 Cuisine", "f.s:t.cooking"), ("Jeux de société", "f.s:t.games"),
           ("Continuer ➜", "f.s:done")]


def test_as_choice_reads_yes_no_numbers_and_words() -> None:
    assert as_choice("yes", YES_NO) == TypedChoice("forget:yes")
    assert as_choice("non merci", YES_NO) == TypedChoice("forget:no")
    assert as_choice("garder", YES_NO) == TypedChoice("forget:no")
    assert as_choice("3", YES_NO) == 2  # out of range: how many there are
    assert as_choice("peut-être", YES_NO) is None
    languages = [("Français", "o.language:fr"), ("English", "o.language:en")]
    assert as_choice("English please", languages) == TypedChoice("o.language:en")
    assert as_choice("en français", languages) == TypedChoice("o.language:fr")
    assert as_choice("cuisine", TOGGLES, multi=True) == TypedChoice("f.s:t.cooking")
    assert as_choice("jeux de societe", TOGGLES, multi=True) == TypedChoice("f.s:t.games")
    assert as_choice("promenade", TOGGLES, multi=True) == TypedChoice("f.s:t.walks")  # a small typo


def test_as_choice_several_only_on_a_pick_several_question() -> None:
    assert as_choice("1, 3", TOGGLES, multi=True) == ChoicesIn(("f.s:t.walks", "f.s:t.games"))
    assert as_choice("cuisine et promenades", TOGGLES, multi=True) == ChoicesIn(("f.s:t.cooking", "f.s:t.walks"))
    assert as_choice("1, 9", TOGGLES, multi=True) == 4
    assert as_choice("1, 2", YES_NO) is None  # one answer only: not read as a pick
    assert as_choice("fini", TOGGLES, multi=True) == TypedChoice("f.s:done")
    assert as_choice("non", TOGGLES, multi=True) == TypedChoice("f.s:done")


CHECKINS = [("Oui, prévenir l'animateur du cercle", "o.c:host"),
            ("Oui, prévenir un voisin que je choisis", "o.c:contact"), ("Non merci", "o.c:no")]
CHECKINS_EN = [("Yes, tell my circle's host", "o.c:host"), ("Yes, tell a neighbour I choose", "o.c:contact"),
               ("No thanks", "o.c:no")]


@pytest.mark.parametrize("text", ["oui", "Oui !", "ouii", "d'accord", "oui merci", "volontiers"])
def test_two_choices_meaning_yes_is_asked_about_not_guessed(text: str) -> None:
    assert as_choice(text, CHECKINS) == Ambiguous((0, 1), "yes")


def test_one_choice_meaning_no_is_taken_at_once_and_two_are_asked_about() -> None:
    assert as_choice("non", CHECKINS) == TypedChoice("o.c:no")
    assert as_choice("no", CHECKINS_EN) == TypedChoice("o.c:no")
    two_no = [("Oui, volontiers", "q:yes"), ("Non, pas cette fois", "q:no"), ("Non, plus jamais", "q:never")]
    assert as_choice("non", two_no) == Ambiguous((1, 2), "no")
    assert as_choice("oui", two_no) == TypedChoice("q:yes")


def test_a_word_in_two_choices_is_asked_about() -> None:
    assert as_choice("prévenir", CHECKINS) == Ambiguous((0, 1))
    assert as_choice("prevnir", CHECKINS) == Ambiguous((0, 1))  # with a typo, as close to both
    assert as_choice("tell", CHECKINS_EN) == Ambiguous((0, 1))
    assert as_choice("oui prévenir", CHECKINS) == Ambiguous((0, 1), "yes")  # the yes and a word of both
    assert as_choice("les", [("Voir les photos", "p:1"), ("Voir les dates", "p:2")]) is None  # says nothing
    assert as_choice("voir", [("Voir les photos", "p:1"), ("Voir les dates", "p:2")]) == Ambiguous((0, 1))


def test_a_typo_as_close_to_two_choices_is_a_tie() -> None:
    knits = [("Atelier tricot", "k:1"), ("Atelier tricots", "k:2"), ("Lecture", "k:3")]
    assert as_choice("ateleir tricots", knits) == Ambiguous((0, 1))
    assert as_choice("atelier tricot", knits) == TypedChoice("k:1")  # the whole label: no question
    assert answers.fitting_words("lectrue", [label for label, _ in knits]) == [2]


def test_the_words_that_say_which_answer_with_or_without_the_yes() -> None:
    for text in ("voisin", "le voisin", "un voisin", "oui, le voisin", "oui merci, un voisin",
                 "d'accord pour le voisin", "ouii le voisin"):
        assert as_choice(text, CHECKINS) == TypedChoice("o.c:contact"), text
    assert as_choice("oui l'animateur", CHECKINS) == TypedChoice("o.c:host")
    assert as_choice("yes, the neighbour", CHECKINS_EN) == TypedChoice("o.c:contact")
    assert as_choice("yes please, the host", CHECKINS_EN) == TypedChoice("o.c:host")
    assert as_choice("oui mais pas le voisin", CHECKINS) is None  # never guessed
    assert as_choice("peut-être", CHECKINS) is None


def test_yes_or_no_and_what_follows() -> None:
    assert answers.yes_or_no_and("Oui, le voisin") == ("yes", "le voisin")
    assert answers.yes_or_no_and("non merci pas maintenant") == ("no", "pas maintenant")
    assert answers.yes_or_no_and("oui") is None and answers.yes_or_no_and("le voisin") is None


def test_pick_several_lists_never_ask_back() -> None:
    """There the flow's own matching reads the words (and may tick several); a tick is undone with a tap."""
    games = [("Jeux de société", "f.s:t.games"), ("Jeux vidéo", "f.s:t.video"), ("Continuer ➜", "f.s:done")]
    assert as_choice("jeux", games, multi=True) is None
    assert as_choice("jeux", games) == Ambiguous((0, 1))


def test_buttons_are_never_numbered_twice() -> None:
    """ "1. 1. Dégustation" was shown on Matrix for buttons whose label carried its number."""
    assert numbered(1, "1. Dégustation") == "1. Dégustation"
    assert numbered(2, "2) Atelier") == "2. Atelier"
    assert numbered(3, "Atelier") == "3. Atelier"
    assert numbered(1, "10 ans du club") == "1. 10 ans du club"


def test_a_choice_keeps_the_number_it_has_in_its_question_through_the_outbox() -> None:
    """ "Which of these?" shows choices 2 and 3 of a question: still numbered 2 and 3."""
    shown = (Choice("Oui, un voisin", "o.c:contact", 2), Choice("Non", "o.c:no"))
    message = Outgoing("fake", "c", Localized("?"), shown)
    back = Outgoing.from_json(message.to_json())
    assert back.choices == message.choices and [c.number for c in back.choices] == [2, 0]
    assert '["Non", "o.c:no"]' in message.to_json()  # an ordinary choice is written as before
