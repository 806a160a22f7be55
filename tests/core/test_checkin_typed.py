"""A typed answer to "Est-ce que tout va bien ?" is read, through the whole core: urgent → the emergency
numbers and "shall I tell them?"; not fine → a chat, never "all is well"; away → "until when?"; a
message that does not say → asked again, and those told hear that the person wrote, not that all is
well. See ``test_checkins`` for the setting (Alice goes quiet, Bob hosts her circle, Mo moderates).
"""

from __future__ import annotations

import pytest

from bot.core.chat import TextIn
from bot.storage import checkins as store
from tests.core.conftest import Neighbours
from tests.core.test_checkin_ladder import escalated_alice, set_paris_hour, the_checkin
from tests.core.test_checkins import (
    keep_active,
    live,
    make_host,
    make_moderator,
    person_id,
    place_of,
    quiet_alice,
    quiet_list,
    three_neighbours,
    with_button,
)

pytestmark = pytest.mark.both_engines

ALL_IS_WELL = "Alice va bien"


def said_all_is_well(hood: Neighbours, user: str) -> bool:
    return any(ALL_IS_WELL in text for text in hood.texts(user))


async def asked_alice(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)


# ---- not fine ---------------------------------------------------------------------------------------


async def test_bof_pas_trop_asks_for_a_chat_and_is_answered_warmly(hood: Neighbours) -> None:
    await asked_alice(hood)
    out = await hood.say("alice", "bof pas trop")
    assert "Je suis le robot" not in out[-1].text
    assert "Merci de me l'avoir dit" in out[-1].text and "J'ai prévenu Bob" in out[-1].text
    assert "Alice aimerait bavarder" in hood.texts("bob")[-1]
    checkin = await the_checkin(hood)
    assert checkin.answer == "chat" and checkin.resolved_at is None
    assert "Aimeraient bavarder" in await quiet_list(hood, "mo")


async def test_escalated_then_bof_pas_trop_the_one_told_hears_of_a_chat_not_all_is_well(hood: Neighbours) -> None:
    """The failure this fixes: "bof pas trop" got the robot's hint, then the follow-up closed the
    check-in as alive and Bob heard that all was well."""
    await escalated_alice(hood)
    await live(hood, hours=25)  # the ladder moved on to Mo too
    assert with_button(hood, "mo", "checkin:ok:")
    await hood.say("alice", "bof pas trop")
    await live(hood, hours=24)
    await keep_active(hood, "bob", "mo")
    assert "Alice aimerait bavarder" in hood.texts("bob")[-1]  # the first fit one is asked to get in touch
    assert any("plutôt l'envie de bavarder" in text for text in hood.texts("mo"))  # the other one told: the truth
    assert not said_all_is_well(hood, "bob") and not said_all_is_well(hood, "mo")
    assert (await the_checkin(hood)).answer == "chat"


async def test_ca_va_pas_with_the_buttons_on_screen_is_not_all_is_well(hood: Neighbours) -> None:
    """The core would have read "ça va pas" as "ça va" and pressed "Tout va bien"."""
    await escalated_alice(hood)
    await hood.say("alice", "ça va pas")
    assert (await the_checkin(hood)).answer == "chat"
    assert not said_all_is_well(hood, "bob")
    await hood.say("alice", "2")  # a number is still a button: the chat is noted already
    assert (await the_checkin(hood)).answer == "chat"


async def test_not_fine_after_all_is_well_tells_the_truth(hood: Neighbours) -> None:
    await escalated_alice(hood)
    await hood.say("alice", "oui ça va")
    assert said_all_is_well(hood, "bob")
    out = await hood.say("alice", "en fait je suis fatiguée et un peu seule")
    assert "J'ai prévenu Bob" in out[-1].text
    assert "Alice aimerait bavarder" in hood.texts("bob")[-1]
    out = await hood.say("alice", "triste")
    assert "bien noté" in out[-1].text  # once asked for, noted again; Bob is not told twice
    assert len([t for t in hood.texts("bob") if "Alice aimerait bavarder" in t]) == 1


# ---- urgent ---------------------------------------------------------------------------------------------


async def test_urgent_gives_the_numbers_and_asks_whether_to_tell(hood: Neighbours) -> None:
    await asked_alice(hood)
    out = await hood.say("alice", "je suis tombée")
    text = out[-1].text
    assert "112" in text and "15" in text and "blessé·e" in text
    assert text.index("112") < text.index("Solitud'écoute")  # the emergency numbers first
    assert "Voulez-vous que je prévienne Bob maintenant ?" in text
    assert [c.label for c in out[-1].choices] == ["Oui, prévenez Bob", "Non, pas la peine"]
    assert not any("besoin d'aide" in t for t in hood.texts("bob"))  # asked, not guessed
    out = await hood.press("alice", "Oui, prévenez Bob")
    assert "j'ai prévenu Bob" in out[-1].text
    alert = with_button(hood, "bob", "checkin:ok:")
    assert len(alert) == 1 and "Alice m'a écrit avoir besoin d'aide" in alert[0].text and "112" in alert[0].text
    assert "Ont écrit avoir besoin d'aide" in await quiet_list(hood, "mo")
    again = await hood.press("alice", "checkin:tell:" + str((await the_checkin(hood)).id))
    assert "déjà noté" in again[-1].text
    assert len(with_button(hood, "bob", "checkin:ok:")) == 1
    await hood.press("bob", "C'est fait, tout va bien")
    assert "Personne en attente" in await quiet_list(hood, "mo")


