"""Circles on Telegram before their group exists: moderators are asked, residents are told, and the
circle already talks through the bot's private chats."""

from __future__ import annotations

import asyncio

import pytest

from adapters.telegram import adoption
from bot.operations import status
from tests.telegram.conftest import World

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def _texts_with(world: World, user, words: str, timeout: float = 10) -> list[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = [m.text for m in world.emu.sent(user) if m.text and words in m.text]
        if found:
            return found
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{words!r} never reached {user.first_name}: {[m.text for m in world.emu.sent(user)]}")


async def test_an_empty_pool_asks_the_moderators_tells_residents_and_relays_meanwhile(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adoption, "ASK_FROM", 0)  # whatever the hour the test runs at
    monkeypatch.setattr(adoption, "ASK_UNTIL", 24)
    moderator = world.admin()
    await world.say(moderator, "/start")
    alice, bob = world.emu.add_user("Alice"), world.emu.add_user("Bob")
    await world.onboard(alice)
    await world.onboard(bob)

    asked = await _texts_with(world, moderator, "attend son groupe Telegram")
    assert "/adopter Belleville" in asked[0] and "inviter des utilisateurs" in asked[0]
    await _texts_with(world, alice, "groupe Telegram est en préparation")
    await _texts_with(world, bob, "groupe Telegram est en préparation")
    assert (await status.gather(world.core.db)).waiting_rooms == {"telegram": 1}

    world.emu.send_text(alice, "Bonjour Bob, on se voit au marché ?")
    await _texts_with(world, alice, "✓ Transmis à 1 voisin du cercle.")
    got = await _texts_with(world, bob, "on se voit au marché")
    assert got == ["Alice : Bonjour Bob, on se voit au marché ?"]  # the author's name in bold, as Telegram shows

    await world.adapter.housekeep()  # later rounds the same day: nobody is told twice
    await world.quiet()
    assert len([m for m in world.emu.sent(moderator) if m.text and "attend son groupe" in m.text]) == 1
    assert len([m for m in world.emu.sent(alice) if m.text and "en préparation" in m.text]) == 1

    group = world.emu.add_group("Voisins", owner=moderator)
    await world.say(moderator, "/adopt belleville", group)
    await world.link_for(alice, timeout=5)
    world.emu.send_text(alice, "Et maintenant ?")
    await world.quiet()
    assert len([m for m in world.emu.sent(alice) if m.text and "Transmis" in m.text]) == 1  # not again
    assert not [m for m in world.emu.sent(bob) if m.text and "Et maintenant" in m.text]
    assert (await status.gather(world.core.db)).waiting_rooms == {}


async def test_alone_in_a_waiting_circle_the_words_are_not_lost_in_silence(world: World) -> None:
    alice = world.emu.add_user("Alice")
    await world.onboard(alice)
    world.emu.send_text(alice, "Il y a quelqu'un ?")
    await _texts_with(world, alice, "seul·e dans ce cercle")


async def test_logs_never_hold_what_people_write(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """What `voisinage run -v` shows: the bot's own loggers in detail, the libraries' information lines."""
    caplog.set_level("INFO")
    for name in ("bot", "adapters"):
        caplog.set_level("DEBUG", logger=name)
    alice, bob = world.emu.add_user("Alice"), world.emu.add_user("Bob")
    await world.onboard(alice)
    await world.onboard(bob)
    world.emu.send_text(alice, "Mon code de porte est 4242B")
    await _texts_with(world, bob, "4242B")
    await world.quiet()
    assert caplog.records  # the run did log
    assert not [r.getMessage() for r in caplog.records if "4242B" in r.getMessage()]
