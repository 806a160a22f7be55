"""An answer that fits several choices is asked about, never guessed and never "not understood".

At the check-in question of onboarding two choices begin with "Oui" (tell the circle's host, tell a
neighbour I choose): a plain "oui" used to get "Je n'ai pas bien compris" and the whole question. Now
the bot says what it understood and offers only the choices that fit, with the numbers they have in the
question; the question itself stays the one being answered, by a button, any of its numbers, or words.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.chat import Outgoing
from bot.storage import conversations, people
from tests.core.conftest import Neighbours

HOST = "onboarding.checkins:host"
CONTACT = "onboarding.checkins:contact"
NO = "onboarding.checkins:no"


async def at_checkins(hood: Neighbours, user: str, lang: str = "fr") -> list[str]:
    """Onboarding up to the check-in question; returns its choices' payloads, in the order shown."""
    await hood.say(user, "/start", lang=lang)
    await hood.press(user, "onboarding.consent:yes")
    await hood.say(user, "belleville")
    out = await hood.press(user, "onboarding.interests:done")
    assert out[-1].choices and out[-1].choices[0].payload.startswith("onboarding.checkins")
    hood.clock.advance(minutes=1)
    return [c.payload for c in out[-1].choices]


async def snapshot(hood: Neighbours, user: str) -> tuple:
    """Everything an answer at this question could change: the person (but when they were last active:
    any message is a sign of life, for the check-ins), the conversation, the choices a typed number
    stands for."""
    person = await people.by_identity(hood.core.db, "fake", user)
    assert person is not None
    person = replace(person, last_active_at=None)
    conv = await conversations.get(hood.core.db, person.id)
    offered = await conversations.offered_choices(hood.core.db, "fake", f"dm:{user}")
    return person, conv, offered


async def step(hood: Neighbours, user: str) -> str | None:
    person = await people.by_identity(hood.core.db, "fake", user)
    conv = await conversations.get(hood.core.db, person.id)
    return conv.step if conv else None


def narrowed(out: list[Outgoing], order: list[str], wanted: list[str]) -> Outgoing:
    """The one "which of these?" message: only ``wanted``, with their numbers in the question."""
    assert len(out) == 1, [m.text for m in out]
    message = out[0]
    assert [c.payload for c in message.choices] == [p for p in order if p in wanted]
    assert [c.number for c in message.choices] == [order.index(c.payload) + 1 for c in message.choices]
    assert "pas bien compris" not in message.text and "didn't quite understand" not in message.text
    return message


async def test_oui_asks_which_yes_and_changes_nothing(hood: Neighbours) -> None:
    order = await at_checkins(hood, "ana")
    before = await snapshot(hood, "ana")
    out = await hood.say("ana", "oui")
    message = narrowed(out, order, [HOST, CONTACT])
    assert message.text == "Oui — lequel de ces choix ?"
    assert await snapshot(hood, "ana") == before  # same step, same data, the whole question still answerable


async def test_the_distinguishing_word_answers_after_oui(hood: Neighbours) -> None:
    await at_checkins(hood, "ben")
    await hood.say("ben", "oui")
    out = await hood.say("ben", "voisin")
    assert await step(hood, "ben") == "contact" and "Quel voisin prévenir" in out[-1].text


async def test_oui_and_the_word_together_answer_at_once(hood: Neighbours) -> None:
    await at_checkins(hood, "bob")
    out = await hood.say("bob", "oui, le voisin")
    assert len(out) == 1 and "Quel voisin prévenir" in out[0].text


async def test_the_number_seen_first_still_means_that_choice(hood: Neighbours) -> None:
    order = await at_checkins(hood, "cle")
    await hood.say("cle", "oui")
    await hood.say("cle", str(order.index(CONTACT) + 1))  # the number it had, and still has, in the list
    assert await step(hood, "cle") == "contact"