async def test_urgent_without_an_answer_tells_the_contact_anyway_even_at_night(hood: Neighbours) -> None:
    await asked_alice(hood)
    await set_paris_hour(hood, 23)
    await keep_active(hood, "bob", "mo")
    await hood.say("alice", "au secours")
    hood.clock.advance(minutes=5)
    await hood.core.scheduler.tick()
    await hood.core.settle()
    assert not with_button(hood, "bob", "checkin:ok:")  # still her choice for a few minutes
    hood.clock.advance(minutes=6)
    await hood.core.scheduler.tick()
    await hood.core.settle()
    alert = with_button(hood, "bob", "checkin:ok:")
    assert len(alert) == 1 and "n'a plus répondu depuis 10 minutes" in alert[0].text  # at 23:11, not at 9:00
    assert "alors j'ai prévenu Bob" in hood.texts("alice")[-1]
    assert (await the_checkin(hood)).answer == "alerted"
    hood.clock.advance(minutes=15)
    await hood.core.scheduler.tick()
    await hood.core.settle()
    assert len(with_button(hood, "bob", "checkin:ok:")) == 1  # once


async def test_urgent_declined_tells_nobody_and_those_told_hear_only_that_she_answered(hood: Neighbours) -> None:
    await escalated_alice(hood)
    out = await hood.say("alice", "j'ai mal au dos")
    assert "Voulez-vous que je prévienne Bob" in out[-1].text
    out = await hood.say("alice", "oui mais fatiguée")  # anything but urgent: the question again
    assert out[-1].text == "Voulez-vous que je prévienne Bob maintenant ?"
    out = await hood.press("alice", "Non, pas la peine")
    assert "je ne préviens personne" in out[-1].text
    await live(hood, hours=1)
    assert hood.texts("bob")[-1] == "Alice m'a répondu. Merci d'avoir veillé !"
    assert not any("besoin d'aide" in t for t in hood.texts("bob")) and not said_all_is_well(hood, "bob")
    hood.clock.advance(minutes=30)
    await hood.core.scheduler.tick()
    await hood.core.settle()
    assert not any("besoin d'aide" in t for t in hood.texts("bob"))


async def test_urgent_with_nobody_to_tell_says_so_with_the_numbers(hood: Neighbours) -> None:
    await hood.join("alice")
    await live(hood, days=11)
    out = await hood.say("alice", "je suis tombée")
    assert "112" in out[-1].text and "personne du quartier à prévenir" in out[-1].text and not out[-1].choices


# ---- away, fine, and a message that does not say -------------------------------------------------------


async def test_away_typed_asks_until_when(hood: Neighbours) -> None:
    await asked_alice(hood)
    out = await hood.say("alice", "je suis en vacances chez ma fille")
    assert "Jusqu'à quand" in out[-1].text
    out = await hood.say("alice", "2 semaines")
    assert "inclus" in out[-1].text
    assert (await the_checkin(hood)).answer == "away"
    assert await store.away_until(hood.core.db, await person_id(hood, "alice")) is not None


async def test_a_message_that_does_not_say_is_asked_again_and_is_not_all_is_well(hood: Neighbours) -> None:
    await escalated_alice(hood)
    out = await hood.say("alice", "C'est quand le prochain atelier tricot ?")
    assert out[-1].text == "Merci de votre message, Alice ! Et vous, tout va bien ?"
    assert [c.label for c in out[-1].choices] == [
        "Tout va bien 🙂", "J'aimerais bavarder un peu", "Je suis absent·e un moment", "Ne plus me demander"]
    assert (await the_checkin(hood)).answer == "wrote"
    await live(hood, hours=3)
    assert any("sans me dire encore si tout va bien" in t for t in hood.texts("bob"))
    assert not said_all_is_well(hood, "bob")
    assert not any("a répondu à ma question" in t for t in hood.texts("bob"))
    out = await hood.press("alice", "Tout va bien 🙂")  # the buttons asked again still count
    assert "Merci, ça fait plaisir" in out[-1].text
    assert said_all_is_well(hood, "bob")


async def test_a_message_that_does_not_say_then_bof_asks_for_a_chat(hood: Neighbours) -> None:
    await asked_alice(hood)
    await hood.say("alice", "bonjour")
    out = await hood.say("alice", "bof")
    assert "J'ai prévenu Bob" in out[-1].text
    assert (await the_checkin(hood)).answer == "chat"


# ---- what does not change -----------------------------------------------------------------------------


