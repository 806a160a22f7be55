"""Circles through the core: placement, introductions, mirroring across platforms, leaving, merging."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.memory import MemoryPlatform
from bot.core.chat import Address, Incoming, Sender, TextIn
from bot.storage import circles as circle_store
from bot.storage import people
from tests.core.conftest import Neighbours

pytestmark = pytest.mark.both_engines  # on SQLite and PostgreSQL (tests/engines.py)


async def circle_id(hood: Neighbours, user: str, platform: str = "fake") -> int:
    person = await people.by_identity(hood.core.db, platform, user)
    assert person is not None
    circle = await circle_store.circle_of(hood.core.db, person.id)
    assert circle is not None
    return circle.id


async def test_neighbours_share_a_circle_and_are_introduced(hood: Neighbours) -> None:
    await hood.join("alice")
    await hood.join("bob")
    assert await circle_id(hood, "alice") == await circle_id(hood, "bob")
    room = hood.platform.room_of("alice")
    assert hood.platform.rooms[room] == {"alice", "bob"}
    intro = hood.platform.to(room)[-1].text
    assert "Bob rejoint le cercle" in intro
    assert "Vous y retrouvez Alice" in hood.texts("bob")[-1]


async def test_other_neighbourhoods_get_their_own_circle(hood: Neighbours) -> None:
    await hood.join("alice", "belleville")
    await hood.join("bob", "charonne")
    assert await circle_id(hood, "alice") != await circle_id(hood, "bob")


async def test_a_circle_at_its_target_grows_rather_than_leave_someone_alone(hood: Neighbours) -> None:
    """Before issue 19 the ninth neighbour opened circle 2 and sat there alone: now the circle grows
    (up to hard_max, then splits in two: see test_circle_sizes.py)."""
    target_max = hood.core.config.circles.target_max
    for i in range(target_max + 1):
        await hood.join(f"n{i}")
    first = await circle_id(hood, "n0")
    sizes = [
        len(await circle_store.member_ids(hood.core.db, c.id))
        for c in await circle_store.open_in_place(
            hood.core.db, (await people.by_identity(hood.core.db, "fake", "n0")).place_id
        )
    ]
    assert sizes == [target_max + 1]
    assert await circle_id(hood, f"n{target_max}") == first


async def test_words_are_mirrored_to_the_other_platform_once_with_the_name(hood: Neighbours) -> None:
    other = MemoryPlatform(platform="other")
    hood.core.attach(other)
    await hood.join("alice")
    cid = await circle_id(hood, "alice")
    async with hood.core.db.transaction():
        await circle_store.set_room(hood.core.db, cid, "other", "grp:1")
        bob = await people.create(hood.core.db, "other", "bob", "dm:bob", "Bob", "fr", hood.clock.now())
        await people.update(hood.core.db, bob.id, onboarded_at="2026-11-25T10:00:00+00:00")
        await circle_store.add_member(hood.core.db, cid, bob.id, hood.clock.now())
    room = hood.platform.room_of("alice")
    await hood.send("alice", TextIn("Qui vient au marché <samedi> ?"), chat=room)
    relayed = other.to("grp:1")
    assert [m.text for m in relayed] == ["<b>Alice</b> : Qui vient au marché &lt;samedi&gt; ?"]
    assert relayed[0].kind == "relay"
    # Bob answers from the other platform: it reaches the fake room, and is not sent back to "other".
    event = Incoming(Address("other", "grp:1", "bob", private=False), TextIn("Moi !"), Sender("Bob"), "o-1")
    await hood.core.receive(event)
    await hood.core.settle()
    assert hood.platform.to(room)[-1].text == "<b>Bob</b> : Moi !"
    assert len(other.to("grp:1")) == 1
    # The same platform event delivered twice is handled once.
    await hood.core.receive(event)
    await hood.core.settle()
    assert [m.text for m in hood.platform.to(room)].count("<b>Bob</b> : Moi !") == 1


async def test_strangers_in_a_circle_room_are_not_mirrored(hood: Neighbours) -> None:
    other = MemoryPlatform(platform="other")
    hood.core.attach(other)
    await hood.join("alice")
    cid = await circle_id(hood, "alice")
    async with hood.core.db.transaction():
        await circle_store.set_room(hood.core.db, cid, "other", "grp:1")
    room = hood.platform.room_of("alice")
    await hood.send("zed", TextIn("pub !"), chat=room)
    assert other.to("grp:1") == []


async def test_activity_in_the_room_is_recorded(hood: Neighbours) -> None:
    await hood.join("alice")
    room = hood.platform.room_of("alice")
    hood.clock.advance(days=3)
    await hood.send("alice", TextIn("bonjour"), chat=room)
    alice = await people.by_identity(hood.core.db, "fake", "alice")
    assert alice.last_active_at == "2026-11-28T10:00:00+00:00"


async def test_leave_asks_first_then_tells_the_circle(hood: Neighbours) -> None:
    await hood.join("alice")
    await hood.join("bob")
    out = await hood.say("bob", "/quitter")
    assert "Quitter votre cercle ?" in out[0].text
    await hood.press("bob", "Non, rester")
    assert await circle_id(hood, "bob")
    await hood.say("bob", "/leave")
    await hood.press("bob", "Oui, quitter")
    bob = await people.by_identity(hood.core.db, "fake", "bob")
    assert await circle_store.circle_of(hood.core.db, bob.id) is None
    room = hood.platform.room_of("alice")
    assert hood.platform.to(room)[-1].text == "Bob a quitté le cercle."
    assert hood.platform.rooms[room] == {"alice"}  # out of the room too, free to be invited again
    assert (room, "bob") not in hood.platform.banned
    out = await hood.say("bob", "/leave")
    assert out[0].text == "Vous n'êtes dans aucun cercle."


async def test_after_leaving_start_joins_a_circle_again(hood: Neighbours) -> None:
    """Tried as a resident: after /quitter the bot said "/start pour en rejoindre un", and /start
    answered "Vous êtes déjà inscrit·e"; /profil → Quartier did nothing either: no way back."""
    await hood.join("alice")
    await hood.join("bob")
    first = await circle_id(hood, "bob")
    await hood.say("bob", "/quitter")
    out = await hood.press("bob", "Oui, quitter")
    assert "/start" in out[-1].text
    hood.clock.advance(minutes=2)
    out = await hood.say("bob", "/start")
    assert "déjà inscrit" not in out[0].text and "Bienvenue" in out[0].text
    assert await circle_id(hood, "bob") == first
    assert "bob" in hood.platform.rooms[hood.platform.room_of("alice")]
    out = await hood.say("bob", "/start")  # in a circle again: nothing more to join
    assert "déjà inscrit" in out[0].text


async def test_quiet_circles_are_merged_by_the_daily_pass(hood: Neighbours) -> None:
    hood.core.config = replace(hood.core.config, circles=replace(hood.core.config.circles, target_max=2, hard_max=2))
    for name in ("a1", "a2", "b1", "b2"):
        await hood.join(name)
    first, second = await circle_id(hood, "a1"), await circle_id(hood, "b1")
    assert first != second
    hood.core.config = replace(hood.core.config, circles=replace(hood.core.config.circles, hard_max=12))
    hood.clock.advance(timedelta(days=40))  # nobody active for 40 days: both circles fall below 3 active
    await hood.send("a1", TextIn("toujours là"), chat=hood.platform.room_of("a1"))
    assert "merge-small-circles" in await hood.core.scheduler.tick()
    await hood.core.settle()
    assert await circle_id(hood, "a1") == await circle_id(hood, "b1")
    merged = await circle_store.get(hood.core.db, second if await circle_id(hood, "a1") == first else first)
    assert merged.status == "merged"
    assert await hood.core.scheduler.tick() == []  # once a day, not once a tick


async def test_a_chat_reads_its_messages_in_order_even_after_a_rate_limit(hood: Neighbours) -> None:
    """A refused send (429) holds back the later messages to the same chat, not the other chats."""
    from bot.core.chat import RetryLater
    from bot.core.i18n import Localized

    db, now = hood.core.db, hood.clock.now()
    async with db.transaction():
        for n in range(3):
            for chat in ("dm:a", "dm:b"):
                await hood.core.queue_message(db, "fake", chat, Localized(f"annonce {n}"), (), now)
    hood.platform.fail_next.append(RetryLater(30, "429"))  # the first send (annonce 0 to dm:a) is refused
    await hood.core.deliver_due("fake")
    assert [m.text for m in hood.platform.to("dm:b")] == ["annonce 0", "annonce 1", "annonce 2"]
    assert hood.platform.to("dm:a") == []
    hood.clock.advance(seconds=31)
    await hood.core.deliver_due("fake")
    assert [m.text for m in hood.platform.to("dm:a")] == ["annonce 0", "annonce 1", "annonce 2"]


async def test_a_blocked_chat_is_marked_unreachable_until_the_person_writes_again(hood: Neighbours) -> None:
    from bot.core.chat import Undeliverable
    from bot.core.i18n import Localized

    await hood.join("alice")
    db = hood.core.db
    hood.platform.fail_next.append(Undeliverable("refused: message is too long", chat_gone=False))
    async with db.transaction():
        await hood.core.queue_message(db, "fake", "dm:alice", Localized("x" * 10), (), hood.clock.now())
    await hood.core.settle()
    assert await db.scalar("SELECT unreachable_at FROM identities WHERE user_id = 'alice'") is None
    hood.platform.blocked.add("alice")
    async with db.transaction():
        await hood.core.queue_message(db, "fake", "dm:alice", Localized("bonjour"), (), hood.clock.now())
    await hood.core.settle()
    assert await db.scalar("SELECT unreachable_at FROM identities WHERE user_id = 'alice'") is not None
    hood.platform.blocked.clear()
    out = await hood.say("alice", "/aide")  # she unblocked the bot and writes: reachable again
    assert out and await db.scalar("SELECT unreachable_at FROM identities WHERE user_id = 'alice'") is None


async def test_a_batch_sees_membership_change_between_its_messages(hood: Neighbours) -> None:
    """Group messages of a batch are looked up together, but a leave in the middle of the batch counts."""
    from bot.core.chat import ChoiceIn
    from bot.storage import inbox

    other = MemoryPlatform(platform="other")
    hood.core.attach(other)
    await hood.join("alice")
    await hood.join("bob")
    cid = await circle_id(hood, "alice")
    async with hood.core.db.transaction():
        await circle_store.set_room(hood.core.db, cid, "other", "grp:1")
    room = hood.platform.room_of("bob")
    batch = [
        hood.platform.event("bob", TextIn("avant"), chat=room),
        hood.platform.event("bob", ChoiceIn("leave:yes")),
        hood.platform.event("bob", TextIn("après"), chat=room),
        hood.platform.event("alice", TextIn("toujours là"), chat=room),
    ]
    await inbox.accept(hood.core.db, "fake", batch, None, hood.clock.now())
    await hood.core.settle()
    assert [m.text for m in other.to("grp:1")] == [
        "<b>Bob</b> : avant",
        "Bob a quitté le cercle.",
        "<b>Alice</b> : toujours là",
    ]
