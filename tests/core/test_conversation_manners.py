"""How the bot keeps a conversation going (issue 19): one message per wrong answer, and only one for a
flood; a command in the middle of a question answered and the question back; greetings; "did you
mean" limited to what the person may use; "pick several" answered briefly, never unticking silently."""

from __future__ import annotations

from dataclasses import replace

from bot.core.chat import CommandIn
from bot.storage import conversations, people
from tests.core.activity_helpers import make_moderator, make_organizer, type_event
from tests.core.conftest import Neighbours


async def conv_of(hood: Neighbours, user: str) -> conversations.Conversation | None:
    person = await people.by_identity(hood.core.db, "fake", user)
    assert person is not None
    return await conversations.get(hood.core.db, person.id)


async def at_consent(hood: Neighbours, user: str) -> None:
    await hood.say(user, "/start")  # the opening message asks for consent


async def at_interests(hood: Neighbours, user: str) -> None:
    await at_consent(hood, user)
    await hood.press(user, "Oui, d'accord")
    await hood.say(user, "belleville")


async def test_a_flood_of_wrong_answers_gets_one_reminder_then_the_bot_waits(hood: Neighbours) -> None:
    """Twenty wrong answers in a row used to get forty messages ("not understood" + the question)."""
    await at_consent(hood, "ana")
    replies = []
    for i in range(20):
        replies += await hood.say("ana", f"euh {i}")
        hood.clock.advance(seconds=2)
    assert len(replies) == 1
    assert replies[0].text.startswith("Je n'ai pas bien compris") and "Êtes-vous d'accord" in replies[0].text
    assert [c.label for c in replies[0].choices] == ["Oui, d'accord", "Non merci", "English"]
    person = await people.by_identity(hood.core.db, "fake", "ana")
    assert person is not None and person.consent_at is None
    hood.clock.advance(minutes=1)  # later, a new wrong answer is answered again
    assert len(await hood.say("ana", "hein ?")) == 1
    out = await hood.say("ana", "oui")  # and a right answer always goes through
    assert "Dans quel quartier" in out[0].text


async def test_a_second_try_after_reading_the_reminder_is_always_answered(hood: Neighbours) -> None:
    """Reproduces: a resident read "not found", typed another try 8 s later, and met silence (answers
    within 15 s of a wrong one counted as a flood). Only a burst faster than anyone reads is silenced."""
    await at_consent(hood, "eve")
    await hood.press("eve", "Oui, d'accord")
    for typed_ in ("cooking and walks", "continue", "no thanks"):
        hood.clock.advance(seconds=6)
        out = await hood.say("eve", typed_)
        assert len(out) == 1 and "Dans quel quartier" in out[0].text, typed_


async def test_not_understood_and_the_question_are_one_message(hood: Neighbours) -> None:
    await at_consent(hood, "bea")
    out = await hood.say("bea", "peut-être")
    assert len(out) == 1 and "Êtes-vous d'accord" in out[0].text and out[0].choices


async def test_a_greeting_is_never_not_understood(hood: Neighbours) -> None:
    """On Matrix the bot greets when it joins the chat; the resident's "bonjour" then used to get
    "Je n'ai pas compris" between two copies of the greeting."""
    first = await hood.say("cam", "bonjour")
    assert len(first) == 1 and "Êtes-vous d'accord" in first[0].text
    out = await hood.say("cam", "Bonjour !")  # a greeting back and the question
    assert len(out) == 1 and out[0].text.startswith("Bonjour !") and "Êtes-vous d'accord" in out[0].text
    assert "pas compris" not in out[0].text
    await hood.press("cam", "Oui, d'accord")
    out = await hood.say("cam", "salut")  # at another question too
    assert len(out) == 1 and "pas compris" not in out[0].text and "Dans quel quartier" in out[0].text


async def test_a_command_during_onboarding_comes_back_to_the_question(hood: Neighbours) -> None:
    """/agenda in the middle of onboarding used to start it again from the first question."""
    await at_interests(hood, "dan")
    out = await hood.say("dan", "/agenda")
    assert len(out) == 1
    assert "/agenda sera possible une fois votre inscription terminée" in out[0].text
    assert "Qu'aimez-vous faire" in out[0].text and out[0].choices
    assert (await conv_of(hood, "dan")).step == "interests"
    out = await hood.say("dan", "/start")  # not a restart either
    assert "Qu'aimez-vous faire" in out[-1].text and (await conv_of(hood, "dan")).step == "interests"
    out = await hood.say("dan", "/aide")  # answered, then the question again
    assert "/aide" in out[0].text and "Qu'aimez-vous faire" in out[-1].text
    out = await hood.say("dan", "3")  # the number answers the question, not a list of the command
    assert "✓ Noté : Cuisine." in out[0].text


