"""Residents and moderators on Telegram, end to end: the real PTB adapter and core, the emulator."""

from __future__ import annotations

import pytest

from bot.storage import circles as circle_store
from bot.storage import people
from tests.telegram.conftest import World
from tests.waiting import eventually, until

# PTB itself warns about the future type of RetryAfter.retry_after when it builds the error.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_onboarding_by_buttons_until_the_single_use_invite_link(world: World) -> None:
    moderator = world.admin()
    await world.say(moderator, "/start")  # the moderator is known to the bot
    group = world.emu.add_group("Voisins de Belleville", owner=moderator)
    pooled = await world.say(moderator, "/adopt belleville", group)
    assert "Belleville" in pooled.text and "prochain cercle" in pooled.text

    alice = world.emu.add_user("Alice", language_code="fr")
    first = await world.say(alice, "/start")
    assert [b["text"] for b in first.buttons()] == ["Oui, d'accord", "Non merci", "English"]
    await world.press(alice, "onboarding.consent:yes")
    world.emu.share_location(alice, 48.8716, 2.3850)  # instead of typing the neighbourhood
    interests = (await world.emu.wait_for_sent(alice, 3, timeout=10))[-1]
    assert "Belleville" in interests.text and interests.buttons()
    await world.press(alice, "onboarding.interests:done")
    await world.press(alice, "onboarding.checkins:host")

    link = await world.link_for(alice)
    created = world.emu.calls("createChatInviteLink")[-1].params
    assert int(created["member_limit"]) == 1 and int(created["expire_date"]) > 0
    given = [m.text for m in world.emu.sent(group)]
    assert any("Belleville · 1" in text for text in given), given

    world.emu.join(group, alice, invite_link=link)
    await world.quiet()
    assert world.emu.calls("banChatMember") == []
    used = await world.core.db.scalar("SELECT used_at FROM telegram_invites WHERE link = ?", (link,))
    assert used is not None
    person = await people.by_identity(world.core.db, "telegram", str(alice.id))
    room = await circle_store.room_by_chat(world.core.db, "telegram", str(group.id))
    assert person is not None and room is not None
    assert (await circle_store.circle_of(world.core.db, person.id)).id == room.circle_id
    assert all(r.status == 200 for r in world.emu.calls("answerCallbackQuery"))


async def test_deep_link_with_a_neighbourhood_skips_the_place_question(world: World) -> None:
    from adapters.telegram import deep_link

    link = deep_link(world.adapter.username, "nb:belleville")
    code = link.split("start=")[1]
    alice = world.emu.add_user("Alice")
    await world.say(alice, f"/start {code}")
    after_consent = await world.press(alice, "onboarding.consent:yes")
    assert "Belleville" in after_consent.text
    assert any(b["callback_data"] == "onboarding.interests:done" for b in after_consent.buttons())


async def test_adopt_says_exactly_which_rights_are_missing(world: World) -> None:
    moderator = world.admin()
    await world.say(moderator, "/start")
    partial = world.emu.add_group("Rue des Lilas", owner=moderator, bot_rights={"can_delete_messages": True})
    answer = await world.say(moderator, "/adopter belleville", partial)
    assert "inviter des utilisateurs par lien" in answer.text and "bannir des utilisateurs" in answer.text
    assert "supprimer des messages" not in answer.text and "être administrateur" not in answer.text

    member_only = world.emu.add_group("Rue des Pyrénées", owner=moderator, bot_rights=None)
    answer = await world.say(moderator, "/adopt belleville", member_only)
    for right in ("être administrateur", "inviter", "supprimer des messages", "bannir"):
        assert right in answer.text
    assert await world.core.db.scalar("SELECT COUNT(*) FROM telegram_groups") == 0

    resident = world.emu.add_user("Bob")
    await world.say(resident, "/start")
    group = world.emu.add_group("Belleville", members=[resident])
    refused = await world.say(resident, "/adopt belleville", group)
    assert "modérateur" in refused.text


