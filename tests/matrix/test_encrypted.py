"""Encrypted rooms work: the bot is an end-to-end device (matrix-nio[e2e]) and residents' apps
encrypt (Element X makes every private chat encrypted; before, a resident on a phone could not talk
to the bot at all). Real Synapse, real nio clients with their own crypto stores."""

from __future__ import annotations

import time

import pytest
from nio import Api, RoomSendResponse

from bot.storage import circles as circle_store
from bot.storage import people

from .conftest import unique_localpart
from .harness import Bot, Resident, choice_number, eventually, onboard


@pytest.fixture
async def e2e_bot(synapse, bot_config, bot_content, tmp_path):
    account = await synapse.register_async(unique_localpart("bot"))
    running = Bot(synapse, account, bot_config, bot_content, tmp_path / "bot.sqlite3", e2e=True)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_onboarding_in_an_encrypted_chat_and_an_encrypted_circle(e2e_bot: Bot, e2e_resident) -> None:
    """Reproduces: in an encrypted private chat the bot answered that it cannot read encrypted rooms and
    asked for an unencrypted one, which Element X cannot make. Now the whole onboarding happens there,
    encrypted both ways, and the circle's room is encrypted too and readable by its members."""
    bot = e2e_bot
    alice: Resident = await e2e_resident("alice")
    began = time.monotonic()
    dm = await onboard(alice, bot, encrypted=True)
    person = await people.by_identity(bot.core.db, "matrix", alice.user_id)
    assert person is not None and person.onboarded and person.language == "fr"
    notices = alice.messages(dm, bot.user_id)
    assert len(notices) >= 5 and all(m["content"]["msgtype"] == "m.notice" for m in notices)
    # What went over the wire was ciphertext: nio decrypted every bot message Alice's app fetches.
    history = await alice.client.room_messages(dm, limit=50)
    from_bot = [e for e in history.chunk if e.sender == bot.user_id and e.source["type"] == "m.room.message"]
    assert len(from_bot) == len(notices) and all(getattr(e, "decrypted", False) for e in from_bot)

    circle_room = await alice.wait_invite()
    print(f"\nencrypted onboarding (raised limits): invited {time.monotonic() - began:.1f} s after hello")
    await alice.join(circle_room)
    await alice.sync()
    state = {e["type"]: e for e in alice.seen[circle_room]}
    assert state["m.room.encryption"]["content"]["algorithm"] == "m.megolm.v1.aes-sha2"

    # A second neighbour, also encrypted: the circle reads the bot's introduction of her, decrypted.
    bea: Resident = await e2e_resident("bea")
    await onboard(bea, bot, encrypted=True)
    intro = await alice.wait_messages(circle_room, bot.user_id, 1, timeout=30)
    assert "rejoint le cercle" in intro[-1]["content"]["body"]
    # And the bot reads the circle: what Alice writes there is handled as circle talk (a message the
    # bot cannot decrypt never reaches the inbox; a handled event's text is blanked there, by design).
    said = await alice.say(circle_room, "Bienvenue Bea !")
    status = await eventually(lambda: bot.scalar("SELECT status FROM inbox WHERE external_id = ?", (said,)),
                              timeout=30, what="Alice's encrypted message in the inbox")
    assert status in ("new", "done")
    circle = await circle_store.circle_of(bot.core.db, person.id)
    assert (await circle_store.room_on(bot.core.db, circle.id, "matrix")).chat_id == circle_room


async def test_a_restart_mid_onboarding_is_the_same_trusted_device(
        synapse, bot_config, bot_content, tmp_path, e2e_resident) -> None:
    """The crypto store lives next to the database: after a restart the bot is the same device (its
    keys unchanged, so residents' apps see no new device) and still decrypts the chat it was in."""
    account = await synapse.register_async(unique_localpart("bot"))
    bot = Bot(synapse, account, bot_config, bot_content, tmp_path / "bot.sqlite3", e2e=True)
    await bot.start()
    alice: Resident = await e2e_resident("alice")
    try:
        dm = await alice.open_chat_with(bot.user_id, encrypted=True)
        hello = (await alice.wait_messages(dm, bot.user_id, 1, timeout=30))[-1]
        device, key = bot.adapter.client.device_id, bot.adapter.client.olm.account.identity_keys["ed25519"]
        await bot.stop()
        await alice.say(dm, choice_number(hello["content"]["body"], "Oui"))  # written while it is down
        await bot.start()
        assert bot.adapter.client.device_id == device
        assert bot.adapter.client.olm.account.identity_keys["ed25519"] == key
        got = await alice.wait_messages(dm, bot.user_id, 2, timeout=30)
        assert "quartier" in got[-1]["content"]["body"]
        await alice.sync()
        assert alice.client.device_store[bot.user_id][device].ed25519 == key  # the device Alice knew
    finally:
        await bot.stop()


