"""The adapter's pure parts: splitting HTML, keyboards, error outcomes, update conversion, pacing."""

from __future__ import annotations

import httpx
import pytest
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from adapters.telegram import errors
from adapters.telegram.adoption import missing_rights
from adapters.telegram.convert import convert
from adapters.telegram.limits import TelegramRates, chat_limits
from adapters.telegram.render import keyboard, plain, split_html, units
from bot.core.chat import Choice, CommandIn, JoinedIn, RetryLater, TextIn, Undeliverable
from tests.telegram.emulator import parse_html

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def test_split_keeps_every_part_valid_and_under_the_limit() -> None:
    text = "<b>Agenda</b>\n\n" + "\n".join(f"<i>Atelier {i}</i> &amp; goûter 🎉 à la Maison" for i in range(400))
    parts = split_html(text, 4096)
    assert len(parts) > 1
    for part in parts:
        visible, _ = parse_html(part)  # Telegram's own parser accepts each part
        assert units(visible) <= 4096
    assert "".join(plain(p) for p in parts).replace("\n", "") == plain(text).replace("\n", "")


def test_split_cuts_inside_a_tag_by_closing_and_reopening_it() -> None:
    parts = split_html('<a href="https://x.org">' + "mot " * 2000 + "</a>", 4096)
    assert all(p.startswith('<a href="https://x.org">') and p.endswith("</a>") for p in parts)


def test_short_text_is_one_part_and_keyboard_has_one_button_a_row() -> None:
    assert split_html("Bonjour <b>Alice</b>") == ["Bonjour <b>Alice</b>"]
    markup = keyboard((Choice("Oui", "a:yes"), Choice("<b>Non</b>", "a:no")))
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [["Oui"], ["Non"]]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RetryAfter(3), RetryLater),
        (Forbidden("Forbidden: bot was blocked by the user"), Undeliverable),
        (BadRequest("Chat not found"), Undeliverable),
        (TimedOut(), RetryLater),
        (NetworkError("Bad Gateway"), RetryLater),
    ],
)
def test_errors_become_outcomes(error: Exception, expected: type) -> None:
    assert isinstance(errors.outcome(error), expected)


def test_error_texts_are_matched_whatever_their_case() -> None:
    assert errors.is_chat_gone(BadRequest("CHAT NOT FOUND"))
    assert errors.is_markup_error(BadRequest("Can't parse entities: unsupported start tag \"x\""))
    assert errors.outcome(RetryAfter(7)).seconds == 7


def _update(data: dict) -> Update:
    return Update.de_json(data, None)


def test_commands_for_other_bots_in_groups_are_ignored() -> None:
    user = {"id": 5, "is_bot": False, "first_name": "Ana", "language_code": "fr-FR"}
    group = {"id": -42, "type": "group", "title": "Voisins"}
    ours = convert(_update({"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": group, "from": user,
                                                         "text": "/Adopt@Voisinage_bot Belleville"}}), "voisinage_bot")
    assert ours.incoming.body == CommandIn("adopt", "Belleville") and not ours.incoming.address.private
    assert ours.incoming.sender.language == "fr" and ours.incoming.external_id == "1"
    other = convert(_update({"update_id": 2, "message": {"message_id": 2, "date": 0, "chat": group, "from": user,
                                                          "text": "/help@otherbot"}}), "voisinage_bot")
    assert other.incoming is None
    text = convert(_update({"update_id": 3, "message": {"message_id": 3, "date": 0, "chat": group, "from": user,
                                                         "text": "Bonjour"}}), "voisinage_bot")
    assert text.incoming.body == TextIn("Bonjour")


def test_report_sent_as_a_reply_carries_the_message_it_is_about() -> None:
    ana = {"id": 5, "is_bot": False, "first_name": "Ana"}
    rob = {"id": 6, "is_bot": False, "first_name": "Rob"}
    group = {"id": -42, "type": "supergroup", "title": "Voisins"}
    reported = {"message_id": 7, "date": 0, "chat": group, "from": rob, "text": "achetez mes pilules"}
    done = convert(_update({"update_id": 4, "message": {"message_id": 8, "date": 0, "chat": group, "from": ana,
                                                         "text": "/signaler", "reply_to_message": reported}}), "b")
    assert done.incoming.body == CommandIn("signaler", "", reply_to_user="6", reply_to_text="achetez mes pilules")


