"""Onboarding through the in-memory platform: the happy path, every wrong answer, and restarts."""

from __future__ import annotations

import pytest

from bot.assemble import build_core
from bot.core.chat import ChoiceIn, LocationIn
from bot.storage import circles as circle_store
from bot.storage import people
from bot.storage.database import Database
from tests.core.conftest import Neighbours

pytestmark = pytest.mark.both_engines  # on SQLite and PostgreSQL (tests/engines.py)


async def person(hood: Neighbours, user: str) -> people.Person:
    found = await people.by_identity(hood.core.db, "fake", user)
    assert found is not None
    return found


async def test_three_taps_and_one_typed_answer_reach_a_circle(hood: Neighbours) -> None:
    """The promise: accepting the suggestions, 3 taps and 1 typed answer from hello to a circle, each
    answered by one message: 5 bot messages in all, the welcome naming the circle as its room is named."""
    opening = await hood.say("alice", "bonjour")
    assert len(opening) == 1 and "Bonjour" in opening[0].text and "Êtes-vous d'accord" in opening[0].text
    taps = ["Oui, d'accord"]
    assert len(await hood.press("alice", taps[0])) == 1
    assert len(await hood.say("alice", "Belleville")) == 1
    for label in ("Continuer ➜", "Oui, prévenir l'animateur du cercle"):
        assert len(await hood.press("alice", label)) == 1
        taps.append(label)
    assert len(taps) == 3 and len(hood.texts("alice")) == 5
    alice = await person(hood, "alice")
    assert alice.onboarded and alice.consent_at == "2026-11-25T10:00:00+00:00"
    assert alice.place_id is not None and "belleville" in alice.place_id
    assert alice.checkins
    circle = await circle_store.circle_of(hood.core.db, alice.id)
    assert circle is not None
    assert hood.platform.room_of("alice") == f"room:{circle.id}"
    assert "Bienvenue" in hood.texts("alice")[-1] and "Voisins · Belleville" in hood.texts("alice")[-1]
    assert "/profil" in hood.texts("alice")[-1]  # the help one could give or welcome: when they like


async def test_the_opening_message_changes_language_in_one_tap(hood: Neighbours) -> None:
    """French unless the platform says otherwise; "English" (or "hello") says it all again in English,
    and back; nothing is agreed to by changing language."""
    out = await hood.say("zoe", "/start")
    assert [c.label for c in out[0].choices] == ["Oui, d'accord", "Non merci", "English"]
    out = await hood.press("zoe", "English")
    assert len(out) == 1 and out[0].text.startswith("Hello!") and "Do you agree?" in out[0].text
    assert [c.label for c in out[0].choices] == ["Yes, I agree", "No thanks", "Français"]
    zoe = await person(hood, "zoe")
    assert zoe.language == "en" and zoe.consent_at is None
    out = await hood.say("zoe", "bonjour")  # a French greeting: back to French
    assert out[0].text.startswith("Bonjour !") and (await person(hood, "zoe")).language == "fr"
    out = await hood.say("zoe", "3")  # the third choice: English again
    assert (await person(hood, "zoe")).language == "en"
    out = await hood.say("zoe", "hello")  # the same language: greeted back, the question again
    assert len(out) == 1 and "Do you agree?" in out[0].text
    await hood.say("zoe", "yes")
    assert (await person(hood, "zoe")).consent_at is not None


async def test_the_platform_locale_chooses_the_first_language(hood: Neighbours) -> None:
    out = await hood.say("yan", "/start", lang="en")
    assert out[0].text.startswith("Hello!") and out[0].choices[-1].label == "Français"


async def test_a_first_message_in_the_other_language_opens_in_that_language(hood: Neighbours) -> None:
    """Reproduces: "hello" as a resident's very first message opened the conversation in French (only
    a greeting at the consent question switched); and "bonjour" on an English phone stays French."""
    out = await hood.say("ugo", "hello")
    assert len(out) == 1 and out[0].text.startswith("Hello!") and out[0].choices[-1].label == "Français"
    assert (await person(hood, "ugo")).language == "en"
    out = await hood.say("ida", "Bonjour !", lang="en")
    assert out[0].text.startswith("Bonjour !") and out[0].choices[-1].label == "English"
    out = await hood.say("lea", "salut les voisins")  # not a greeting word alone: the platform's language
    assert out[0].text.startswith("Bonjour !")


