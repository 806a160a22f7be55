"""The core: takes events from the inbox, routes them, and delivers what they caused from the outbox.

Adapters never call handlers directly. They put events into the durable inbox (``receive``) and give
the core a ``Transport`` to deliver through. That one path — inbox, handler inside a transaction,
outbox, delivery worker — is what makes "nothing is lost on a crash or restart" true for every
feature at once, instead of each feature having to remember it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot import assemble as features
from bot.core import roles
from bot.core.chat import (
    Address,
    Choice,
    ChoiceIn,
    CommandIn,
    FileIn,
    Incoming,
    Outgoing,
    TextIn,
    Transport,
)
from bot.core.clock import Clock, SystemClock, to_iso
from bot.core.config import CONTENT_DIR, Config
from bot.core.delivery import Delivery
from bot.core.i18n import Catalogues, Localized, Translator
from bot.core.interests import TopicList
from bot.core.pacing import Pacer
from bot.core.places import PlaceIndex, load_places
from bot.core.router import Context, Router, as_choice, parse_flow_payload
from bot.core.scheduler import Scheduler
from bot.storage import circles as circle_store
from bot.storage import conversations, inbox, outbox, people
from bot.storage.database import Database
from bot.storage.people import Person

log = logging.getLogger(__name__)

# Events handled in one transaction before it may end early for another task waiting for the database:
# below this, the commits themselves would cost more than the wait they save.
MIN_GROUP_COMMIT = 8

ChoiceList = Sequence[tuple[str, str]]
# Called for every event in a circle room: (core, event, sender or None, circle id, now). A hook that
# returns False holds the event back from the hooks after it (it is how moderation stops mirroring).
GroupHook = Callable[["Core", Incoming, "Person | None", int, datetime], Awaitable[bool | None]]


@dataclass(frozen=True)
class Content:
    """What a deployment can swap without code: texts, places, interests, kinds of help."""

    catalogues: Catalogues
    places: PlaceIndex
    interests: TopicList
    help_kinds: TopicList

    @classmethod
    def load(cls, config: Config, content_dir: Path = CONTENT_DIR) -> Content:
        return cls(
            catalogues=Catalogues(content_dir / "locales"),
            places=load_places(config.places.neighbourhood_paths(), config.places.national_path()),
            interests=TopicList.load(content_dir / "interests.toml", "interest"),
            help_kinds=TopicList.load(content_dir / "help.toml", "help"),
        )


class Core:
    def __init__(self, config: Config, db: Database, content: Content, clock: Clock | None = None) -> None:
        self.config = config
        self.db = db
        self.content = content
        self.clock: Clock = clock or SystemClock()
        self.router = Router()
        self.transports: dict[str, Transport] = {}
        self._seen: dict[int, datetime] = {}
        self._dispatching = asyncio.Lock()
        self._inbox_ready = asyncio.Event()
        self.outbox_ready: dict[str, asyncio.Event] = {}
        self.delivery = Delivery(self)
        self.group_hooks: list[GroupHook] = []
        # Called for a private text outside any conversation, before the generic "I am the bot…" hint;
        # a hook that returns True has answered it (a typed "ça va" closing a check-in).
        self.private_text_hooks: list[Callable[[Context], Awaitable[bool]]] = []
        self._event_rooms: list[tuple[str, str]] | None = None  # the rooms of the circle being written in
        self._event_circle: int | None = None
        # Group messages of the batch being handled: (keys asked, what was found), see _prefetch_rooms.
        self._room_info: tuple[set[people.RoomKey], dict[people.RoomKey, people.InRoom]] | None = None
        self.scheduler = Scheduler(self)
        for feature in features.all_features():
            feature.install(self)

    # ---- wiring -------------------------------------------------------------------------------

    def attach(self, transport: Transport, pacer: Pacer | None = None) -> None:
        """An adapter offers its platform; deliveries for that platform go through it, paced to the
        overall rate it declares (``pacer`` replaces that, e.g. with a scaled clock in a benchmark)."""
        self.transports[transport.platform] = transport
        self.outbox_ready.setdefault(transport.platform, asyncio.Event())
        self.delivery.pacers[transport.platform] = pacer or Pacer(transport.capabilities.messages_per_second)

    def translator(self, lang: str | None) -> Translator:
        return self.content.catalogues.translator(lang)

    @property
    def t_default(self) -> Translator:
        """The deployment's language: used for what a whole circle room reads."""
        return self.translator(self.config.deployment.language)

    # ---- inbox --------------------------------------------------------------------------------

    async def receive(self, event: Incoming, cursor: str | None = None) -> None:
        """Store an event durably; handling happens in ``process_pending``."""
        if not event.external_id:
            raise ValueError("an incoming event needs its platform id (external_id) for deduplication")
        await inbox.accept(self.db, event.address.platform, [event], cursor, self.clock.now())
        self._inbox_ready.set()

    def inbox_ready(self) -> None:
        """Adapters that write to the inbox themselves call this to wake the dispatcher."""
        self._inbox_ready.set()

    async def process_pending(self, batch: int = 500) -> int:
        """Handle every event waiting in the inbox; returns how many were handled."""
        handled = 0
        async with self._dispatching:
            pending: list[tuple[int, Incoming]] = []
            while True:
                pending = pending or await inbox.pending(self.db, batch)
                if not pending:
                    return handled
                done = await self._handle_batch(pending)
                handled += done
                pending = pending[done:]

    async def _handle_batch(self, pending: list[tuple[int, Incoming]]) -> int:
        """Group commit: events handled in one transaction; returns how many (from the front).

        The transaction ends early when another task waits for the database (the delivery worker with
        an answer to send): answers go out while a long batch is still being handled, instead of after
        it. If an event fails, what this transaction did is rolled back and replayed one event per
        transaction, so one bad event cannot block the others."""
        done = 0
        try:
            async with self.db.transaction():
                await self._prefetch_rooms(pending)
                for _, event in pending:
                    done += 1
                    await self._handle(event)
                    if not _only_talk(event):
                        self._room_info = None  # membership may have changed: look it up again
                    if done >= MIN_GROUP_COMMIT and self.db.others_waiting():
                        break
                await self._flush_activity()
                await inbox.finish(self.db, [inbox_id for inbox_id, _ in pending[:done]])
        except Exception:
            self._seen.clear()
            self._room_info = None
            for inbox_id, event in pending[:done]:
                await self._handle_alone(inbox_id, event)
        self.wake_outbox()
        return done

    async def _handle_alone(self, inbox_id: int, event: Incoming) -> None:
        try:
            async with self.db.transaction():
                await self._handle(event)
                await self._flush_activity()
                await inbox.finish(self.db, [inbox_id])
        except Exception as exc:
            self._seen.clear()
            log.exception("event %s failed", inbox_id)
            async with self.db.transaction():
                await inbox.fail(self.db, inbox_id, f"{type(exc).__name__}: {exc}")
                if event.address.private:
                    person = await people.by_identity(self.db, event.address.platform, event.address.user_id)
                    t = self.translator(person.language if person else event.sender.language)
                    await self.queue_message(
                        self.db, event.address.platform, event.address.chat_id, t("error-internal"), (),
                        self.clock.now(),
                    )

    async def _prefetch_rooms(self, pending: list[tuple[int, Incoming]]) -> None:
        """What every message of the batch written in a group needs (its circle, that circle's rooms,
        the sender), in one query instead of one per message."""
        keys = {(e.address.platform, e.address.chat_id, e.address.user_id) for _, e in pending if _only_talk(e)}
        self._room_info = (keys, await people.in_rooms(self.db, list(keys))) if keys else None

    async def _room_context(self, address: Address) -> people.InRoom | None:
        key = (address.platform, address.chat_id, address.user_id)
        if self._room_info is not None and key in self._room_info[0]:
            return self._room_info[1].get(key)
        return await people.in_room(self.db, *key)

    async def _flush_activity(self) -> None:
        if self._seen:
            await people.touch_many(self.db, self._seen)
            self._seen.clear()

    def record_activity(self, person_id: int, now: datetime) -> None:
        """Last activity is kept in memory for the batch and written with it, not one UPDATE per message."""
        self._seen[person_id] = now

    # ---- routing ------------------------------------------------------------------------------

    async def _handle(self, event: Incoming) -> None:
        now = self.clock.now()
        address = event.address
        if not address.private:
            await self._handle_group(event, now)
            return
        person = await people.by_identity(self.db, address.platform, address.user_id)
        if person is not None:
            self.record_activity(person.id, now)
            await people.seen_in_private(self.db, address.platform, address.user_id, address.chat_id)
        if person is None:
            command = self.router.find(event.body.name) if isinstance(event.body, CommandIn) else None
            if command is not None and command.anonymous:
                t = self.translator(event.sender.language or self.config.deployment.language)
                await command.handler(Context(self, self.db, event, None, t, now))
                return
            person = await self._first_contact(event, now)
        body = event.body
        ctx = Context(self, self.db, event, person, self.translator(person.language), now)
        if isinstance(body, TextIn):
            offered = await conversations.offered_choices(self.db, address.platform, address.chat_id)
            picked = as_choice(body.text, offered)
            if isinstance(picked, int):
                await ctx.reply(ctx.t("choice-number-range", max=picked), offered)
                return
            body = picked or body
        ctx.body = body
        await self._route_private(ctx, body)

    async def _first_contact(self, event: Incoming, now: datetime) -> Person:
        """Someone writes for the first time: a person row holds their conversation from here on.
        If they decline consent it is deleted again."""
        lang = event.sender.language if event.sender.language in ("fr", "en") else self.config.deployment.language
        return await people.create(
            self.db,
            event.address.platform,
            event.address.user_id,
            event.address.chat_id,
            event.sender.first_name[:64],
            lang,
            now,
        )

    async def _route_private(self, ctx: Context, body: object) -> None:
        assert ctx.person is not None
        conv = await conversations.get(self.db, ctx.person.id)
        if isinstance(body, CommandIn):
            await self._route_command(ctx, body)
        elif isinstance(body, FileIn):
            if self.router.file_handler is not None and ctx.person.onboarded:
                await self.router.file_handler(ctx)
            else:
                await ctx.reply(ctx.t("file-not-expected"))
        elif isinstance(body, ChoiceIn):
            await self._route_choice(ctx, body, conv)
        elif conv is not None:
            await self.router.flows[conv.flow].handle(ctx, conv, body)  # type: ignore[arg-type]
        elif not ctx.person.onboarded:
            await self.router.commands["start"].handler(ctx)
        else:
            for hook in self.private_text_hooks:
                if await hook(ctx):
                    return
            await ctx.reply(ctx.t("private-chat-hint"))

    async def _route_command(self, ctx: Context, body: CommandIn) -> None:
        assert ctx.person is not None
        command = self.router.find(body.name)
        if command is None:
            await self._did_you_mean(ctx, body.name)
        elif command.needs_member and not ctx.person.onboarded:
            await ctx.reply(ctx.t("command-needs-onboarding", command=body.name), [(ctx.t("button-start"), "go:start")])
        else:
            await command.handler(ctx)

    async def _did_you_mean(self, ctx: Context, name: str) -> None:
        guess = self.router.suggest(name)
        if guess:
            await ctx.reply(ctx.t("command-did-you-mean", typed=name[:40], guess=guess), [(f"/{guess}", f"go:{guess}")])
        else:
            await ctx.reply(ctx.t("command-unknown", typed=name[:40]))

    async def _route_choice(self, ctx: Context, body: ChoiceIn, conv: conversations.Conversation | None) -> None:
        prefix = body.payload.partition(":")[0]
        if prefix in self.router.actions:
            await self.router.actions[prefix](ctx)
            return
        parsed = parse_flow_payload(body.payload)
        if conv is not None and parsed and parsed[0] == conv.flow and parsed[1] == conv.step:
            await self.router.flows[conv.flow].handle(ctx, conv, body)
        elif conv is not None:
            await ctx.reply(ctx.t("choice-expired"))
            await self.router.flows[conv.flow].handle(ctx, conv, TextIn(""))
        else:
            await ctx.reply(ctx.t("choice-expired"))

    async def _handle_group(self, event: Incoming, now: datetime) -> None:
        """A circle room: neighbours talking to each other. The bot stays quiet except for mirroring
        the message to the circle's rooms on other platforms, and for commands allowed in groups."""
        address = event.address
        found = await self._room_context(address)
        circle_id, self._event_rooms, person = found if found else (None, None, None)
        self._event_circle = circle_id
        if found is None:
            person = await people.by_identity(self.db, address.platform, address.user_id)
        if person is not None:
            self.record_activity(person.id, now)
        body = event.body
        try:
            if isinstance(body, CommandIn):
                command = self.router.find(body.name)
                if command is not None and command.in_groups:
                    lang = person.language if person else self.config.deployment.language
                    await command.handler(Context(self, self.db, event, person, self.translator(lang), now))
                return
            if circle_id is None:
                return
            for hook in self.group_hooks:
                if await hook(self, event, person, circle_id, now) is False:
                    return  # held back (a muted or flooding member, a word-list hit): later hooks skip it
        finally:
            self._event_rooms = None

    # ---- outbox -------------------------------------------------------------------------------

    async def queue_message(
        self,
        db: Database,
        platform: str,
        chat_id: str,
        text: Localized,
        choices: ChoiceList,
        now: datetime,
        dedupe_key: str | None = None,
        kind: str = "notice",
        not_before: datetime | None = None,
    ) -> bool:
        """Queue one message; ``not_before`` holds it until then (a check-in message at night waits for
        the morning) without holding back the chat's other messages."""
        message = Outgoing(platform, chat_id, text, tuple(_choices(choices)), kind=kind)  # type: ignore[arg-type]
        queued = await outbox.add(db, platform, "message", chat_id, message.to_json(), now, dedupe_key, not_before)
        if kind == "notice":
            if choices:
                await conversations.offer_choices(db, platform, chat_id, list(choices))
            else:
                await conversations.forget_choices(db, platform, chat_id)
        return queued

    async def queue_file(self, db: Database, message: Outgoing, now: datetime) -> None:
        await outbox.add(db, message.platform, "message", message.chat_id, message.to_json(), now)

    async def tell(
        self,
        db: Database,
        person_id: int,
        text: Callable[[Translator], Localized],
        choices: Callable[[Translator], list[tuple[str, str]]] | None,
        now: datetime,
        dedupe_key: str | None = None,
        not_before: datetime | None = None,
    ) -> bool:
        """Write privately to a person on the first of their platforms that can reach them (held until
        ``not_before`` when given)."""
        person = await people.get(db, person_id)
        if person is None:
            return False
        t = self.translator(person.language)
        for identity in await people.identities(db, person_id):
            if identity.unreachable_at:
                continue
            await self.queue_message(
                db, identity.platform, identity.private_chat_id, text(t), choices(t) if choices else (), now,
                dedupe_key=f"{dedupe_key}:{identity.platform}" if dedupe_key else None, not_before=not_before,
            )
            return True
        return False

    async def post_to_circle(
        self,
        db: Database,
        circle_id: int,
        text: Localized,
        now: datetime,
        *,
        skip_chat: tuple[str, str] | None = None,
        kind: str = "notice",
        dedupe_key: str | None = None,
    ) -> int:
        """Write in every room of a circle (except ``skip_chat``, where the words came from)."""
        sent = 0
        for room in await self._rooms_of(db, circle_id):
            if skip_chat == (room.platform, room.chat_id):
                continue
            key = f"{dedupe_key}:{room.platform}" if dedupe_key else None
            sent += await self.queue_message(db, room.platform, room.chat_id, text, (), now, key, kind=kind)
        return sent

    async def queue_invite(self, db: Database, circle_id: int, person_id: int, now: datetime) -> None:
        """Invite a person into their circle's room on each platform they use."""
        await self._queue_room_item(db, "invite", circle_id, person_id, now, dedupe=f"invite:{circle_id}:{person_id}")

    async def _queue_room_item(
        self, db: Database, kind: str, circle_id: int, person_id: int, now: datetime, *,
        dedupe: str | None = None, at: datetime | None = None, **details: object,
    ) -> None:
        """One outbox item per platform account of the person, about their place in a circle's room
        (an invite, a power level, a mute, a removal), carried out by ``bot.core.delivery``."""
        for identity in await people.identities(db, person_id):
            payload = json.dumps(
                {"circle_id": circle_id, "person_id": person_id, "user_id": identity.user_id, **details}
            )
            await outbox.add(
                db, identity.platform, kind, identity.private_chat_id, payload, now,
                dedupe_key=f"{dedupe}:{identity.platform}" if dedupe else None, not_before=at,
            )

    def wake_outbox(self) -> None:
        """Wake the delivery workers: called after a batch, and by adapters that made items due."""
        for event in self.outbox_ready.values():
            event.set()

    async def _rooms_of(self, db: Database, circle_id: int) -> list[circle_store.Room]:
        """A circle's rooms; for a message in a circle room they came with the event's own query."""
        if self._event_rooms is not None and self._event_circle == circle_id:
            return [circle_store.Room(circle_id, platform, chat_id) for platform, chat_id in self._event_rooms]
        return await circle_store.rooms(db, circle_id)

    async def queue_room_power(
        self, db: Database, circle_id: int, person_id: int, level: int, now: datetime, at: datetime | None = None
    ) -> None:
        """Give (50) or take back (0) a circle host's or moderator's power in the circle's rooms, on the
        platforms that have such a thing (Matrix power levels); ``at`` for later."""
        await self._queue_room_item(db, "power", circle_id, person_id, now, at=at, level=level)

    async def queue_room_removal(
        self, db: Database, circle_id: int, person_id: int, now: datetime, *, ban: bool = False
    ) -> None:
        """Take someone who left their circle (or was removed, or banned) out of its rooms on every
        platform, so the circle's group holds its members and no one else."""
        await self._queue_room_item(db, "remove", circle_id, person_id, now, ban=ban)

    async def queue_room_mute(
        self, db: Database, circle_id: int, person_id: int, until: datetime, now: datetime
    ) -> None:
        """Keep a member from writing in their circle's rooms until ``until``, where the platform can
        (Telegram restricts with an end date; Matrix lowers the power level, given back at ``until``)."""
        await self._queue_room_item(db, "mute", circle_id, person_id, now, until=to_iso(until))
        restore = roles.ROOM_POWER if await roles.is_host(db, person_id, circle_id) else 0
        await self.queue_room_power(db, circle_id, person_id, restore, now, at=until)

    async def deliver_due(self, platform: str) -> int:
        """Send what is due on one platform now (see ``bot.core.delivery``); returns how many items were due."""
        return await self.delivery.deliver_due(platform)

    async def run_delivery(self, platform: str) -> None:
        """Deliver for one platform until cancelled."""
        await self.delivery.run_delivery(platform)

    async def settle(self, rounds: int = 20) -> None:
        """Handle the inbox and deliver everything due, until quiet. Used by the console and tests."""
        for _ in range(rounds):
            handled = await self.process_pending()
            attempted = 0
            for platform in list(self.transports):
                attempted += await self.deliver_due(platform)
            if not handled and not attempted:
                return

    # ---- running ------------------------------------------------------------------------------

    async def run_dispatcher(self) -> None:
        while True:
            await self._inbox_ready.wait()
            self._inbox_ready.clear()
            await self.process_pending()

def _only_talk(event: Incoming) -> bool:
    """Words written in a group: handling them cannot change who is in which circle."""
    return not event.address.private and isinstance(event.body, TextIn)


def _after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


def _choices(choices: ChoiceList) -> list[Choice]:
    return [Choice(str(label), payload) for label, payload in choices]


async def open_core(config: Config, clock: Clock | None = None, database: str | Path | None = None) -> Core:
    """Open the database (migrating it) and load the content: everything a run or a test starts with."""
    db = await Database.open(database or config.deployment.database)
    return Core(config, db, Content.load(config), clock)