async def test_a_message_in_the_circle_is_a_sign_of_life_as_before(hood: Neighbours) -> None:
    await escalated_alice(hood)
    await hood.send("alice", TextIn("bof pas trop"), chat=hood.platform.room_of("alice"))
    await live(hood, hours=1)
    assert (await the_checkin(hood)).answer == "active"
    assert not any("Alice aimerait bavarder" in t for t in hood.texts("bob"))


async def test_with_no_check_in_a_typed_message_gets_the_usual_hint(hood: Neighbours) -> None:
    await three_neighbours(hood)
    out = await hood.say("alice", "bof pas trop")
    assert "Je suis le robot" in out[-1].text
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM checkins") == 0


async def test_after_the_window_a_typed_message_is_no_longer_an_answer(hood: Neighbours) -> None:
    await asked_alice(hood)
    await hood.press("alice", "Tout va bien 🙂")
    hood.clock.advance(hours=49)
    out = await hood.say("alice", "bof pas trop")
    assert "Je suis le robot" in out[-1].text
    assert (await the_checkin(hood)).answer == "fine"


async def test_a_sign_of_life_in_the_circle_then_bof_privately_is_still_read(hood: Neighbours) -> None:
    await escalated_alice(hood)
    await hood.send("alice", TextIn("Me revoilà"), chat=hood.platform.room_of("alice"))
    await live(hood, hours=2)
    await hood.say("alice", "je me sens seule")
    assert (await the_checkin(hood)).answer == "chat"
    assert "Alice aimerait bavarder" in hood.texts("bob")[-1]


# ---- in English ---------------------------------------------------------------------------------------


async def english_alice(hood: Neighbours) -> None:
    await hood.join("alice", lang="en")
    for user in ("bob", "mo"):
        await hood.join(user)
    await make_host(hood, "bob")
    await make_moderator(hood, "mo", await place_of(hood, "alice"))
    await quiet_alice(hood, 11)


async def test_in_english_not_great_asks_for_a_chat(hood: Neighbours) -> None:
    await english_alice(hood)
    out = await hood.say("alice", "not great")
    assert "Thank you for telling me. I've told Bob" in out[-1].text
    assert (await the_checkin(hood)).answer == "chat"


async def test_in_english_i_fell_gives_the_numbers_and_asks(hood: Neighbours) -> None:
    await english_alice(hood)
    out = await hood.say("alice", "I fell")
    assert "112" in out[-1].text and "if you are hurt" in out[-1].text
    assert "Would you like me to tell Bob now?" in out[-1].text
    out = await hood.say("alice", "yes")  # a typed yes answers the question
    assert "I've told Bob" in out[-1].text
    assert "Alice m'a écrit avoir besoin d'aide" in with_button(hood, "bob", "checkin:ok:")[-1].text


async def test_in_english_a_message_that_does_not_say(hood: Neighbours) -> None:
    await english_alice(hood)
    out = await hood.say("alice", "When is the next walk?")
    assert out[-1].text == "Thank you for your message, Alice! And you, is everything all right?"
    hood.clock.advance(minutes=1)
    out = await hood.say("alice", "I'm fine thanks")
    assert "good to hear" in out[-1].text
    assert (await the_checkin(hood)).answer == "fine"



# ---- urgent with no check-in listening ----------------------------------------------------------------


async def test_urgent_with_no_check_in_open_takes_the_urgent_path(hood: Neighbours) -> None:
    """"Je suis tombée" written any day (no question asked) used to get the bot's usual hint."""
    await three_neighbours(hood)
    out = await hood.say("alice", "je suis tombée")
    assert "112" in out[-1].text and "Voulez-vous que je prévienne Bob maintenant ?" in out[-1].text
    assert "Je suis le robot" not in out[-1].text
    await hood.press("alice", "Oui, prévenez Bob")
    alert = with_button(hood, "bob", "checkin:ok:")
    assert len(alert) == 1 and "Alice m'a écrit avoir besoin d'aide" in alert[0].text
    assert (await the_checkin(hood)).answer == "alerted"


async def test_urgent_from_someone_who_refused_check_ins_gets_the_numbers_and_nobody_is_told(
        hood: Neighbours) -> None:
    from bot.storage import people

    await three_neighbours(hood)
    async with hood.core.db.transaction():
        await people.update(hood.core.db, await person_id(hood, "alice"), checkins=0)
    out = await hood.say("alice", "au secours")
    assert "112" in out[-1].text and "je respecte ce choix" in out[-1].text and not out[-1].choices
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM checkins") == 0
    hood.clock.advance(minutes=30)
    await hood.core.scheduler.tick()
    await hood.core.settle()
    assert not with_button(hood, "bob", "checkin:ok:")


async def test_help_typed_alone_with_no_check_in_is_the_help_command(hood: Neighbours) -> None:
    """Tried in the console in English: "help" (meaning /help) got the emergency numbers."""
    await three_neighbours(hood)
    out = await hood.say("alice", "help")
    assert "Ce que Voisinage sait faire" in out[0].text and "112" not in out[0].text
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM checkins") == 0
