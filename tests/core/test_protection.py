"""Protection of circles through the dispatcher: flood mute, newcomers' links, the local question."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.chat import TextIn
from tests.core.moderation_helpers import neighbours, person_id, setup_roles, with_admin


@pytest.fixture
async def mods(tmp_path, config, content):
    hood = await neighbours(tmp_path, with_admin(config, flood_messages=3, flood_seconds=30, mute_minutes=10),
                            content)
    hood.ids = await setup_roles(hood)
    hood.relayed = []

    async def spy(core, room):  # stands for mirroring: runs after protection
        hood.relayed.append(room.event.body.text if isinstance(room.event.body, TextIn) else None)

    hood.core.hooks.on_room_event(spy)
    yield hood
    await hood.core.db.close()


async def test_flooding_mutes_stops_relaying_and_tells_the_host(mods) -> None:
    room = mods.platform.room_of("bob")
    mods.clock.advance(hours=25)
    for i in range(6):
        await mods.send("bob", TextIn(f"message {i}"), chat=room)
    assert mods.relayed == ["message 0", "message 1", "message 2"]
    assert any("10 minutes" in t for t in mods.texts("bob"))
    assert any("Bob a écrit beaucoup" in t for t in mods.texts("alice"))  # alice hosts the circle
    assert await mods.core.db.scalar("SELECT reason FROM mutes WHERE person_id = ?", (mods.ids["bob"],)) == "flood"
    assert await mods.core.db.scalar("SELECT actor_id IS NULL FROM audit WHERE action = 'mute'") == 1
    # The platform is asked to mute too, until the same time; the room power comes back after it.
    assert mods.platform.muted[(room, "bob")] == mods.clock.now() + timedelta(minutes=10)
    mods.platform.powers[(room, "bob")] = -1  # what a Matrix mute looks like
    mods.clock.advance(minutes=11)
    await mods.send("bob", TextIn("je me calme"), chat=room)
    assert mods.relayed[-1] == "je me calme"
    assert mods.platform.powers[(room, "bob")] == 0


async def test_newcomers_links_wait_24_hours(mods) -> None:
    room = mods.platform.room_of("bob")
    await mods.send("bob", TextIn("regardez www.example.com"), chat=room)
    assert mods.relayed == [] and "24 premières heures" in mods.texts("bob")[-1]
    mods.clock.advance(hours=24)
    await mods.send("bob", TextIn("regardez www.example.com"), chat=room)
    assert mods.relayed == ["regardez www.example.com"]


async def test_weekly_activity_is_counted_once(mods) -> None:
    room = mods.platform.room_of("bob")
    mods.clock.advance(hours=25)
    await mods.send("bob", TextIn("un"), chat=room)
    await mods.send("bob", TextIn("deux"), chat=room)
    assert await mods.core.db.scalar("SELECT COUNT(*) FROM weekly_active") == 1


async def test_local_question_before_placement(tmp_path, config, content) -> None:
    hood = await neighbours(tmp_path, with_admin(config, local_questions="moderation/questions.example.toml"),
                            content, "q.sqlite3")
    try:
        await hood.join("mona", "charonne")  # no question for Charonne
        assert hood.platform.room_of("mona")
        await hood.join("ana", "belleville")
        assert hood.platform.room_of("ana") is None
        assert "rue Piat" in hood.texts("ana")[-1]
        await hood.say("ana", "Parc de Bellevile")  # close enough
        assert hood.platform.room_of("ana")

        await hood.say("admin", "/start")
        await hood.join("ben", "belleville")
        await hood.say("ben", "aucune idée")
        assert "encore un essai" in hood.texts("ben")[-1] and "rue Piat" in hood.texts("ben")[-1]  # one message
        await hood.say("ben", "toujours pas")
        assert "modérateur du quartier va bientôt" in hood.texts("ben")[-1]
        assert hood.platform.room_of("ben") is None
        assert "toujours pas" in hood.texts("admin")[-1]  # no moderator for Belleville: the admin
        await hood.press("admin", "Accepter")
        assert hood.platform.room_of("ben")
        assert await hood.core.db.scalar("SELECT action FROM audit ORDER BY id DESC LIMIT 1") == "localq-ok"
        assert await person_id(hood, "ben")
    finally:
        await hood.core.db.close()


async def test_moving_neighbourhood_in_profile_asks_the_local_question(tmp_path, config, content) -> None:
    """Reproduces: changing neighbourhood in /profile placed the person in a circle of the new one
    without its local-knowledge question."""
    hood = await neighbours(tmp_path, with_admin(config, local_questions="moderation/questions.example.toml"),
                            content, "q2.sqlite3")
    try:
        await hood.join("mona", "charonne")  # no question for Charonne
        charonne_room = hood.platform.room_of("mona")
        assert charonne_room
        await hood.say("mona", "/profil")
        await hood.press("mona", "profile.menu:place")
        await hood.say("mona", "belleville")
        assert "rue Piat" in hood.texts("mona")[-1]
        mona = await person_id(hood, "mona")
        assert await hood.core.db.scalar("SELECT COUNT(*) FROM circle_members WHERE person_id = ?", (mona,)) == 0
        await hood.say("mona", "Parc de Belleville")
        circle = await hood.core.db.scalar("SELECT circle_id FROM circle_members WHERE person_id = ?", (mona,))
        assert await hood.core.db.scalar("SELECT place_id FROM circles WHERE id = ?", (circle,)) == "nb:belleville"
    finally:
        await hood.core.db.close()
