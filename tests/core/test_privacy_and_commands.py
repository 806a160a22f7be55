"""/mydata, /forget, /profile, /help and mistyped commands, in both languages."""

from __future__ import annotations

import json

from bot.storage import people
from tests.core.conftest import Neighbours


async def dump(hood: Neighbours) -> dict[str, list[tuple]]:
    tables = await hood.core.db.tables()
    return {t: [tuple(r) for r in await hood.core.db.fetchall(f"SELECT * FROM {t}")] for t in tables}


async def test_mydata_shows_and_exports_everything(hood: Neighbours) -> None:
    await hood.join("alice")
    out = await hood.say("alice", "/mesdonnees")
    assert "Prénom : Alice" in out[0].text and "Quartier : Belleville" in out[0].text
    export = out[1].attachment
    assert export is not None and export.mime_type == "application/json"
    data = json.loads(export.data)
    assert data["person"]["first_name"] == "Alice"
    assert data["identities"][0]["user_id"] == "alice"
    assert data["circle"][0]["person_id"] == data["person"]["id"]


async def test_forget_erases_every_trace(hood: Neighbours) -> None:
    await hood.join("alice")
    await hood.join("bob")
    await hood.send(
        "alice", __import__("bot.core.chat", fromlist=["TextIn"]).TextIn("coucou"), chat=hood.platform.room_of("alice")
    )
    await hood.say("alice", "/oublier")
    out = await hood.press("alice", "Non, garder")
    assert out[0].text == "Rien n'a été effacé."
    await hood.say("alice", "/forget")
    await hood.press("alice", "Oui, tout effacer")
    assert "tout est effacé" in hood.texts("alice")[-1]
    everything = json.dumps(await dump(hood), default=str)
    assert "Alice" not in everything.replace("Alice a quitté", "")  # only what the circle was told
    assert '"alice"' not in everything and "dm:alice" not in everything.replace('"dm:alice", "', "")
    assert "coucou" not in everything
    remaining = await hood.core.db.fetchall("SELECT chat_id, payload, status FROM outbox WHERE chat_id = 'dm:alice'")
    assert all(row["payload"] == "" for row in remaining)  # sent, and blanked
    out = await hood.say("alice", "/mydata")
    assert out[0].text == "Je ne garde rien sur vous. /start pour faire connaissance."
    assert await people.by_identity(hood.core.db, "fake", "alice") is None


async def test_profile_changes_one_answer_and_comes_back(hood: Neighbours) -> None:
    await hood.join("alice")
    out = await hood.say("alice", "/profil")
    assert "Votre profil" in out[0].text
    await hood.press("alice", "Centres d'intérêt")
    await hood.press("alice", "Lecture")
    out = await hood.press("alice", "Continuer ➜")
    assert "Centres d'intérêt : Lecture" in out[0].text
    await hood.press("alice", "Langue")
    out = await hood.press("alice", "English")
    assert "Interests: Reading" in out[0].text
    out = await hood.press("alice", "Done")
    assert out[0].text == "Saved."


async def test_profile_new_neighbourhood_moves_to_a_circle_there(hood: Neighbours) -> None:
    await hood.join("alice", "belleville")
    await hood.join("bob", "belleville")
    await hood.say("alice", "/profile")
    await hood.press("alice", "Quartier")
    await hood.say("alice", "charonne")
    alice = await people.by_identity(hood.core.db, "fake", "alice")
    assert "charonne" in alice.place_id
    assert hood.platform.room_of("bob") != next(
        r for r, m in hood.platform.rooms.items() if "alice" in m and "bob" not in m
    )
    assert "Alice a quitté le cercle." in [m.text for m in hood.platform.to(hood.platform.room_of("bob"))]


async def test_mistyped_command_gets_did_you_mean(hood: Neighbours) -> None:
    await hood.join("alice")
    out = await hood.say("alice", "/profle")
    assert out[0].text == "Je ne connais pas /profle. Vouliez-vous dire /profil ?"  # in her language
    out = await hood.press("alice", "/profil")
    assert "Votre profil" in out[0].text
    out = await hood.say("alice", "/xyzzyq")
    assert "/aide montre la liste" in out[0].text


async def test_help_lists_commands_in_the_persons_language(hood: Neighbours) -> None:
    out = await hood.say("alice", "/aide")
    assert "/profil — voir et changer vos réponses" in out[0].text
    await hood.join("bob", lang="en")
    out = await hood.say("bob", "/help")
    assert "/profile — see and change your answers" in out[0].text


async def test_member_commands_wait_for_onboarding(hood: Neighbours) -> None:
    await hood.say("alice", "/start")
    out = await hood.say("alice", "/profil")
    assert "une fois votre inscription terminée" in out[0].text
    assert await people.by_identity(hood.core.db, "fake", "alice") is not None


async def test_cancel_stops_onboarding(hood: Neighbours) -> None:
    await hood.say("alice", "/start")
    out = await hood.say("alice", "/annuler")
    assert "/start quand vous voulez" in out[0].text
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM conversations") == 0