async def test_not_knowing_what_to_type_for_the_neighbourhood_gets_help(hood: Neighbours) -> None:
    """Tried as a resident: "je ne sais pas" and "aide" got "Je ne trouve pas « je ne sais pas »"."""
    await hood.say("noe", "bonjour")
    await hood.press("noe", "Oui, d'accord")
    for said in ("je ne sais pas", "Aide ?"):
        hood.clock.advance(seconds=10)
        out = await hood.say("noe", said)
        assert len(out) == 1 and out[0].text.startswith("Pas de souci ! Le code postal suffit"), said
        assert "Dans quel quartier" in out[0].text and "Je ne trouve pas" not in out[0].text
    assert (await person(hood, "noe")).place_id is None
    out = await hood.say("noe", "75020")  # then the postal code, as suggested: the 20e's neighbourhoods
    assert out[0].text == "Lequel est le vôtre ?" and "Belleville (Paris 20e)" in [c.label for c in out[0].choices]


async def test_english_onboarding_speaks_english(hood: Neighbours) -> None:
    await hood.join("bob", lang="en")
    texts = hood.texts("bob")
    assert "Which neighbourhood" in texts[1]
    assert texts[-1].startswith("Welcome!")


async def test_answers_by_number_and_by_label(hood: Neighbours) -> None:
    """Without buttons (Matrix, console) a typed number or the label itself stands for the button."""
    await hood.say("carol", "/start")
    out = await hood.say("carol", "9")
    assert out[0].text.startswith("Choisissez un numéro entre 1 et 3, s'il vous plaît.\n\nBonjour")  # and the question
    assert [c.label for c in out[0].choices] == ["Oui, d'accord", "Non merci", "English"]  # nothing changed
    await hood.say("carol", "english")
    assert (await person(hood, "carol")).language == "en"
    await hood.say("carol", "yes, I agree")
    assert (await person(hood, "carol")).consent_at is not None


async def test_place_spellings_all_land(hood: Neighbours) -> None:
    for i, spelling in enumerate(["belleville", "Belleville", "bellevile", "BELLEVILLE "]):
        user = f"p{i}"
        await hood.say(user, "/start")
        await hood.press(user, "Oui, d'accord")
        out = await hood.say(user, spelling)
        assert "Belleville" in out[0].text, spelling
        assert (await person(hood, user)).place_id is not None


async def test_postal_code_covering_several_quarters_asks_which(hood: Neighbours) -> None:
    await hood.say("dan", "/start")
    await hood.press("dan", "Oui, d'accord")
    for typed in ("75020", "paris 20e"):
        out = await hood.say("dan", typed)
        labels = [c.label for c in out[-1].choices]
        assert len(labels) >= 3 and labels[-1] == "Aucun de ceux-là", labels
        assert (await person(hood, "dan")).place_id is None
        await hood.press("dan", "Aucun de ceux-là")
    await hood.say("dan", "75020")
    await hood.press("dan", "onboarding.place_pick:1")
    assert (await person(hood, "dan")).place_id is not None


async def test_unknown_place_asks_again_with_examples_and_changes_nothing(hood: Neighbours) -> None:
    await hood.say("eve", "/start")
    await hood.press("eve", "Oui, d'accord")
    out = await hood.say("eve", "xqzzwv")
    assert "Je ne trouve pas « xqzzwv »" in out[0].text and "Belleville" in out[0].text
    out = await hood.say("eve", "a" * 5000)
    assert "trop long" in out[0].text
    hood.clock.advance(minutes=1)  # a new attempt, not a burst (see test_answers_table for bursts)
    out = await hood.say("eve", "<b>Robert'); DROP TABLE people;--")
    assert "&lt;b&gt;" in out[0].text  # what they typed is shown escaped, never as markup
    assert (await person(hood, "eve")).place_id is None
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM people") == 1


