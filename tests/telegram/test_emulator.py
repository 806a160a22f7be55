"""The Bot API emulator, driven by the real python-telegram-bot.

These tests pin the emulator to what PTB 22.8 expects from Telegram: every update it queues
must parse with ``Update.de_json`` without unknown fields, and every error must surface as the
exception PTB raises against the real API.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import telegram
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    TelegramObject,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from tests.telegram.emulator import BotApiEmulator, EmuUser, JoinRefused, Limits, parse_html
from tests.waiting import until

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

TOKEN = "123:ABC"


def make_bot(emu: BotApiEmulator, token: str = TOKEN) -> telegram.Bot:
    return telegram.Bot(token, base_url=emu.base_url, base_file_url=emu.base_file_url)


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    """Relaxed per-chat limits: most tests are about something else than flood control."""
    async with BotApiEmulator(token=TOKEN, limits=Limits(private=100, group=100)) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[telegram.Bot]:
    async with make_bot(emu) as client:
        yield client


def started_user(emu: BotApiEmulator, name: str = "Alice") -> EmuUser:
    """A user who has opened the bot before the test, so it may write to them."""
    return emu.add_user(name, username=name.lower() + "_x", started=True)


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


def unknown_fields(obj: Any, path: str = "update") -> list[str]:
    """Fields PTB did not recognise (kept in api_kwargs): a sign of a wrong JSON shape."""
    found = []
    if isinstance(obj, TelegramObject):
        found += [f"{path}.{key}" for key in obj.api_kwargs]
        for name, value in obj._get_attrs().items():
            found += unknown_fields(value, f"{path}.{name}")
    elif isinstance(obj, tuple | list):
        for index, item in enumerate(obj):
            found += unknown_fields(item, f"{path}[{index}]")
    return found


def parse_all(emu: BotApiEmulator, bot: telegram.Bot) -> list[Update]:
    updates = [Update.de_json(data, bot) for data in emu.pending_updates()]
    for update in updates:
        assert unknown_fields(update) == []
    return updates


# ------------------------------------------------------------------------------ basics


async def test_get_me_returns_the_bot_user(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123 and me.is_bot and me.username == emu.bot_user.username
    assert me.can_read_all_group_messages is False  # privacy mode, Telegram's default
    assert unknown_fields(me) == []


async def test_wrong_token_is_rejected_like_telegram(emu: BotApiEmulator) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(emu, "123:WRONG"):
            pass
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{emu.base_url}123:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(f"{emu.base_url}{TOKEN}/noSuchMethod") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found"


async def test_json_and_query_string_requests_are_accepted(emu: BotApiEmulator) -> None:
    alice = started_user(emu)
    async with aiohttp.ClientSession() as http:
        url = f"{emu.base_url}{TOKEN}"
        async with http.post(f"{url}/sendMessage", json={"chat_id": alice.id, "text": "json"}) as response:
            assert (await response.json())["result"]["text"] == "json"
        async with http.get(f"{url}/sendmessage", params={"chat_id": str(alice.id), "text": "get"}) as response:
            assert (await response.json())["ok"] is True
    assert [m.text for m in emu.sent(alice)] == ["json", "get"]


# ------------------------------------------------------------------------------ getUpdates


async def test_offset_confirms_earlier_updates(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = emu.add_user("Alice")
    for text in ("un", "deux", "trois"):
        emu.send_text(alice, text)
    first = await bot.get_updates()
    assert [u.message.text for u in first] == ["un", "deux", "trois"]
    assert len(await bot.get_updates()) == 3, "nothing is confirmed without an offset"
    again = await bot.get_updates(offset=first[1].update_id)
    assert [u.message.text for u in again] == ["deux", "trois"]
    assert len(emu.pending_updates()) == 2
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["trois"]
    assert await bot.get_updates(offset=first[2].update_id + 1) == ()
    assert emu.pending_updates() == []


async def test_limit_is_respected(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = emu.add_user("Alice")
    for index in range(5):
        emu.send_text(alice, str(index))
    assert len(await bot.get_updates(limit=2)) == 2


async def test_long_poll_returns_as_soon_as_an_update_arrives(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = emu.add_user("Alice")
    polls = len(emu.calls("getUpdates"))
    poll = asyncio.create_task(bot.get_updates(timeout=10, read_timeout=15))
    await until(lambda: len(emu.calls("getUpdates")) > polls, what="the long poll to reach the emulator")
    assert not poll.done()
    started = time.monotonic()
    emu.send_text(alice, "coucou")
    updates = await asyncio.wait_for(poll, 5)
    assert updates[0].message.text == "coucou"
    # Well before the poll's 10 s: it returned for the update (5 s allows a loaded machine).
    assert time.monotonic() - started < 5


async def test_long_poll_times_out_empty(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 5  # the timeout, not at once; the upper bound allows a loaded machine


async def test_a_second_poller_ends_the_first_with_conflict(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    polls = len(emu.calls("getUpdates"))
    first = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))  # ends at the second poll
    # The first poll must be waiting in the emulator before the second arrives (a fixed 0.2 s sleep let
    # the second come first on a loaded machine: then the first simply timed out, no conflict).
    await until(lambda: len(emu.calls("getUpdates")) > polls, what="the first long poll to reach the emulator")
    async with make_bot(emu) as second_instance:  # one Bot polls through a single connection
        await second_instance.get_updates()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


async def test_get_updates_conflicts_while_a_webhook_is_set(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    assert await bot.set_webhook("https://voisinage.example/hook")
    assert (await bot.get_webhook_info()).url == "https://voisinage.example/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()


async def test_default_allowed_updates_drop_chat_member_and_reactions(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = emu.add_user("Alice")
    group = emu.add_group("Rue des Lilas")
    emu.join(group, alice)
    assert [u.message.new_chat_members[0].id for u in await bot.get_updates()] == [alice.id]
    assert [kind for u in emu.dropped_updates for kind in u if kind != "update_id"] == ["chat_member"]

    await bot.get_updates(offset=-1, allowed_updates=Update.ALL_TYPES)
    emu.leave(group, alice)
    kinds = {key for update in emu.pending_updates() for key in update if key != "update_id"}
    assert kinds == {"chat_member", "message"}


# ------------------------------------------------------------------------------ update shapes


async def test_every_injected_update_type_parses_with_ptb(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    await bot.get_updates(allowed_updates=Update.ALL_TYPES)
    alice, bob = started_user(emu, "Alice"), emu.add_user("Bob")
    group = emu.add_group("Rue des Lilas", members=[bob])
    start = emu.send_text(alice, "/start circle_42")
    emu.edit_text(alice, start, "/start circle_43")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Oui", callback_data="rsvp:yes")]])
    offer = await bot.send_message(alice.id, "Venez-vous ?", reply_markup=keyboard)
    emu.press(alice, offer.to_dict(), "rsvp:yes")
    emu.share_location(alice, 48.8566, 2.3522)
    link = await bot.create_chat_invite_link(group.id, member_limit=1, name="Alice")
    emu.join(group, alice, invite_link=link.invite_link)
    emu.react(bob, emu.send_text(bob, "/hello", group), "👍")
    emu.block(alice)
    new_group = emu.migrate(group)

    updates = parse_all(emu, bot)
    by_kind = {}
    for update in updates:
        by_kind.setdefault(next(k for k in update.to_dict() if k != "update_id"), []).append(update)
    message = by_kind["message"][0].message
    assert message.text == "/start circle_42"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == len("/start")
    assert by_kind["edited_message"][0].edited_message.text == "/start circle_43"
    assert by_kind["edited_message"][0].message is None
    query = by_kind["callback_query"][0].callback_query
    assert query.data == "rsvp:yes" and query.message.message_id == offer.message_id
    assert any(u.message.location and u.message.location.latitude == 48.8566 for u in by_kind["message"])
    joined = by_kind["chat_member"][0].chat_member
    assert joined.new_chat_member.status == "member" and joined.old_chat_member.status == "left"
    assert joined.invite_link.invite_link == link.invite_link
    assert by_kind["message_reaction"][0].message_reaction.new_reaction[0].emoji == "👍"
    assert by_kind["my_chat_member"][0].my_chat_member.new_chat_member.status == "kicked"
    migrations = [u.message for u in by_kind["message"] if u.message.migrate_to_chat_id]
    assert migrations[0].migrate_to_chat_id == new_group.id
    assert str(new_group.id).startswith("-100")
    assert any(u.message.migrate_from_chat_id == group.id for u in by_kind["message"])


async def test_privacy_mode_hides_group_chatter_from_a_non_admin_bot(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = emu.add_user("Alice")
    group = emu.add_group("Rue des Lilas", members=[alice], bot_rights=None)
    emu.send_text(alice, "bonjour tout le monde", group)
    emu.send_text(alice, "/aide", group)
    assert [u.message.text for u in await bot.get_updates()] == ["/aide"]


# ------------------------------------------------------------------------------ sending


async def test_send_message_with_inline_keyboard_and_callback(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = started_user(emu)
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Oui", callback_data="yes"), InlineKeyboardButton("Non", callback_data="no")]]
    )
    sent = await bot.send_message(
        alice.id,
        "<b>Café</b> demain ?",
        parse_mode="HTML",
        reply_markup=keyboard,
        disable_notification=True,
        link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
    )
    assert sent.text == "Café demain ?" and sent.entities[0].type == "bold"
    assert sent.reply_markup == keyboard
    record = emu.sent(alice)[0]
    assert record.parse_mode == "HTML" and [b["callback_data"] for b in record.buttons()] == ["yes", "no"]

    query_id = emu.press(alice, record, "no")
    assert await bot.answer_callback_query(query_id, text="Noté")
    assert emu.callback_answers[query_id]["text"] == "Noté"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)


async def test_too_long_text_is_refused_after_entity_parsing(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = started_user(emu)
    await bot.send_message(alice.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(alice.id, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(alice.id, "   ")


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<b>gras", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ],
)
async def test_bad_html_is_refused(emu: BotApiEmulator, bot: telegram.Bot, markup: str, error: str) -> None:
    alice = started_user(emu)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as caught:
        await bot.send_message(alice.id, markup, parse_mode="HTML")
    assert error.lower() in caught.value.message.lower()


async def test_html_parser_entities_use_utf16_offsets() -> None:
    text, entities = parse_html(
        '👋 <a href="https://t.me">lien</a> &lt;3 <pre><code class="language-py">x</code></pre>'
    )
    assert text == "👋 lien <3 x"
    assert entities == [
        {"type": "text_link", "offset": 3, "length": 4, "url": "https://t.me"},
        {"type": "pre", "offset": 11, "length": 1, "language": "py"},
    ]


async def test_callback_data_over_64_bytes_is_refused(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = started_user(emu)
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="é" * 32)]])
    await bot.send_message(alice.id, "64 bytes", reply_markup=fits)
    too_big = InlineKeyboardMarkup([[InlineKeyboardButton("ko", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(alice.id, "66 bytes", reply_markup=too_big)


async def test_blocked_and_never_started_users_are_forbidden(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice, newcomer = started_user(emu), emu.add_user("Nouveau")
    emu.block(alice)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(alice.id, "Bonjour")
    with pytest.raises(Forbidden, match=r"(?i)bot can't initiate conversation with a user"):
        await bot.send_message(newcomer.id, "Bonjour")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "Bonjour")
    emu.send_text(newcomer, "/start")
    await bot.send_message(newcomer.id, "Bienvenue")


async def test_edit_delete_and_not_modified(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = started_user(emu)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Oui", callback_data="yes")]])
    sent = await bot.send_message(alice.id, "Question", reply_markup=keyboard)
    edited = await bot.edit_message_text("Question (close)", alice.id, sent.message_id)
    assert edited.text == "Question (close)" and edited.reply_markup is None, "no reply_markup removes it"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Question (close)", alice.id, sent.message_id)
    await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=keyboard)
    record = emu.sent(alice)[0]
    assert record.text == "Question (close)" and record.buttons() and len(record.history) == 2
    assert await bot.delete_message(alice.id, sent.message_id)
    assert record.deleted
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(alice.id, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", alice.id, sent.message_id)


async def test_send_document_upload_is_received(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = started_user(emu)
    content = b"%PDF-1.4 agenda du quartier"
    message = await bot.send_document(
        alice.id, content, filename="agenda.pdf", caption="<i>Agenda</i>", parse_mode="HTML"
    )
    record = emu.sent(alice)[0]
    assert record.document is not None and record.document.content == content
    assert record.document.filename == "agenda.pdf" and record.caption == "Agenda"
    assert message.document.file_name == "agenda.pdf" and message.caption_entities[0].type == "italic"
    assert emu.calls("sendDocument")[0].params["document"] == "<file agenda.pdf>"
    downloaded = await (await bot.get_file(message.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content


# ------------------------------------------------------------------------------ limits and faults


async def test_injected_429_raises_retry_after(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = started_user(emu)
    emu.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(alice.id, "Bonjour")
    assert seconds(caught.value.retry_after) == 7
    assert emu.too_many_requests == 1 and emu.rate_limited[0].injected
    await bot.send_message(alice.id, "Bonjour")


async def test_private_chat_allows_one_message_per_second() -> None:
    async with BotApiEmulator(token=TOKEN) as emu, make_bot(emu) as bot:
        alice = started_user(emu)
        await bot.send_message(alice.id, "un")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(alice.id, "deux")
        assert seconds(caught.value.retry_after) == 1
        assert emu.calls("sendMessage")[-1].status == 429


async def test_burst_to_40_private_chats_is_cut_after_30() -> None:
    async with BotApiEmulator(token=TOKEN) as emu, make_bot(emu) as bot:
        users = [started_user(emu, f"Voisin{i}") for i in range(40)]
        outcomes = await asyncio.gather(
            *(bot.send_message(user.id, "Fête des voisins samedi") for user in users), return_exceptions=True
        )
        assert sum(isinstance(o, telegram.Message) for o in outcomes) == 30
        refused = [o for o in outcomes if isinstance(o, RetryAfter)]
        assert len(refused) == 10 and all(seconds(o.retry_after) == 1 for o in refused)
        assert emu.too_many_requests == 10 and len(emu.all_sent()) == 30


async def test_group_limit_counts_sends_and_edits_in_its_window() -> None:
    limits = Limits(group=3, group_window=1.0)
    async with BotApiEmulator(token=TOKEN, limits=limits) as emu, make_bot(emu) as bot:
        group = emu.add_group("Rue des Lilas")
        first = await bot.send_message(group.id, "un")
        await bot.send_message(group.id, "deux")
        await bot.edit_message_text("un !", group.id, first.message_id)
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(group.id, "quatre")
        assert seconds(caught.value.retry_after) == 1
        await asyncio.sleep(1.05)
        await bot.send_message(group.id, "quatre")


async def test_fail_next_502_raises_network_error(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = started_user(emu)
    emu.fail_next("sendMessage", status=502, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(alice.id, "Bonjour")
    await bot.send_message(alice.id, "Bonjour")
    assert [r.status for r in emu.calls("sendMessage")] == [502, 502, 200]


async def test_delay_next_times_out_but_the_message_still_lands(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = started_user(emu)
    emu.delay_next("sendMessage", 0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(alice.id, "Bonjour", read_timeout=0.1)
    sent = await emu.wait_for_sent(alice, timeout=10)
    assert sent[0].text == "Bonjour", "Telegram got it: a blind retry would send it twice"


# ------------------------------------------------------------------------------ groups and links


async def test_single_use_invite_link_admits_one_member_at_a_time(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice, bob = emu.add_user("Alice"), emu.add_user("Bob")
    group = emu.add_group("Rue des Lilas", supergroup=True)
    link = await bot.create_chat_invite_link(group.id, member_limit=1, name="pour Alice")
    assert link.invite_link.startswith("https://t.me/+") and link.member_limit == 1
    assert link.creator.id == emu.bot_user.id and not link.is_revoked
    emu.join(group, alice, invite_link=link.invite_link)
    with pytest.raises(JoinRefused):
        emu.join(group, bob, invite_link=link.invite_link)
    revoked = await bot.revoke_chat_invite_link(group.id, link.invite_link)
    assert revoked.is_revoked
    emu.leave(group, alice)
    with pytest.raises(JoinRefused):
        emu.join(group, bob, invite_link=link.invite_link)
    other = await bot.create_chat_invite_link(group.id, member_limit=1)
    assert other.invite_link != link.invite_link


async def test_invite_link_rules(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    group = emu.add_group("Rue des Lilas")
    with pytest.raises(BadRequest, match=r"(?i)member limit"):
        await bot.create_chat_invite_link(group.id, member_limit=1, creates_join_request=True)
    with pytest.raises(BadRequest):
        await bot.create_chat_invite_link(group.id, member_limit=100_000)
    plain = emu.add_group("Sans droits", bot_rights={"can_delete_messages": True})
    with pytest.raises(BadRequest, match=r"(?i)not enough rights to manage chat invite link"):
        await bot.create_chat_invite_link(plain.id)


async def test_members_statuses_and_moderation(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice, bob, carol = emu.add_user("Alice"), emu.add_user("Bob"), emu.add_user("Carol")
    group = emu.add_group("Rue des Lilas", owner=alice, members=[bob], supergroup=True)
    assert (await bot.get_chat_member(group.id, alice.id)).status == "creator"
    me = await bot.get_chat_member(group.id, emu.bot_user.id)
    assert me.status == "administrator" and me.can_invite_users and not me.can_promote_members
    assert (await bot.get_chat_member(group.id, carol.id)).status == "left"
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {alice.id, emu.bot_user.id}
    await bot.restrict_chat_member(group.id, bob.id, ChatPermissions(can_send_messages=False))
    restricted = await bot.get_chat_member(group.id, bob.id)
    assert restricted.status == "restricted" and restricted.can_send_messages is False
    await bot.ban_chat_member(group.id, bob.id)
    assert (await bot.get_chat_member(group.id, bob.id)).status == "kicked"
    with pytest.raises(JoinRefused):
        emu.join(group, bob)
    await bot.unban_chat_member(group.id, bob.id, only_if_banned=True)
    assert (await bot.get_chat_member(group.id, bob.id)).status == "left"
    with pytest.raises(BadRequest, match=r"(?i)owner"):
        await bot.ban_chat_member(group.id, alice.id)
    full = await bot.get_chat(group.id)
    assert full.title == "Rue des Lilas" and full.type == "supergroup"
    assert unknown_fields(full) == [] and unknown_fields(restricted) == []


async def test_migrated_group_answers_with_the_new_id(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    group = emu.add_group("Rue des Lilas")
    new = emu.migrate(group)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(group.id, "Bonjour")
    assert caught.value.new_chat_id == new.id
    await bot.send_message(new.id, "Bonjour")
    assert (await bot.get_chat_member(new.id, emu.bot_user.id)).status == "administrator"


async def test_leave_chat_then_sending_is_forbidden(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    group = emu.add_group("Rue des Lilas", supergroup=True)
    assert await bot.leave_chat(group.id)
    with pytest.raises(Forbidden, match=r"(?i)not a member of the supergroup chat"):
        await bot.send_message(group.id, "Bonjour")


# ------------------------------------------------------------------------------ commands


async def test_commands_are_stored_per_scope_and_language(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = emu.add_user("Alice")
    french = [BotCommand("aide", "Obtenir de l'aide"), BotCommand("cercle", "Mon cercle")]
    english = [BotCommand("help", "Get help")]
    await bot.set_my_commands(french, language_code="fr")
    await bot.set_my_commands(english)
    await bot.set_my_commands([BotCommand("admin", "Gérer")], scope=BotCommandScopeChat(alice.id))
    assert [c.command for c in await bot.get_my_commands(language_code="fr")] == ["aide", "cercle"]
    assert [c.command for c in await bot.get_my_commands()] == ["help"]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(alice.id))] == ["admin"]
    assert emu.commands(language_code="fr")[0]["command"] == "aide"
    await bot.delete_my_commands(language_code="fr")
    assert await bot.get_my_commands(language_code="fr") == ()
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("Aide!", "x")])


async def test_request_log_records_method_params_and_status(emu: BotApiEmulator, bot: telegram.Bot) -> None:
    alice = started_user(emu)
    await bot.send_message(alice.id, "Bonjour")
    record = emu.calls("sendMessage")[0]
    assert record.status == 200 and json.loads(json.dumps(record.params))["text"] == "Bonjour"
    assert int(record.params["chat_id"]) == alice.id and record.time <= time.monotonic()
