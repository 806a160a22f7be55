"""The Telegram adapter: the real python-telegram-bot, with our own offset handling.

Receiving. PTB's polling ``Updater`` confirms a batch to Telegram (next offset) before any handler has
run, so a crash loses it. Here the adapter calls ``getUpdates`` itself and writes each batch to the
durable inbox *with the next offset in the same transaction*; only the following ``getUpdates`` (with
that offset) confirms the batch to Telegram. A restart reads the stored offset: what arrived while the
bot was down is fetched then, and an update fetched twice is stored once (its update id is unique).
Each update is parsed on its own; one PTB cannot read is kept as failed and polling goes on.
Effects that need no answer (a migration to a supergroup, reactions as activity, a block) are applied
in that same transaction. In webhook mode the update is stored before the HTTP answer, for the same
reason, and the secret token is checked on every request.

Delivering. The core's outbox worker calls ``send``/``invite``. Sends are paced (``limits.chat_limits``); a
429 stalls only its chat; a message over 4096 characters goes out in parts, and a retry resumes at the
first part not sent. Errors become ``Delivered``/``RetryLater``/``Undeliverable`` (``errors.outcome``).
Telegram cannot recognise a message sent twice, so a message whose request may have reached it (a read
timeout, a connection cut) is "may have arrived" and never resent (``errors.send_outcome``); only a
failure before the request left (no connection, DNS) or an error Telegram answered is retried.

Housekeeping. A small loop removes strangers from circle groups and gives pool groups to circles that
wait for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram import Bot, ChatPermissions, InputFile, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict, NetworkError, RetryAfter, TelegramError

from adapters.base import Adapter
from adapters.telegram import adoption, errors, store
from adapters.telegram.convert import Converted, convert
from adapters.telegram.limits import TelegramRates, chat_limits
from adapters.telegram.render import MAX_CAPTION, Part, plain, render, units
from bot.core.chat import (
    Capabilities,
    Delivered,
    FileTooBig,
    InviteResult,
    Outgoing,
    RetryLater,
    SendResult,
    Undeliverable,
)
from bot.core.pacing import backoff
from bot.storage import inbox

if TYPE_CHECKING:
    from bot.core.app import Core

log = logging.getLogger(__name__)

PLATFORM = store.PLATFORM
INVITE_LIFETIME = timedelta(days=7)


@dataclass
class Settings:
    """What the adapter needs beyond the bot: how to receive and how fast it may send."""

    mode: str = "polling"  # or "webhook"
    poll_timeout: int = 30  # long-poll seconds
    webhook_url: str = ""
    webhook_port: int = 8443
    webhook_secret: str = ""
    webhook_host: str = "0.0.0.0"
    rates: TelegramRates | None = None
    housekeeping_every: float = 30.0
    sends_in_flight: int = 4  # see [telegram] sends_in_flight in content/default.toml


@dataclass(frozen=True)
class Unreadable:
    """An update python-telegram-bot could not parse: kept (failed) so that it is seen, not refetched."""

    raw: dict[str, Any]
    error: str


class TelegramAdapter(Adapter):
    platform = PLATFORM
    capabilities = Capabilities(buttons=True, create_rooms=False, invite_links=True, max_text=4096)
    idempotent_sends = False  # Telegram has no idempotency key: an interrupted send is not resent

    def __init__(self, bot: Bot, core: Core, settings: Settings | None = None) -> None:
        self.bot = bot
        self.core = core
        self.settings = settings or Settings()
        self.capabilities = replace(TelegramAdapter.capabilities, sends_in_flight=self.settings.sends_in_flight)
        self.pacer = chat_limits(self.settings.rates)
        self.username = ""
        self.bot_id = 0
        self._parts_sent: dict[str, int] = {}  # idempotency key → parts already delivered
        self._attempts: dict[str, int] = {}
        self._moved: dict[str, str] = {}  # migrated group ids seen while sending
        self._housekeeping = asyncio.Event()
        self._webhook: web.AppRunner | None = None
        self._started = False

    @property
    def intake_leased(self) -> bool:  # type: ignore[override]
        """Polling: one worker at a time (Telegram gives the updates to one reader). A webhook: every
        worker may serve it, each storing what it is given."""
        return self.settings.mode != "webhook"

    async def open(self) -> None:
        """Connect (getMe) once: the bot's username tells our commands from other bots' in groups."""
        if not self._started:
            await self.bot.initialize()
            self._started = True
        self.username = self.bot.username or ""
        self.bot_id = self.bot.id
        log.info("Telegram: connected as @%s (%s)", self.username, self.settings.mode)

    async def close(self) -> None:
        if self._webhook is not None:
            await self._webhook.cleanup()
            self._webhook = None
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                await self.bot.shutdown()

    # ---- receiving ---------------------------------------------------------------------------

    async def run(self, core: Core) -> None:
        """Receive until cancelled (polling or webhook), with the housekeeping loop beside it."""
        await self.open()
        keeper = asyncio.create_task(self._housekeep_forever())
        try:
            if self.settings.mode == "webhook":
                await self._serve_webhook()
            else:
                await self._poll_forever()
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await keeper

    async def _poll_forever(self) -> None:
        with contextlib.suppress(TelegramError):  # polling and a webhook exclude each other
            await self.bot.delete_webhook(drop_pending_updates=False)
        offset = int(await inbox.get_cursor(self.core.db, PLATFORM) or 0)
        failures = 0
        while True:
            try:
                batch = await self._get_updates(offset)
                self.heard_from_platform()
                failures = 0
            except Conflict as exc:
                raise errors.PollingConflict(
                    "Telegram refuses to give this bot's updates to two readers: another `voisinage run` "
                    "(or another program) is polling the same token, or a webhook is set. Stop the other one. "
                    f"({exc.message})"
                ) from exc
            except RetryAfter as exc:
                await asyncio.sleep(errors.retry_after(exc))
                continue
            except NetworkError as exc:  # timeouts, 5xx, connection refused: wait and try again
                failures += 1
                wait = backoff(failures, cap=errors.NETWORK_RETRY_CAP)
                log.warning("getUpdates failed (%s); retrying in %.0f s", exc, wait)
                await asyncio.sleep(wait)
                continue
            if batch:
                offset = await self.store_batch(batch)

    async def _get_updates(self, offset: int) -> list[dict[str, Any]]:
        """Raw update dicts, so one update PTB cannot parse does not take the batch down with it.

        Method names are case-insensitive on Telegram; the lower-case spelling keeps PTB from
        suggesting its own (parsing) ``get_updates``.
        """
        timeout = self.settings.poll_timeout
        result = await self.bot.do_api_request(
            "getupdates",
            api_kwargs={"offset": offset, "timeout": timeout, "allowed_updates": list(Update.ALL_TYPES)},
            read_timeout=timeout + 10,
        )
        return list(result or [])

    async def store_batch(self, batch: list[dict[str, Any]]) -> int:
        """Store a fetched batch and the next offset in one transaction; returns that offset."""
        next_offset = max(int(raw["update_id"]) for raw in batch) + 1
        await self._store(batch, str(next_offset))
        return next_offset

    async def _store(self, batch: list[dict[str, Any]], cursor: str | None) -> None:
        """The updates are read before the transaction begins: it holds the database only to write."""
        now = self.core.clock.now()
        read = [self._understand(raw) for raw in batch]
        converted = [meaning for meaning in read if isinstance(meaning, Converted)]
        async with self.core.db.transaction():
            await self._reject([meaning for meaning in read if isinstance(meaning, Unreadable)], now)
            await self._apply(converted, now)
            events = [c.incoming for c in converted if c.incoming is not None]
            await inbox.accept(self.core.db, PLATFORM, events, cursor, now)
        if events:
            self.core.inbox_ready(len(events))
        await self._answer_callbacks([c.callback_query_id for c in converted if c.callback_query_id])

    def _understand(self, raw: dict[str, Any]) -> Converted | Unreadable:
        try:
            return convert(Update.de_json(raw, self.bot), self.username)
        except Exception as exc:
            log.error("update %s could not be read: %s", raw.get("update_id"), exc)
            return Unreadable(raw, repr(exc))

    async def _reject(self, unreadable: list[Unreadable], now: datetime) -> None:
        """Updates that could not be read are kept as failed, with the error, and not fetched again."""
        for item in unreadable:
            await inbox.reject(self.core.db, PLATFORM, str(item.raw.get("update_id")), json.dumps(item.raw),
                               item.error, now)

    async def _apply(self, converted: list[Converted], now) -> None:
        """What an update means without any answer: done here, with the offset."""
        active = [c.active_user for c in converted if c.active_user]
        if active:
            await store.touch(self.core.db, active, now)
        for c in converted:
            if c.migration:
                await store.migrate(self.core.db, c.migration.old_chat_id, c.migration.new_chat_id)
                self._moved[c.migration.old_chat_id] = c.migration.new_chat_id
            if c.blocked:
                await store.set_blocked(self.core.db, c.blocked[0], c.blocked[1], now)

    async def _answer_callbacks(self, query_ids: list[str]) -> None:
        """Stop the buttons' spinners. Best effort: the press is already stored."""
        for query_id in query_ids:
            with contextlib.suppress(TelegramError):
                await self.bot.answer_callback_query(query_id)

    # ---- webhook -------------------------------------------------------------------------------

    async def _serve_webhook(self) -> None:
        s = self.settings
        if not s.webhook_url or not s.webhook_secret:
            raise ValueError("webhook mode needs telegram.webhook_url and the secret token's environment variable")
        app = web.Application()
        path = "/" + s.webhook_url.split("://", 1)[-1].partition("/")[2]
        app.router.add_post(path, self._on_webhook)
        self._webhook = web.AppRunner(app, access_log=None)
        await self._webhook.setup()
        await web.TCPSite(self._webhook, s.webhook_host, s.webhook_port).start()
        await self.bot.set_webhook(s.webhook_url, secret_token=s.webhook_secret,
                                   allowed_updates=list(Update.ALL_TYPES), drop_pending_updates=False)
        await asyncio.Event().wait()

    async def _on_webhook(self, request: web.Request) -> web.Response:
        """Stored before answering 200: Telegram forgets an update once it has our 200."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.settings.webhook_secret.encode()):
            return web.Response(status=403)
        try:
            raw = await request.json()
            if not isinstance(raw, dict) or "update_id" not in raw:
                raise ValueError("not an update")
        except ValueError:
            return web.Response(status=400)
        await self._store([raw], None)  # like a polled batch of one, without an offset (a webhook has none)
        return web.Response(status=200)

    # ---- delivering ------------------------------------------------------------------------------

    def ready_in(self, chat_id: str) -> float:
        return self.pacer.ready_in(self._moved.get(chat_id, chat_id))

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        """Send every part not sent yet; on a failure, later retries resume where this one stopped.
        (Order within a chat is the outbox's job: a chat's later messages wait behind a retried one.)"""
        return await self._send_parts(message, idempotency_key)

    async def _send_parts(self, message: Outgoing, idempotency_key: str) -> SendResult:
        parts: list[Part | Any] = render(message)
        caption = ""
        if message.attachment is not None:
            if len(parts) == 1 and units(plain(parts[0].text)) <= MAX_CAPTION and not message.choices:
                caption, parts = parts[0].text, []
            parts.append(message.attachment)
        done = self._parts_sent.get(idempotency_key, 0)
        last = Delivered()
        for index in range(done, len(parts)):
            result = await self._send_one(message.chat_id, parts[index], caption, idempotency_key)
            if not isinstance(result, Delivered):
                return result
            self._parts_sent[idempotency_key] = index + 1
            last = result
        self._parts_sent.pop(idempotency_key, None)
        self._attempts.pop(idempotency_key, None)
        return last

    async def _send_one(self, chat_id: str, part: Any, caption: str, key: str) -> SendResult:
        chat_id = self._moved.get(chat_id, chat_id)
        for _ in range(2):  # a second time only after a migration, to the new id
            await self.pacer.acquire(chat_id)
            try:
                sent = await self._call(chat_id, part, caption)
                return Delivered(str(sent.message_id))
            except ChatMigrated as exc:
                chat_id = await self._follow_migration(chat_id, str(exc.new_chat_id))
            except TelegramError as exc:
                if errors.is_markup_error(exc) and isinstance(part, Part):
                    log.error("Telegram refused our HTML (%s); sending it as plain text", exc.message)
                    part = Part(plain(part.text), part.keyboard, html=False)
                    continue
                return self._failed(chat_id, exc, key)
        return RetryLater(5, "chat moved twice")

    async def _call(self, chat_id: str, part: Any, caption: str) -> Any:
        if isinstance(part, Part):
            return await self.bot.send_message(
                int(chat_id), part.text, parse_mode=ParseMode.HTML if part.html else None, reply_markup=part.keyboard,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        return await self.bot.send_document(
            int(chat_id), InputFile(part.data, filename=part.filename), caption=caption or None,
            parse_mode=ParseMode.HTML if caption else None,
        )

    def _failed(self, chat_id: str, exc: TelegramError, key: str) -> SendResult:
        attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        result = errors.send_outcome(exc, attempt)
        if isinstance(exc, RetryAfter):
            self.pacer.stall(chat_id, result.seconds)  # type: ignore[union-attr]
        if isinstance(result, Undeliverable):
            self._parts_sent.pop(key, None)
            self._attempts.pop(key, None)
        return result

    async def _follow_migration(self, old: str, new: str) -> str:
        """A group we wrote to became a supergroup: its circle keeps it under the new id."""
        self._moved[old] = new
        async with self.core.db.transaction():
            await store.migrate(self.core.db, old, new)
        return new

    async def remove_member(self, room_id: str, user_id: str, *, ban: bool = False) -> SendResult:
        """Out of the circle's group: banned for good, or (ban then unban) free to come back if invited."""
        chat = int(self._moved.get(room_id, room_id))
        try:
            await self.bot.ban_chat_member(chat, int(user_id))
            if not ban:
                await self.bot.unban_chat_member(chat, int(user_id), only_if_banned=True)
        except TelegramError as exc:
            return errors.outcome(exc)
        return Delivered()

    async def mute_member(self, room_id: str, user_id: str, until: datetime) -> SendResult:
        """A member who flooded their circle's group cannot write there until ``until`` (Telegram lifts
        the restriction by itself at that date)."""
        try:
            await self.bot.restrict_chat_member(
                int(room_id), int(user_id), ChatPermissions.no_permissions(), until_date=until
            )
        except TelegramError as exc:
            return errors.outcome(exc)
        return Delivered()

    async def fetch_file(self, ref: str, max_bytes: int) -> bytes:
        """A document a resident sent: Telegram keeps it, and it is downloaded only when a handler asks."""
        file = await self.bot.get_file(ref)
        if file.file_size and file.file_size > max_bytes:
            raise FileTooBig(ref)
        data = bytes(await file.download_as_bytearray())
        if len(data) > max_bytes:
            raise FileTooBig(ref)
        return data

    async def invite(self, room_id: str, user_id: str, *, idempotency_key: str) -> InviteResult:
        """A single-use link (member_limit=1) that expires; the core sends it to the person.

        If the answer to ``createChatInviteLink`` is lost and the call retried, a second link is
        made: harmless, each admits one person and both expire.
        """
        room_id = self._moved.get(room_id, room_id)
        expire = self.core.clock.now() + INVITE_LIFETIME
        try:
            # Only members of the circle are invited: someone banned from it before and since let back
            # in (/unban) must be able to use the link.
            await self.bot.unban_chat_member(int(room_id), int(user_id), only_if_banned=True)
            link = await self.bot.create_chat_invite_link(
                int(room_id), expire_date=expire, member_limit=1, name=f"voisinage {user_id}"[:32]
            )
        except ChatMigrated as exc:
            await self._follow_migration(room_id, str(exc.new_chat_id))
            return InviteResult(RetryLater(1, "group migrated"))
        except TelegramError as exc:
            return InviteResult(self._invite_failed(room_id, exc, idempotency_key))
        async with self.core.db.transaction():
            await store.record_invite(self.core.db, link.invite_link, room_id, user_id, self.core.clock.now())
        self._attempts.pop(idempotency_key, None)
        return InviteResult(Delivered(), link.invite_link)

    def _invite_failed(self, room_id: str, exc: TelegramError, key: str) -> SendResult:
        """A refusal here is about the group (rights, bot removed), never about the person: the
        outbox must not mark them unreachable, so it is retried slowly and logged for the moderators."""
        attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        result = errors.outcome(exc, attempt)
        if isinstance(result, Undeliverable):
            log.warning("cannot create an invite link in group %s: %s", room_id, exc.message)
            return RetryLater(600, f"group {room_id}: {result.reason}")
        return result

    # ---- Telegram-only calls the core's features use ----------------------------------------------

    async def bot_member(self, chat_id: str) -> tuple[Any, str]:
        """The bot's own ChatMember in a group (its rights) and the group's title."""
        member = await asyncio.wait_for(self.bot.get_chat_member(int(chat_id), self.bot_id), 10)
        chat = await asyncio.wait_for(self.bot.get_chat(int(chat_id)), 10)
        return member, chat.title or ""

    # ---- housekeeping ------------------------------------------------------------------------------

    def wake_housekeeping(self) -> None:
        self._housekeeping.set()

    async def _housekeep_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._housekeeping.wait(), self.settings.housekeeping_every)
            self._housekeeping.clear()
            try:
                await self.housekeep()
            except Exception:
                log.exception("Telegram housekeeping failed; trying again later")

    async def housekeep(self) -> None:
        """Remove strangers, give pool groups to circles waiting for one."""
        async with self.core.db.transaction():
            strangers = await store.pending_strangers(self.core.db)
        for stranger in strangers:
            await self._remove(stranger)
        async with self.core.db.transaction():
            await adoption.give_groups(self.core, self.core.clock.now())
            await adoption.ask_for_groups(self.core, self.core.clock.now(), self.username)
        self.core.wake_outbox()
        self.pacer.forget_idle()

    async def _remove(self, stranger: store.Stranger) -> None:
        """Ban then unban: out of the group now, free to come back with an invitation later."""
        chat = int(self._moved.get(stranger.chat_id, stranger.chat_id))
        try:
            await self.bot.ban_chat_member(chat, int(stranger.user_id))
            await self.bot.unban_chat_member(chat, int(stranger.user_id), only_if_banned=True)
            error = None
        except (RetryAfter, NetworkError) as exc:
            if not isinstance(exc, BadRequest):
                log.info("removing a stranger from %s postponed: %s", chat, exc)
                return
            error = exc.message
        except TelegramError as exc:
            error = exc.message
        if error:
            log.warning("could not remove user %s from group %s: %s", stranger.user_id, chat, error)
        async with self.core.db.transaction():
            await store.stranger_done(self.core.db, stranger.id, self.core.clock.now(), error)
