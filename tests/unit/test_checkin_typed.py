"""What a typed answer to "Est-ce que tout va bien ?" means, and what it does to a check-in, without a
database: a table of phrases (French and English, the tricky ones included) and the decision table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.checkins.decisions import listening, typed_action, typed_meaning

MEANINGS = [
    # urgent: the emergency numbers and the question whether to tell someone
    ("au secours", "urgent"), ("Aidez-moi !", "urgent"), ("je suis tombée", "urgent"), ("Je suis tombé", "urgent"),
    ("j'ai mal", "urgent"), ("urgence", "urgent"), ("je suis à l hôpital", "urgent"),
    ("je suis à l'hôpital pour une semaine", "urgent"), ("j'ai besoin d'aide", "urgent"),
    ("je n'arrive pas à me relever", "urgent"), ("hopitall", "urgent"), ("help", "urgent"), ("I fell", "urgent"),
    ("I've fallen and can't get up", "urgent"), ("I'm in hospital", "urgent"), ("emergency!", "urgent"),
    # not fine: a wish to chat
    ("bof pas trop", "not_fine"), ("bof", "not_fine"), ("pas trop", "not_fine"), ("pas bien", "not_fine"),
    ("ça va pas", "not_fine"), ("Ça va pas du tout", "not_fine"), ("ça ne va pas", "not_fine"),
    ("pas terrible", "not_fine"), ("je suis fatiguée", "not_fine"), ("oui mais fatiguée", "not_fine"),
    ("fatigee", "not_fine"), ("triste", "not_fine"), ("je me sens seule", "not_fine"), ("toute seule", "not_fine"),
    ("malade", "not_fine"), ("je vais pas bien", "not_fine"), ("pas mal fatiguée", "not_fine"),
    ("j'ai mal dormi", "not_fine"), ("tout va bien sauf ma jambe", "not_fine"), ("non", "not_fine"),
    ("pas vraiment", "not_fine"), ("un peu fatiguée mais ça va", "not_fine"), ("I'm not fine", "not_fine"),
    ("not great", "not_fine"), ("not well", "not_fine"), ("lonely", "not_fine"), ("sick", "not_fine"),
    ("tired but ok", "not_fine"), ("no", "not_fine"), ("I don't feel well", "not_fine"),
    # away: "until when?"
    ("je suis absente", "away"), ("en vacances", "away"), ("chez ma fille", "away"), ("je suis en voyage", "away"),
    ("I'm away", "away"), ("on holiday", "away"), ("staying with my son", "away"),
    # fine
    ("oui ça va merci", "fine"), ("ça va", "fine"), ("pas mal", "fine"), ("ça va pas trop mal", "fine"),
    ("ça va pas mal", "fine"), ("non ça va", "fine"), ("oui", "fine"), ("ok", "fine"), ("Tout va très bien", "fine"),
    ("Oui ça va, c'est quand le prochain atelier ?", "fine"), ("not bad", "fine"), ("I'm fine thanks", "fine"),
    ("yes", "fine"), ("not too bad", "fine"),
    # said nothing of how they are (or a negated worry)
    ("bonjour", "unclear"), ("Quand est le prochain atelier ?", "unclear"), ("", "unclear"), ("🙂", "unclear"),
    ("je ne suis pas triste", "unclear"), ("rien d'urgent", "unclear"), ("pas trop fatiguée", "unclear"),
    ("de retour de vacances", "unclear"), ("je ne suis pas malade", "unclear"), ("hello", "unclear"),
    ("I'll come tomorrow", "unclear"), ("not sick at all", "unclear"), ("une bonne salade", "unclear"),
    ("en dernier recours", "unclear"),
]


@pytest.mark.parametrize(("text", "meaning"), MEANINGS)
def test_what_a_typed_answer_means(text: str, meaning: str) -> None:
    assert typed_meaning(text) == meaning


def test_a_long_message_is_read_from_its_start_and_never_fails() -> None:
    assert typed_meaning("je suis tombée " + "x" * 5000) == "urgent"
    assert typed_meaning("x" * 5000 + " je suis tombée") == "unclear"  # only the first 200 characters are read


# (meaning, answer so far, open) -> action
ACTIONS = [
    ("urgent", None, True, "urgent"), ("urgent", "fine", False, "urgent"), ("urgent", "chat", False, "urgent"),
    ("urgent", "alerted", False, "urgent"), ("urgent", "urgent", False, "urgent"),
    ("not_fine", None, True, "chat"), ("not_fine", "wrote", False, "chat"), ("not_fine", "active", False, "chat"),
    ("not_fine", "fine", False, "chat"), ("not_fine", "chat", False, "noted"), ("not_fine", "stop", False, "chat"),
    ("not_fine", "urgent", False, "ask-again"), ("fine", "urgent", False, "ask-again"),
    ("unclear", "urgent", False, "ask-again"), ("not_fine", "alerted", False, None),
    ("not_fine", "declined", False, None), ("away", "declined", False, "away"),
    ("away", None, True, "away"), ("away", "fine", False, "away"),
    ("fine", None, True, "fine"), ("fine", "wrote", False, "fine"), ("fine", "active", False, "fine"),
    ("fine", None, False, "fine"), ("fine", "fine", False, None), ("fine", "chat", False, None),
    ("unclear", None, True, "wrote"), ("unclear", None, False, "wrote"), ("unclear", "wrote", False, None),
    ("unclear", "active", False, None), ("unclear", "fine", False, None),
]


@pytest.mark.parametrize(("meaning", "answer", "is_open", "action"), ACTIONS)
def test_what_a_typed_answer_does(meaning: str, answer: str | None, is_open: bool, action: str | None) -> None:
    assert typed_action(meaning, answer, is_open) == action  # type: ignore[arg-type]


def test_a_check_in_listens_while_open_and_for_a_while_after() -> None:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    window = timedelta(hours=48)
    assert listening(True, None, now, window)
    assert listening(False, now - timedelta(hours=47), now, window)
    assert not listening(False, now - timedelta(hours=48), now, window)
    assert not listening(False, None, now, window)
