"""Nobody waits for a circle in silence (bot.circles.waiting), through the dispatcher and the clock, with
the deployment's real rule (a circle opens with five, or with three after 14 days): a neighbour whose
circle could not open is told once, with the nearby circles that have room and "keep waiting"; the
moderators of the place hear once; nothing is said twice, nor to someone who no longer waits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.memory import MemoryPlatform
from bot.assemble import build_core
from bot.circles import rooms, waiting
from bot.core import roles
from bot.core.app import Content
from bot.core.chat import ChoiceIn, Outgoing
from bot.core.clock import FakeClock
from bot.core.config import Config, load_config
from bot.storage import circles as circle_store
from bot.storage import people
from bot.storage.database import Database
from tests.core.conftest import Neighbours

pytestmark = pytest.mark.both_engines  # on SQLite and PostgreSQL (tests/engines.py)

NEWS = "Des nouvelles du cercle de <b>Belleville</b>"


def five_to_open(admins: list[str] | None = None) -> Config:
    """The deployment's default (a circle opens with five), optionally with admins named."""
    config = load_config()
    assert config.circles.open_with == 5
    if admins is not None:
        config = replace(config, deployment=replace(config.deployment, admins=admins))
    return config


async def neighbours(database: str, content: Content, config: Config) -> Neighbours:
    db = await Database.open(database)
    clock = FakeClock()
    core = build_core(config, db, content, clock)
    platform = MemoryPlatform()
    core.attach(platform)
    return Neighbours(core, platform, clock)


@pytest.fixture
async def hood(database: str, content: Content) -> AsyncIterator[Neighbours]:
    hood = await neighbours(database, content, five_to_open())
    yield hood
    await hood.core.db.close()
    assert hood.platform.not_catalogue == [], "the core sent text that is not from the catalogue"


async def person(hood: Neighbours, user: str) -> people.Person:
    found = await people.by_identity(hood.core.db, "fake", user)
    assert found is not None
    return found


async def open_menilmontant(hood: Neighbours) -> None:
    """Five neighbours of Ménilmontant (0.5 km from Belleville): its circle opens, with room for three more."""
    for i in range(5):
        await hood.join(f"m{i}", "menilmontant")
    assert len(await circle_store.open_in_place(hood.core.db, "nb:menilmontant")) == 1


async def days_pass(hood: Neighbours, days: int) -> list[str]:
    """Time moves on and the daily pass runs; returns the texts sent meanwhile (to anyone)."""
    before = len(hood.platform.sent)
    hood.clock.advance(timedelta(days=days))
    await hood.core.scheduler.tick()
    await hood.core.settle()
    return [m.text for m in hood.platform.sent[before:]]


def news_to(hood: Neighbours, user: str) -> list[str]:
    return [text for text in hood.texts(user) if "Des nouvelles du cercle" in text or "News of the circle" in text]


def last_with(hood: Neighbours, user: str, *markers: str) -> Outgoing:
    """The last message to ``user`` holding one of ``markers`` (a check-in may have come after it: its
    buttons stay pressable, as in Telegram)."""
    return [m for m in hood.platform.to(f"dm:{user}") if any(k in m.text for k in markers)][-1]


def buttons(hood: Neighbours, user: str) -> list[str]:
    return [c.label for c in last_with(hood, user, "Des nouvelles du cercle", "News of the circle").choices]


async def press_on(hood: Neighbours, user: str, label: str, *markers: str) -> list[Outgoing]:
    message = last_with(hood, user, *(markers or ("Des nouvelles du cercle", "News of the circle")))
    [payload] = [c.payload for c in message.choices if c.label == label]
    return await hood.send(user, ChoiceIn(payload))