async def test_a_message_the_bot_cannot_decrypt_gets_one_clear_answer(e2e_bot: Bot, e2e_resident) -> None:
    """A message whose room key never reached the bot: one answer per session (not silence, not one
    per message), encrypted, in the deployment's language, and the bot asks for the key."""
    bot = e2e_bot
    carol: Resident = await e2e_resident("carol")
    dm = await carol.open_chat_with(bot.user_id, encrypted=True)
    await carol.wait_messages(dm, bot.user_id, 1, timeout=30)
    fake = {"algorithm": "m.megolm.v1.aes-sha2", "sender_key": "x" * 43, "session_id": "no-such-session",
            "ciphertext": "AwgAEnB4", "device_id": carol.client.device_id}
    for n in range(2):  # sent as they are, past nio's own encryption: ciphertext no one can read
        method, path, data = Api.room_send(carol.client.access_token, dm, "m.room.encrypted", fake, f"fake-{n}")
        resp = await carol.client._send(RoomSendResponse, method, path, data, (dm,))
        assert getattr(resp, "event_id", None), resp
    got = await carol.wait_messages(dm, bot.user_id, 2, timeout=30)
    assert "pas pu lire votre dernier message" in got[-1]["content"]["body"]
    await bot.quiet()
    await carol.sync()
    assert sum("pas pu lire" in m["content"]["body"] for m in carol.messages(dm, bot.user_id)) == 1
    assert await bot.scalar("SELECT COUNT(*) FROM inbox WHERE platform = 'matrix' AND status = 'failed'") == 0


async def test_a_residents_new_device_is_read_and_answered(e2e_bot: Bot, e2e_resident, synapse, tmp_path) -> None:
    """Alice onboards on her computer, then writes from a new phone (a new device of the same account):
    the bot decrypts what the phone writes and its answer is readable on the phone."""
    from nio import AsyncClient, AsyncClientConfig, LoginResponse

    bot = e2e_bot
    alice: Resident = await e2e_resident("alice")
    dm = await onboard(alice, bot, encrypted=True)
    password = "phone-password-1"
    admin = await synapse.register_async(unique_localpart("admin"), admin=True)
    await _set_password(synapse, admin.access_token, alice.user_id, password)
    store = tmp_path / "alice-phone"
    store.mkdir()
    phone_client = AsyncClient(synapse.base_url, alice.user_id, store_path=str(store),
                               config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False,
                                                        max_limit_exceeded=0, max_timeouts=2))
    try:
        assert isinstance(await phone_client.login(password, device_name="phone"), LoginResponse)
        phone = Resident(phone_client)
        await phone.sync()
        await phone.sync()
        before = len(phone.messages(dm, bot.user_id))
        await phone.say(dm, "/profile")
        got = await phone.wait_messages(dm, bot.user_id, before + 1, timeout=40)
        body = got[-1]["content"]["body"]
        assert got[-1]["content"]["msgtype"] == "m.notice" and body and "pas pu lire" not in body  # read it
    finally:
        await phone_client.close()


async def _set_password(synapse, admin_token: str, user_id: str, password: str) -> None:
    """Synapse's admin API: what an operator does; here it gives the test a password to log in with."""
    import asyncio
    import urllib.parse

    path = f"/_synapse/admin/v2/users/{urllib.parse.quote(user_id)}"
    await asyncio.to_thread(synapse._request, "PUT", path, {"password": password, "logout_devices": False},
                            admin_token)
