"""Reading typed answers (issue 19): yes and no in French and English, numbers, words of a choice."""

from __future__ import annotations

import pytest

from bot.core import answers
from bot.core.chat import numbered
from bot.core.router import ChoicesIn, TypedChoice, as_choice

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


def test_two_choices_meaning_yes_is_not_a_guess() -> None:
    both = [("Oui, l'animateur", "o.c:host"), ("Oui, un voisin", "o.c:contact"), ("Non merci", "o.c:no")]
    assert as_choice("oui", both) is None
    assert as_choice("non", both) == TypedChoice("o.c:no")


def test_buttons_are_never_numbered_twice() -> None:
    """ "1. 1. Dégustation" was shown on Matrix for buttons whose label carried its number."""
    assert numbered(1, "1. Dégustation") == "1. Dégustation"
    assert numbered(2, "2) Atelier") == "2. Atelier"
    assert numbered(3, "Atelier") == "3. Atelier"
    assert numbered(1, "10 ans du club") == "1. 10 ans du club"