async def test_alone_for_two_weeks_is_told_once_with_the_nearby_circle(hood: Neighbours) -> None:
    await open_menilmontant(hood)
    await hood.join("alice")
    assert "vous êtes le premier, il en manque 4" in hood.texts("alice")[-1]
    await days_pass(hood, 13)
    assert news_to(hood, "alice") == [], "the promise was 14 days"
    await days_pass(hood, 1)
    [news] = news_to(hood, "alice")
    assert NEWS in news and "cela fait 14 jours que vous y êtes inscrit" in news
    assert "un cercle a de la place" in news and "Vous pouvez aussi continuer d'attendre" in news
    assert "dire « Belleville »" in news and "/affiche" in news
    assert buttons(hood, "alice") == ["Rejoindre le cercle de Ménilmontant (à 0,5 km)", "Continuer d'attendre"]
    for _ in range(5):
        await days_pass(hood, 1)
    assert len(news_to(hood, "alice")) == 1, "never daily"
    assert not any("Des nouvelles" in t for i in range(5) for t in hood.texts(f"m{i}"))
    await days_pass(hood, 24)  # day 43
    assert len(news_to(hood, "alice")) == 1
    await days_pass(hood, 1)  # 30 days after the news, without an answer: news again
    assert len(news_to(hood, "alice")) == 2 and "cela fait 44 jours" in news_to(hood, "alice")[-1]


async def test_joining_the_nearby_circle_moves_the_neighbour_as_profile_does(hood: Neighbours) -> None:
    await open_menilmontant(hood)
    await hood.join("alice")
    await days_pass(hood, 14)
    out = await press_on(hood, "alice", "Rejoindre le cercle de Ménilmontant (à 0,5 km)")
    texts = [m.text for m in out]
    assert texts[0].startswith("Votre quartier devient <b>Ménilmontant</b>")
    assert "vous n'attendez plus le cercle de Belleville" in texts[0]
    assert texts[1].startswith("Bienvenue dans le cercle <b>Voisins · Ménilmontant · 1</b> ! Vous y retrouvez M0, M1")
    alice = await person(hood, "alice")
    assert alice.place_id == "nb:menilmontant"
    circle = await circle_store.circle_of(hood.core.db, alice.id)
    assert circle is not None and circle.place_id == "nb:menilmontant"
    assert not await circle_store.is_waiting(hood.core.db, alice.id)
    assert "alice" in hood.platform.rooms[hood.platform.room_of("m0")]
    # The button stays in the chat: pressed again, it says the wait is over and changes nothing.
    out = await hood.send("alice", ChoiceIn("waitnear:nb:menilmontant"))
    assert "Vous n'attendez plus de cercle" in out[-1].text
    assert (await circle_store.circle_of(hood.core.db, alice.id)) == circle
    await days_pass(hood, 30)
    assert len(news_to(hood, "alice")) == 1


async def test_keep_waiting_means_news_again_thirty_days_after_the_answer(hood: Neighbours) -> None:
    await hood.join("alice")
    await days_pass(hood, 14)
    assert len(news_to(hood, "alice")) == 1
    await days_pass(hood, 6)
    out = await press_on(hood, "alice", "Continuer d'attendre")
    assert "vous gardez votre place pour le cercle de <b>Belleville</b>" in out[-1].text
    assert await circle_store.is_waiting(hood.core.db, (await person(hood, "alice")).id)
    out = await hood.say("alice", "/mesdonnees")  # what is kept about the wait is shown too
    wait = json.loads(out[-1].attachment.data)["circle_wait"]
    assert wait["place_id"] == "nb:belleville" and wait["told_at"].startswith("2026-12-15")
    await days_pass(hood, 24)  # 30 days after the news, 24 after the answer
    assert len(news_to(hood, "alice")) == 1
    await days_pass(hood, 5)
    assert len(news_to(hood, "alice")) == 1
    await days_pass(hood, 1)  # 30 days after the answer
    assert len(news_to(hood, "alice")) == 2
    assert "cela fait 50 jours" in news_to(hood, "alice")[-1]


async def test_with_no_circle_nearby_the_news_still_comes_without_a_join_button(hood: Neighbours) -> None:
    await hood.join("alice")
    await days_pass(hood, 14)
    [news] = news_to(hood, "alice")
    assert "a de la place" not in news and "continuer d'attendre" in news
    assert buttons(hood, "alice") == ["Continuer d'attendre"]


async def test_the_news_carries_the_link_that_brings_neighbours(database: str, content: Content) -> None:
    config = five_to_open()
    hood = await neighbours(database, content, replace(config, telegram=replace(config.telegram,
                                                                               username="QuartierBot")))
    try:
        await hood.join("alice")
        await days_pass(hood, 14)
        [news] = news_to(hood, "alice")
        assert ("dire « Belleville ». Ce lien choisit le quartier pour eux : "
                "https://t.me/QuartierBot?start=p-nb__belleville") in news
        assert "Vous pouvez continuer d'attendre" in news
    finally:
        await hood.core.db.close()


