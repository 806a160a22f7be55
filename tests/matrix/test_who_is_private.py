"""On a real Synapse: no one can make another person's private chat of a room of their choosing, and the
bot logs in with a password (reusing its device)."""

from __future__ import annotations

from nio import AsyncClient, RoomCreateResponse, RoomPreset

from adapters.base import StartFailed
from adapters.matrix import MatrixAdapter
from bot.assemble import build_core
from bot.core.clock import SystemClock
from bot.storage import people
from bot.storage.database import Database

from .conftest import client_config, unique_localpart
from .harness import Bot, eventually, onboard


async def private_chat_of(bot: Bot, user_id: str) -> str | None:
    person = await people.by_identity(bot.core.db, "matrix", user_id)
    ids = await people.identities(bot.core.db, person.id) if person else []
    return ids[0].private_chat_id if ids else None


async def bot_is_in(bot: Bot, room_id: str) -> None:
    async def joined() -> bool:
        room = bot.adapter.client.rooms.get(room_id)
        return room is not None and bot.user_id in room.users

    await eventually(joined, what=f"the bot to be in {room_id}")


async def answered_in(person, dm: str, bot: Bot) -> None:
    """A positive event to wait for: the person writes in their real chat and the bot answers there."""
    before = len(person.messages(dm, bot.user_id))
    await person.say(dm, "/profil")
    await person.wait_messages(dm, bot.user_id, before + 1)
    await bot.quiet()


async def test_an_invited_victim_does_not_get_a_private_chat_made_for_them(bot: Bot, resident, matrix_user) -> None:
    """Reproduces: a room with the bot and one *invited* user counted as that user's private chat. The
    attacker invites the bot (which joins), then invites the victim and leaves; the victim, curious,
    joins and writes there — before, that moved the victim's private chat (check-ins, moderators'
    notices) into the attacker's room."""
    victim = await resident("victim")
    dm = await onboard(victim, bot)
    attacker: AsyncClient = await matrix_user("attacker")
    created = await attacker.room_create(preset=RoomPreset.private_chat, invite=[bot.user_id])
    assert isinstance(created, RoomCreateResponse), created
    trap = created.room_id
    await bot_is_in(bot, trap)
    assert await bot.scalar("SELECT invited_by FROM matrix_rooms WHERE room_id = ?", (trap,)) == attacker.user_id
    await attacker.room_invite(trap, victim.user_id)
    await attacker.room_leave(trap)
    await victim.join(trap)
    await victim.say(trap, "bonjour ?")
    await answered_in(victim, dm, bot)
    assert await private_chat_of(bot, victim.user_id) == dm
    assert await bot.scalar("SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND kind = 'message' "
                            "AND created_at > (SELECT MAX(created_at) FROM outbox WHERE chat_id = ?)", (trap, dm)) == 0


async def test_the_bot_makes_up_no_start_for_someone_only_invited(bot: Bot, resident, matrix_user) -> None:
    """Reproduces: on joining a room holding only one *invited* user, the bot made up a /start from
    them, which moved an existing person's private chat there."""
    victim = await resident("victim")
    dm = await onboard(victim, bot)
    attacker: AsyncClient = await matrix_user("attacker")
    await bot.stop()
    created = await attacker.room_create(preset=RoomPreset.private_chat, invite=[victim.user_id, bot.user_id])
    assert isinstance(created, RoomCreateResponse), created
    trap = created.room_id
    as_bot = AsyncClient(bot.server.base_url, bot.user_id, config=client_config())
    as_bot.restore_login(bot.user_id, bot.account.device_id, bot.account.access_token)
    try:  # the bot's join happens while it is away, then the attacker leaves: its next sync sees both
        assert (await as_bot.join(trap)).room_id == trap
    finally:
        await as_bot.close()
    await attacker.room_leave(trap)
    await bot.start()
    await bot_is_in(bot, trap)
    await answered_in(victim, dm, bot)
    assert await private_chat_of(bot, victim.user_id) == dm
    assert await bot.scalar("SELECT COUNT(*) FROM outbox WHERE chat_id = ?", (trap,)) == 0


async def test_a_new_private_chat_opened_by_the_person_works(bot: Bot, resident) -> None:
    """The rule keeps the real case working: the person invites the bot themselves and writes there."""
    ana = await resident("ana")
    first = await onboard(ana, bot)
    second = await ana.open_chat_with(bot.user_id)
    await bot_is_in(bot, second)
    await bot.quiet()
    assert await private_chat_of(bot, ana.user_id) == first  # the bot's own join moves nothing
    await ana.sync()
    before = len(ana.messages(second, bot.user_id))  # the answer to wait for is the next one, not any
    await ana.say(second, "/profil")
    await ana.wait_messages(second, bot.user_id, before + 1)
    assert await private_chat_of(bot, ana.user_id) == second  # her own message does


async def test_password_login_reuses_its_device(synapse, bot_config, bot_content, tmp_path) -> None:
    """Reproduces: ``login(device_id=…)`` is not an argument of matrix-nio 0.26's login(): a password
    start crashed with TypeError. A second start logs in as the same device."""
    password = "correct horse battery staple"
    account = await synapse.register_async(unique_localpart("pwbot"), password=password)
    db = await Database.open(tmp_path / "pw.sqlite3")
    devices = []
    try:
        core = build_core(bot_config, db, bot_content, SystemClock())
        for _ in range(2):
            adapter = MatrixAdapter(synapse.base_url, account.user_id, password=password)
            try:
                await adapter.connect(core)
                whoami = await adapter.client.whoami()
                devices.append(whoami.device_id)
            finally:
                await adapter.close()
        assert devices[0] and devices[0] == devices[1]
        wrong = MatrixAdapter(synapse.base_url, account.user_id, password="wrong")
        try:
            await wrong.connect(core)
            raise AssertionError("a wrong password was accepted")
        except StartFailed as refused:
            assert "login refused" in str(refused)
        finally:
            await wrong.close()
    finally:
        await db.close()