async def test_a_command_with_its_own_question_is_answered_first(hood: Neighbours) -> None:
    """/oublier during onboarding asks "sure?": a "non" answers that, never the onboarding question."""
    await at_consent(hood, "eve")
    out = await hood.say("eve", "/oublier")
    assert [c.payload for c in out[-1].choices] == ["forget:yes", "forget:no"]
    out = await hood.say("eve", "non")
    assert "Êtes-vous d'accord" in out[-1].text  # kept, and back to the question that waited
    person = await people.by_identity(hood.core.db, "fake", "eve")
    assert person is not None and person.consent_at is None


async def test_did_you_mean_offers_only_what_the_person_may_use_in_their_language(hood: Neighbours) -> None:
    """A newcomer typing /meteo was offered the moderators' /merge."""
    out = await hood.say("fay", "/meteo")
    assert "merge" not in out[0].text and "fusionner" not in out[0].text
    await hood.join("gus")
    out = await hood.say("gus", "/fusioner")
    assert "fusionner" not in out[0].text  # a resident: no moderator command
    await make_moderator(hood, "mod")
    out = await hood.say("mod", "/fusioner")
    assert "Vouliez-vous dire /fusionner ?" in out[0].text  # a moderator: yes, by its French name
    await hood.join("hal", lang="en")
    out = await hood.say("hal", "/profle")
    assert "Did you mean /profile?" in out[0].text


async def test_help_in_a_group_lists_only_what_works_there(hood: Neighbours) -> None:
    await hood.join("ida")
    room = hood.platform.room_of("ida")
    out = await hood.send("ida", CommandIn("aide", ""), chat=room)
    text = out[0].text
    assert "/aide" in text and "/signaler" in text
    assert "/profil" not in text and "/oublier" not in text and "/agenda" not in text
    private = await hood.say("ida", "/aide")
    assert "/profil" in private[0].text


async def test_pick_several_answers_briefly_and_never_unticks_silently(hood: Neighbours) -> None:
    await at_interests(hood, "jo")
    out = await hood.say("jo", "2, 5 et 9")
    assert len(out) == 1 and not out[0].choices  # one short message, not the list of eleven again
    assert "✓ Noté : Jardinage, Jeux de société, Café et discussions." in out[0].text
    assert "toucher « Continuer »" in out[0].text
    out = await hood.say("jo", "2")  # typed twice: still ticked, and said so
    assert "Déjà choisi : Jardinage." in out[0].text
    assert (await conv_of(hood, "jo")).data["interests"] == ["gardening", "games", "coffee"]
    out = await hood.press("jo", "Musique")
    out = await hood.press("jo", "Musique")  # a double tap: still ticked
    assert "Déjà choisi : Musique." in out[0].text
    hood.clock.advance(seconds=10)
    out = await hood.press("jo", "Musique")  # pressed again later: taken off, and said so
    assert "Retiré : Musique." in out[0].text
    out = await hood.press("jo", "Jardinage")
    assert "Retiré : Jardinage." in out[0].text
    out = await hood.press("jo", "Continuer ➜")  # one tap to finish, on the list above
    person = await people.by_identity(hood.core.db, "fake", "jo")
    assert person is not None and person.interests == ("games", "coffee")
    assert "Si vous ne donnez pas de nouvelles" in out[0].text  # the next question


async def test_without_buttons_the_short_answer_gives_the_number_to_continue(hood: Neighbours) -> None:
    """On Matrix and in the console the list is numbered lines: the answer says which number goes on."""
    hood.platform.capabilities = replace(hood.platform.capabilities, buttons=False)
    await at_interests(hood, "kim")
    out = await hood.say("kim", "cuisine")
    assert "✓ Noté : Cuisine." in out[0].text and "« Continuer » (n° 11)" in out[0].text
    out = await hood.say("kim", "11")
    assert "Si vous ne donnez pas de nouvelles" in out[0].text  # the next question


async def test_a_member_flooding_the_bot_outside_any_question_gets_one_hint(hood: Neighbours) -> None:
    await hood.join("lou")
    replies = []
    for i in range(20):
        replies += await hood.say("lou", f"message {i}")
        hood.clock.advance(seconds=1)
    assert len(replies) == 1 and "/aide" in replies[0].text
    hood.clock.advance(minutes=1)
    assert len(await hood.say("lou", "coucou ?")) == 1


async def test_start_again_at_a_yes_no_question_asks_it_again(hood: Neighbours) -> None:
    await at_consent(hood, "max")
    out = await hood.say("max", "/start")
    assert len(out) == 1 and "Êtes-vous d'accord" in out[0].text


async def test_a_command_in_the_event_wizard_comes_back_to_the_question(hood: Neighbours) -> None:
    """/agenda while describing an event: the agenda, then the wizard's question again."""
    await make_moderator(hood)
    await make_organizer(hood)
    await type_event(hood, title="Dégustation")
    await hood.say("shop", "/evenement")
    out = await hood.say("shop", "/agenda")
    assert "Dégustation" in out[0].text and "Reprenons" in out[-1].text and "titre" in out[-1].text.lower()
    out = await hood.say("shop", "Dégustation")  # the title, not the agenda's button of that name
    conv = await conv_of(hood, "shop")
    assert conv is not None and conv.step == "when" and conv.data["title"] == "Dégustation"