async def test_a_number_not_in_the_narrowed_list_still_answers_the_question(hood: Neighbours) -> None:
    order = await at_checkins(hood, "dan")
    await hood.say("dan", "oui")
    await hood.say("dan", str(order.index(NO) + 1))  # "Non merci", not offered again, still a choice
    dan = await people.by_identity(hood.core.db, "fake", "dan")
    assert dan.onboarded and not dan.checkins


async def test_a_button_of_the_narrowed_list_answers(hood: Neighbours) -> None:
    await at_checkins(hood, "eve")
    await hood.say("eve", "oui")
    await hood.press("eve", CONTACT)  # the narrowed message's button carries the question's payload
    assert await step(hood, "eve") == "contact"


async def test_non_where_only_one_choice_means_no_is_taken_at_once(hood: Neighbours) -> None:
    await at_checkins(hood, "fay")
    out = await hood.say("fay", "non")
    assert not any("lequel" in m.text for m in out)
    fay = await people.by_identity(hood.core.db, "fake", "fay")
    assert fay.onboarded and not fay.checkins


async def test_a_word_in_two_choices_asks_which_and_narrows_again(hood: Neighbours) -> None:
    order = await at_checkins(hood, "gus")
    message = narrowed(await hood.say("gus", "prévenir"), order, [HOST, CONTACT])
    assert message.text == "« prévenir » — lequel de ces choix ?"
    again = narrowed(await hood.say("gus", "oui"), order, [HOST, CONTACT])  # still ambiguous: asked again
    assert again.text == "Oui — lequel de ces choix ?"
    await hood.say("gus", "l'animateur")
    gus = await people.by_identity(hood.core.db, "fake", "gus")
    assert gus.onboarded and gus.checkins


async def test_ambiguous_then_nonsense_is_not_understood_with_the_whole_question(hood: Neighbours) -> None:
    order = await at_checkins(hood, "hal")
    before = await snapshot(hood, "hal")
    await hood.say("hal", "oui")
    out = await hood.say("hal", "peut-être demain")
    assert len(out) == 1 and out[0].text.startswith("Je n'ai pas bien compris")
    assert "Si vous ne donnez pas de nouvelles" in out[0].text
    assert [c.payload for c in out[0].choices] == order and all(c.number == 0 for c in out[0].choices)
    person, conv, offered = await snapshot(hood, "hal")
    assert (person, conv.step, offered) == (before[0], before[1].step, before[2])


async def test_the_same_ambiguous_answer_in_a_burst_is_asked_about_once(hood: Neighbours) -> None:
    order = await at_checkins(hood, "ida")
    replies = []
    for _ in range(5):
        replies += await hood.say("ida", "oui")
        hood.clock.advance(seconds=2)
    narrowed(replies, order, [HOST, CONTACT])
    hood.clock.advance(minutes=1)
    narrowed(await hood.say("ida", "oui"), order, [HOST, CONTACT])  # later: asked again


async def test_in_english_too(hood: Neighbours) -> None:
    order = await at_checkins(hood, "jim", lang="en")
    before = await snapshot(hood, "jim")
    message = narrowed(await hood.say("jim", "yes"), order, [HOST, CONTACT])
    assert message.text == "Yes — which of these?"
    assert await snapshot(hood, "jim") == before
    message = narrowed(await hood.say("jim", "tell"), order, [HOST, CONTACT])
    assert message.text == "“tell” — which of these?"
    out = await hood.say("jim", "yes, the neighbour")
    assert await step(hood, "jim") == "contact" and "Which neighbour" in out[-1].text


async def test_the_unambiguous_path_costs_no_extra_message(hood: Neighbours) -> None:
    """Onboarding's budget: one message per answer, "oui" included where one choice means yes."""
    assert len(await hood.say("kim", "bonjour")) == 1
    assert len(await hood.say("kim", "oui")) == 1  # consent: only "Oui, d'accord" means yes
    assert len(await hood.say("kim", "belleville")) == 1
    assert len(await hood.say("kim", "fini")) == 1
    assert len(await hood.say("kim", "oui l'animateur")) == 1
    kim = await people.by_identity(hood.core.db, "fake", "kim")
    assert kim.onboarded and kim.checkins and len(hood.texts("kim")) == 5