def test_chat_member_join_carries_the_invite_link() -> None:
    user = {"id": 5, "is_bot": False, "first_name": "Ana"}
    data = {"update_id": 9, "chat_member": {
        "chat": {"id": -42, "type": "supergroup", "title": "V"}, "from": user, "date": 0,
        "old_chat_member": {"status": "left", "user": user},
        "new_chat_member": {"status": "member", "user": user},
        "invite_link": {"invite_link": "https://t.me/+abc", "creator": user, "creates_join_request": False,
                        "is_primary": False, "is_revoked": False}}}
    assert convert(_update(data)).incoming.body == JoinedIn("https://t.me/+abc")


def test_missing_rights_are_listed() -> None:
    class Admin:
        status = "administrator"
        can_invite_users = True
        can_delete_messages = False
        can_restrict_members = False

    assert missing_rights(Admin()) == ["telegram-right-delete", "telegram-right-ban"]


async def test_a_stall_affects_only_its_chat() -> None:
    now = [100.0]
    pacer = chat_limits(TelegramRates(), clock=lambda: now[0])
    await pacer.acquire("1")
    assert 0.9 < pacer.ready_in("1") <= 1.1 and pacer.ready_in("2") == 0
    pacer.stall("3", 5)
    assert pacer.ready_in("3") == 5 and pacer.ready_in("2") == 0


def _wrapped(error: TelegramError, cause: Exception) -> TelegramError:
    """A PTB error as PTB raises it: ``raise NetworkError(...) from <httpx error>``."""
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "resent"),
    [
        (_wrapped(NetworkError("httpx.ConnectError: refused"), httpx.ConnectError("[Errno 111] refused")), True),
        (_wrapped(NetworkError("httpx.ConnectError: dns"), httpx.ConnectError("Name or service not known")), True),
        (_wrapped(TimedOut(), httpx.ConnectTimeout("connect")), True),
        (_wrapped(TimedOut("Pool timeout"), httpx.PoolTimeout("pool")), True),
        (NetworkError("Bad Gateway"), True),  # Telegram answered 502: it says it did not do it
        (_wrapped(TimedOut(), httpx.ReadTimeout("read")), False),
        (_wrapped(TimedOut(), httpx.WriteTimeout("write")), False),
        (_wrapped(NetworkError("httpx.ReadError: reset"), httpx.ReadError("connection reset")), False),
        (_wrapped(NetworkError("httpx.RemoteProtocolError"), httpx.RemoteProtocolError("closed")), False),
        (_wrapped(NetworkError("Unknown error in HTTP implementation"), RuntimeError("?")), False),
        (TimedOut(), False),
    ],
)
def test_a_message_is_resent_only_when_the_failure_was_before_sending(error: TelegramError, resent: bool) -> None:
    """Reproduces: every timeout and network error became "retry later", so a message whose answer was
    lost after Telegram had received it went out twice. Only failures known to be before the request
    left are retried; the others are "may have arrived", like a crash mid-send."""
    result = errors.send_outcome(error)
    if resent:
        assert isinstance(result, RetryLater)
    else:
        assert isinstance(result, Undeliverable) and not result.chat_gone
        assert result.reason.startswith(errors.MAY_HAVE_ARRIVED)


def test_other_calls_than_messages_are_still_retried_after_a_timeout() -> None:
    """Invites, bans, restrictions give the same result if done twice: a timeout is simply retried."""
    assert isinstance(errors.outcome(_wrapped(TimedOut(), httpx.ReadTimeout("read"))), RetryLater)


async def test_real_ptb_errors_are_told_apart_by_what_reached_telegram() -> None:
    """The cause chain ``send_outcome`` reads is the one real python-telegram-bot raises: a refused
    connection (nothing sent) is retried; an answer that never came (the request left) is not."""
    import asyncio
    import socket

    from telegram import Bot
    from telegram.request import HTTPXRequest

    # A port nobody listens on: the connection is refused. Kept bound (not listening) while the bot
    # connects, so no other process can be given it meanwhile and answer.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
        refused = Bot("1:A", base_url=f"http://127.0.0.1:{closed}/bot", request=HTTPXRequest(connect_timeout=2))
        with pytest.raises(NetworkError) as caught:
            await refused.send_message(1, "x")
    assert isinstance(errors.send_outcome(caught.value), RetryLater)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # the request arrives ... and no answer ever comes
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        slow = Bot("1:A", base_url=f"http://127.0.0.1:{port}/bot", request=HTTPXRequest(read_timeout=0.3))
        with pytest.raises(TimedOut) as caught:
            await slow.send_message(1, "x")
        outcome = errors.send_outcome(caught.value)
        assert isinstance(outcome, Undeliverable) and outcome.reason.startswith(errors.MAY_HAVE_ARRIVED)
    finally:
        server.close()