async def test_news_decided_at_night_waits_for_the_morning(hood: Neighbours) -> None:
    await hood.join("alice")
    hood.clock.advance(timedelta(hours=13))  # 23:00 UTC, midnight in Paris
    assert await days_pass(hood, 14) == []
    assert news_to(hood, "alice") == []
    hood.clock.advance(timedelta(hours=9))  # 9:00 in Paris: quiet hours are over
    await hood.core.settle()
    assert len(news_to(hood, "alice")) == 1


async def test_a_full_or_far_circle_cannot_be_joined_by_a_stale_or_forged_button(hood: Neighbours) -> None:
    await hood.join("alice")
    await days_pass(hood, 14)
    for forged in ("waitnear:nb:menilmontant", "waitnear:nb:honfleur-vieux-bassin", "waitnear:", "waitnear:x:y"):
        out = await hood.send("alice", ChoiceIn(forged))
        assert "Ce cercle n'a plus de place pour l'instant" in out[-1].text, forged
    alice = await person(hood, "alice")
    assert alice.place_id == "nb:belleville" and await circle_store.is_waiting(hood.core.db, alice.id)


async def test_two_waiting_and_their_moderator_each_told_once(hood: Neighbours) -> None:
    await hood.join("modo", "charonne")
    async with hood.core.db.transaction():
        await roles.grant_moderator(hood.core.db, (await person(hood, "modo")).id, "nb:belleville", None,
                                    hood.clock.now())
    await hood.join("alice")
    hood.clock.advance(timedelta(days=3))
    await hood.join("bob")
    await days_pass(hood, 11)  # Alice waited 14 days, Bob 11: she hears, the moderator hears of one
    assert len(news_to(hood, "alice")) == 1 and news_to(hood, "bob") == []
    assert "vous êtes 2 à attendre, et il en faut au moins 3 pour l'ouvrir" in news_to(hood, "alice")[0]
    notices = [t for t in hood.texts("modo") if "attend un cercle depuis plus de 14 jours" in t
               or "attendent un cercle" in t]
    assert notices == [
        "1 personne de <b>Belleville</b> attend un cercle depuis plus de 14 jours : il faut au moins 3 voisins "
        "pour l'ouvrir. Le centre social, une affiche (/affiche) ou une rencontre pourraient l'aider à trouver "
        "ses voisins."]
    await days_pass(hood, 3)
    assert len(news_to(hood, "bob")) == 1 and len(news_to(hood, "alice")) == 1
    assert len([t for t in hood.texts("modo") if "un cercle depuis plus de" in t]) == 1, "one per place per period"
    out = await press_on(hood, "modo", "Voir qui attend", "un cercle depuis plus de")
    listing = out[-1].text
    assert listing.startswith("2 personnes attendent un cercle à <b>Belleville</b>")
    assert "Alice (#" in listing and "Bob (#" in listing and "(17 jours)" in listing and "(14 jours)" in listing
    await days_pass(hood, 27)  # 30 days after the first notice
    assert len([t for t in hood.texts("modo") if "un cercle depuis plus de" in t]) == 2
    assert "2 personnes de <b>Belleville</b> attendent" in last_with(hood, "modo", "un cercle depuis plus de").text


async def test_a_resident_cannot_see_who_waits(hood: Neighbours) -> None:
    await hood.join("alice")
    await hood.join("bob", "charonne")
    out = await hood.send("bob", ChoiceIn("mod:wait:nb:belleville"))
    assert "Alice" not in out[-1].text


async def test_admins_hear_when_the_place_has_no_moderator(database: str, content: Content) -> None:
    hood = await neighbours(database, content, five_to_open(admins=["fake:root"]))
    try:
        await hood.join("root", "charonne")
        await hood.join("alice")
        await days_pass(hood, 14)
        assert any("1 personne de <b>Belleville</b> attend un cercle" in t for t in hood.texts("root"))
    finally:
        await hood.core.db.close()