async def test_adopt_asks_telegram_outside_the_write_transaction(world: World) -> None:
    """Reproduces: /adopt asked Telegram for the bot's rights (up to 10 s each call) inside the handler's
    write transaction, so polling, delivery and the scheduler waited for the network. The check is now
    deferred work done after the commit; a check that fails says so and changes nothing."""
    asked: list[bool] = []
    real = world.adapter.bot_member

    async def watched(chat_id: str):
        asked.append(world.core.db._in_own_transaction())
        if len(asked) == 1:
            raise TimeoutError("Telegram is slow today")
        return await real(chat_id)

    world.adapter.bot_member = watched  # type: ignore[method-assign]
    moderator = world.admin()
    await world.say(moderator, "/start")
    group = world.emu.add_group("Rue des Lilas", owner=moderator)
    failed = await world.say(moderator, "/adopt belleville", group)
    assert "vérifier" in failed.text and await world.core.db.scalar("SELECT COUNT(*) FROM telegram_groups") == 0
    await world.say(moderator, "/adopt belleville", group)
    assert asked == [False, False]
    assert await world.core.db.scalar("SELECT COUNT(*) FROM telegram_groups") == 1


async def test_a_group_adopted_later_is_given_to_the_waiting_circle(world: World) -> None:
    alice = world.emu.add_user("Alice")
    await world.onboard(alice)
    async def waiting() -> bool:  # tried once the chat's pace allows (the welcome went just before): no group yet
        error = await world.core.db.scalar("SELECT error FROM outbox WHERE kind = 'invite' AND status = 'pending'")
        return bool(error and "waiting" in error)

    await eventually(waiting, what="the invitation waiting for a group")

    moderator = world.admin()
    await world.say(moderator, "/start")
    group = world.emu.add_group("Voisins", owner=moderator)
    given = await world.say(moderator, "/adopt belleville", group)
    assert "Belleville · 1" in given.text
    link = await world.link_for(alice, timeout=5)
    world.emu.join(group, alice, invite_link=link)


async def test_a_stranger_is_removed_and_the_moderators_told(world: World) -> None:
    moderator = world.admin()
    await world.say(moderator, "/start")
    group = world.emu.add_group("Voisins", owner=moderator)
    await world.say(moderator, "/adopt belleville", group)
    alice = world.emu.add_user("Alice")
    await world.onboard(alice)
    world.emu.join(group, alice, invite_link=await world.link_for(alice))

    before = len(world.emu.sent(moderator))
    mallory = world.emu.add_user("Mallory")
    world.emu.join(group, mallory)
    told = (await world.emu.wait_for_sent(moderator, before + 1, timeout=10))[-1]
    assert "Mallory" in told.text and "sans invitation" in told.text
    await until(lambda: world.emu.calls("unbanChatMember"), what="the stranger unbanned")
    assert [int(c.params["user_id"]) for c in world.emu.calls("banChatMember")] == [mallory.id]
    assert world.emu.chat(group).status_of(mallory.id) == "left", "unbanned: may come back if invited"
    assert world.emu.chat(group).status_of(alice.id) == "member"
    await world.quiet()
    assert len(world.emu.calls("banChatMember")) == 1


async def test_command_menus_per_language_and_scope(world: World) -> None:
    private_fr = [c["command"] for c in world.emu.commands({"type": "all_private_chats"}, "fr")]
    private_en = [c["command"] for c in world.emu.commands({"type": "all_private_chats"}, "en")]
    assert "aide" in private_fr and "help" in private_en and "profil" in private_fr
    admins_fr = [c["command"] for c in world.emu.commands({"type": "all_chat_administrators"}, "fr")]
    assert "adopter" in admins_fr and "profil" not in admins_fr
    groups_en = [c["command"] for c in world.emu.commands({"type": "all_group_chats"}, "en")]
    assert "help" in groups_en and "adopt" not in groups_en
    assert world.emu.commands({"type": "all_private_chats"}) == world.emu.commands({"type": "all_private_chats"}, "fr")