async def test_location_finds_the_nearest_neighbourhood(hood: Neighbours) -> None:
    await hood.say("fay", "/start")
    await hood.press("fay", "Oui, d'accord")
    out = await hood.send("fay", LocationIn(48.8722, 2.3767))
    assert "📍" in out[0].text
    assert (await person(hood, "fay")).place_id is not None


async def test_declining_consent_keeps_nothing(hood: Neighbours) -> None:
    await hood.say("gil", "/start")
    out = await hood.press("gil", "Non merci")
    assert "je n'ai rien gardé" in out[0].text
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM people") == 0
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM conversations") == 0


async def test_buttons_are_the_only_way_past_consent(hood: Neighbours) -> None:
    await hood.say("hal", "/start")
    out = await hood.say("hal", "peut-être")
    assert out[0].text.startswith("Je n'ai pas bien compris votre réponse") and "Êtes-vous d'accord" in out[0].text
    assert (await person(hood, "hal")).consent_at is None


async def test_interests_typed_as_words_with_typos(hood: Neighbours) -> None:
    await hood.say("ida", "/start")
    await hood.press("ida", "Oui, d'accord")
    await hood.say("ida", "belleville")
    out = await hood.say("ida", "jardinage, belotte et astrophysique")
    assert len(out) == 1 and "astrophysique" in out[0].text  # one message, not the list again
    assert "✓ Noté : Jardinage, Jeux de société." in out[0].text
    out = await hood.press("ida", "Jardinage")  # tapping the button again removes it, and says so
    assert "Retiré : Jardinage." in out[0].text
    await hood.press("ida", "Continuer ➜")
    assert (await person(hood, "ida")).interests == ("games",)


async def test_stale_button_is_refused_and_question_asked_again(hood: Neighbours) -> None:
    await hood.say("jon", "/start")
    out = await hood.send("jon", ChoiceIn("onboarding.language:en"))
    assert out[0].text == "Ce bouton n'est plus valable."
    assert "Avant de commencer" in out[1].text
    assert (await person(hood, "jon")).language == "fr"


async def test_restart_in_the_middle_of_onboarding_resumes(hood: Neighbours, database: str) -> None:
    await hood.say("kim", "/start")
    await hood.press("kim", "English")
    await hood.core.db.close()  # a restart between the two taps of the opening message
    db = await Database.open(database)
    hood.core = build_core(hood.core.config, db, hood.core.content, hood.clock)
    hood.core.attach(hood.platform)
    await hood.press("kim", "Yes, I agree")
    await hood.core.db.close()
    # A new process: new database connection, new core, same database.
    db = await Database.open(database)
    hood.core = build_core(hood.core.config, db, hood.core.content, hood.clock)
    hood.core.attach(hood.platform)
    out = await hood.say("kim", "charonne")
    assert "Charonne" in out[0].text and "What do you enjoy" in out[0].text
    await hood.press("kim", "Continue ➜")
    await hood.press("kim", "No thanks")
    assert (await person(hood, "kim")).onboarded


async def test_contact_neighbour_must_accept(hood: Neighbours) -> None:
    await hood.join("lea")
    await hood.say("max", "/start")
    await hood.press("max", "Oui, d'accord")
    await hood.say("max", "belleville")
    await hood.press("max", "Continuer ➜")
    await hood.press("max", "Oui, prévenir un voisin que je choisis")
    out = await hood.say("max", "Personne")
    assert "Je ne trouve pas « Personne »" in out[0].text
    await hood.say("max", "lea")
    assert (await person(hood, "max")).contact_person_id == (await person(hood, "lea")).id
    assert (await person(hood, "max")).contact_confirmed_at is None
    await hood.press("lea", "Oui, d'accord")
    assert (await person(hood, "max")).contact_confirmed_at is not None
    assert "a accepté" in hood.texts("max")[-1]