async def test_a_second_pass_or_a_restart_says_nothing_twice(hood: Neighbours, content: Content) -> None:
    await hood.join("modo", "charonne")
    async with hood.core.db.transaction():
        await roles.grant_moderator(hood.core.db, (await person(hood, "modo")).id, "nb:belleville", None,
                                    hood.clock.now())
    await hood.join("alice")
    await days_pass(hood, 14)
    sent = len(hood.platform.sent)
    # The same pass again the same day (a worker whose lease ran out while it finished): nothing new.
    await rooms.merge_pass(hood.core, hood.clock.now())
    await hood.core.settle()
    assert len(hood.platform.sent) == sent
    # A second worker that read the waits before the first one's commit: the messages' keys stop it.
    async with hood.core.db.transaction():
        await hood.core.db.execute("UPDATE circle_waits SET told_at = NULL")
        await hood.core.db.execute("DELETE FROM circle_wait_notices")
    await rooms.merge_pass(hood.core, hood.clock.now())
    await hood.core.settle()
    assert len(hood.platform.sent) == sent
    # A restart on the same database, later the same day.
    restarted = build_core(five_to_open(), hood.core.db, content, hood.clock)
    restarted.attach(hood.platform)
    hood.clock.advance(timedelta(hours=5))
    await restarted.scheduler.tick()
    await restarted.settle()
    assert len(hood.platform.sent) == sent
    assert len(news_to(hood, "alice")) == 1


async def test_many_due_are_told_in_batches_each_once(hood: Neighbours, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waiting, "BATCH", 2)
    for user, place in (("alice", "belleville"), ("bob", "charonne"), ("carol", "jourdain"), ("dan", "gambetta"),
                        ("eve", "telegraphe")):
        await hood.join(user, place)
    await days_pass(hood, 14)  # five due: batches of 2, 2 and 1
    assert all(len(news_to(hood, user)) == 1 for user in ("alice", "bob", "carol", "dan", "eve"))
    assert await waiting.tell_long_waits(hood.core, hood.clock.now()) == (0, 0)


async def test_who_no_longer_waits_hears_nothing(hood: Neighbours) -> None:
    await hood.join("alice")
    await hood.join("bob")
    await hood.join("carol")
    await hood.join("dan")
    await days_pass(hood, 5)
    await hood.say("alice", "/oublier")
    await hood.press("alice", "forget:yes")
    await hood.say("bob", "/profil")  # Bob moves to Charonne: he waits there now, from today
    await hood.press("bob", "profile.menu:place")
    await hood.say("bob", "charonne")
    bob = await person(hood, "bob")
    assert bob.place_id == "nb:charonne" and (await circle_store.wait_of(hood.core.db, bob.id)).place_id == bob.place_id
    out = await hood.say("carol", "/quitter")  # leaving the wait is leaving the circle before it opens
    assert "Vous attendez que le cercle de <b>Belleville</b> s'ouvre. Ne plus l'attendre ?" in out[-1].text
    out = await hood.press("carol", "leave:yes")
    assert "Vous n'attendez plus le cercle de <b>Belleville</b>" in out[-1].text
    await hood.say("dan", "/quitter")  # "no": the wait goes on, and is called a wait
    out = await hood.press("dan", "leave:no")
    assert out[-1].text == ("Très bien : vous attendez toujours le cercle de <b>Belleville</b>, je vous y invite "
                            "dès qu'il s'ouvre.")
    await days_pass(hood, 9)
    assert news_to(hood, "alice") == [] and news_to(hood, "bob") == [] and news_to(hood, "carol") == []
    [news] = news_to(hood, "dan")
    assert "cela fait 14 jours que vous y êtes inscrit, et personne d'autre" in news, "alone now"


async def test_in_english(hood: Neighbours) -> None:
    await open_menilmontant(hood)
    await hood.join("ann", lang="en")
    await days_pass(hood, 14)
    [news] = news_to(hood, "ann")
    assert "News of the circle of <b>Belleville</b>, as promised" in news and "you joined 14 days ago" in news
    assert "Close by, a circle has room" in news and "keep waiting" in news and "/poster" in news
    assert buttons(hood, "ann") == ["Join the circle of Ménilmontant (0.5 km away)", "Keep waiting"]
    out = await press_on(hood, "ann", "Keep waiting")
    assert "you keep your place for the circle of <b>Belleville</b>" in out[-1].text
