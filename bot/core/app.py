"""The core: takes events from the inbox, routes them, and delivers what they caused from the outbox.

Adapters never call handlers directly. They put events into the durable inbox (``receive``) and give
the core a ``Transport`` to deliver through. That one path — inbox, handler inside a transaction,
outbox, delivery worker — is what makes "nothing is lost on a crash or restart" true for every
feature at once, instead of each feature having to remember it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.core import answers, roles
from bot.core.batch import Batch
from bot.core.chat import (
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
from bot.core.counters import Counters
from bot.core.delivery import Delivery
from bot.core.hooks import Hooks, RoomEvent
from bot.core.i18n import Catalogues, Localized, Translator
from bot.core.interests import TopicList
from bot.core.pacing import Pacer
from bot.core.places import PlaceIndex, load_places
from bot.core.router import Ambiguous, ChoicesIn, Command, Context, Router, as_choice, parse_flow_payload
from bot.core.scheduler import Scheduler
from bot.core.workers import wall_now, worker_identity
from bot.storage import circles as circle_store
from bot.storage import conversations, inbox, inbox_claims, outbox, people
from bot.storage.database import Database
from bot.storage.people import Person

log = logging.getLogger(__name__)

# Events handled in one transaction before it may end early for another task waiting for the database:
# below this, the commits themselves would cost more than the wait they save.
MIN_GROUP_COMMIT = 8

# How often the dispatcher looks for events stored by another worker's intake (see ``run_dispatcher``).
INBOX_LOOK_EVERY = 0.5

# Messages to the bot outside any question closer together than this are one burst: one hint.
HINT_WINDOW = timedelta(seconds=15)

ChoiceList = Sequence[tuple[str, str]]


# The outbox "chat" of room changes about someone erased with /forget (see ``_queue_room_item``).
ERASED_CHAT = "-"


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
    """The platform-free machinery every feature shares. It knows no feature: ``bot.assemble`` builds
    a Core and lets each feature package register on ``router`` (commands, flows, buttons), ``hooks``
    (gates, room events, /mydata and /forget, moderation buttons) and ``scheduler`` (periodic passes)."""

    def __init__(self, config: Config, db: Database, content: Content, clock: Clock | None = None) -> None:
        self.config = config
        self.db = db
        self.content = content
        self.clock: Clock = clock or SystemClock()
        self.router = Router()
        self.hooks = Hooks()
        self.counters = Counters()  # what /metrics shows
        self.transports: dict[str, Transport] = {}
        self._hinted = Bursts(HINT_WINDOW)  # each member's last message outside any question
        self._narrowed = Bursts(HINT_WINDOW)  # each person's last ambiguous answer
        self._dispatching = asyncio.Lock()
        self._inbox_ready = asyncio.Event()
        self.outbox_ready: dict[str, asyncio.Event] = {}
        self.outbox_wakes = 0  # how many times something was queued or made due (see ``wake_outbox``)
        # This process among the workers sharing the database (``bot.core.workers``): its claims on
        # inbox events and outbox items, its scheduler leases, are written under this name.
        self.worker_id = worker_identity()
        self.delivery = Delivery(self)
        self.scheduler = Scheduler(self, owner=self.worker_id)

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
        self.inbox_ready()

    def inbox_ready(self, received: int = 1) -> None:
        """Adapters that write to the inbox themselves call this to wake the dispatcher."""
        self.counters.add("updates_received", received)
        self._inbox_ready.set()

    async def process_pending(self, batch: int = 500) -> int:
        """Handle every event waiting in the inbox that this worker may claim (``inbox_claims``: a chat
        another worker is handling waits for it); returns how many were handled."""
        handled = 0
        async with self._dispatching:
            pending: list[tuple[int, Incoming]] = []
            while True:
                pending = pending or await inbox_claims.claim(self.db, self.worker_id, wall_now(), batch)
                if not pending:
                    return handled
                taken, done = await self._handle_batch(pending)
                self.counters.add("events_handled", done)
                handled += done
                pending = pending[taken:]

    async def _handle_batch(self, pending: list[tuple[int, Incoming]]) -> tuple[int, int]:
        """Group commit: events handled in one transaction; returns how many were taken from the front
        of ``pending`` and how many of those were handled (the others are no longer this worker's).

        The transaction ends early when another task waits for the database (the delivery worker with
        an answer to send): answers go out while a long batch is still being handled, instead of after
        it. If an event fails, what this transaction did is rolled back and replayed one event per
        transaction, so one bad event cannot block the others."""
        taken = 0
        finished: list[int] = []
        try:
            async with self.db.transaction():
                mine = await inbox_claims.confirm(self.db, self.worker_id, [i for i, _ in pending], wall_now())
                batch = Batch()
                await batch.prefetch_rooms(self.db, [event for inbox_id, event in pending if inbox_id in mine])
                for inbox_id, event in pending:
                    taken += 1
                    if inbox_id not in mine:
                        continue  # taken over by another worker, or handled already
                    await self._handle(event, batch)
                    batch.handled(event)
                    finished.append(inbox_id)
                    if len(finished) >= MIN_GROUP_COMMIT and self.db.others_waiting():
                        break
                await batch.flush_activity(self.db)
                await inbox.finish(self.db, finished)
            done = len(finished)
        except Exception:
            done = 0
            for inbox_id, event in pending[:taken]:
                done += await self._handle_alone(inbox_id, event)
        self.wake_outbox()
        return taken, done

    async def _handle_alone(self, inbox_id: int, event: Incoming) -> int:
        """One event in its own transaction; 1 when it was this worker's to handle (handled or failed)."""
        try:
            async with self.db.transaction():
                if not await inbox_claims.confirm(self.db, self.worker_id, [inbox_id], wall_now()):
                    return 0
                batch = Batch()
                await self._handle(event, batch)
                await batch.flush_activity(self.db)
                await inbox.finish(self.db, [inbox_id])
        except Exception as exc:
            log.exception("event %s failed", inbox_id)
            self.counters.add("handling_errors")
            async with self.db.transaction():
                await inbox.fail(self.db, inbox_id, f"{type(exc).__name__}: {exc}")
                if event.address.private:
                    person = await people.by_identity(self.db, event.address.platform, event.address.user_id)
                    t = self.translator(person.language if person else event.sender.language)
                    await self.queue_message(
                        self.db, event.address.platform, event.address.chat_id, t("error-internal"), (),
                        self.clock.now(),
                    )
        return 1

    # ---- routing ------------------------------------------------------------------------------

    async def _handle(self, event: Incoming, batch: Batch) -> None:
        now = self.clock.now()
        address = event.address
        if not address.private:
            await self._handle_group(event, batch, now)
            return
        person = await people.by_identity(self.db, address.platform, address.user_id)
        if person is not None:
            batch.record_activity(person.id, now)
            await people.seen_in_private(self.db, address.platform, address.user_id, address.chat_id)
        if person is None:
            command = self.router.find(event.body.name) if isinstance(event.body, CommandIn) else None
            if command is not None and command.anonymous:
                t = self.translator(event.sender.language or self.config.deployment.language)
                await command.handler(Context(self, self.db, event, None, t, now, batch=batch))
                return
            person = await self._first_contact(event, now)
        body = event.body
        ctx = Context(self, self.db, event, person, self.translator(person.language), now, batch=batch)
        if isinstance(body, TextIn):
            offered = await conversations.offered_choices(self.db, address.platform, address.chat_id)
            if offered and person.onboarded and await self.hooks.typed_at_choices_taken(ctx, offered):
                return
            picked = as_choice(body.text, offered, self.router.is_multi(offered))
            if isinstance(picked, int):
                await self._number_out_of_range(ctx, picked, offered)
                return
            if isinstance(picked, Ambiguous):
                await self._which_of(ctx, body.text, picked, offered)
                return
            body = picked or body
        ctx.body = body
        await self._route_private(ctx, body)

    async def _number_out_of_range(self, ctx: Context, top: int, offered: list[tuple[str, str]]) -> None:
        """ "9" among two choices: the range and the question again, in one message (or, in the middle of
        a burst of wrong answers, nothing: see ``StepFlow.again``)."""
        conv = await conversations.get(self.db, ctx.person.id)
        parsed = parse_flow_payload(offered[0][1]) if offered else None
        if conv is not None and parsed and parsed[:2] == (conv.flow, conv.step):
            flow = self.router.flows[conv.flow]
            if hasattr(flow, "again"):
                await flow.again(ctx, conv, ctx.t("choice-number-range", max=top))
                return
        await ctx.reply(ctx.t("choice-number-range", max=top), offered)

    async def _which_of(self, ctx: Context, text: str, found: Ambiguous, offered: list[tuple[str, str]]) -> None:
        """An answer that fits several choices ("oui" where two mean yes) is never guessed, nor "not
        understood": what was understood and only the choices it fits, with the numbers they have in
        the question. The question stays the one answered (``keep_choices``): a button, any of its
        numbers, its words. Nothing is decided or stored; the same words again within ``HINT_WINDOW``
        (a flood) are not asked about twice."""
        if self._narrowed.repeated(ctx.person.id, answers.plain(text), ctx.now):
            return
        if found.meaning in ("yes", "no"):
            question = ctx.t(f"choice-which-{found.meaning}")
        else:
            question = ctx.t("choice-which-words", typed=" ".join(text.split())[:40])
        await ctx.reply(question, [offered[i] for i in found.fits], numbers=[i + 1 for i in found.fits],
                        keep_choices=True)

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
            await self._back_to_question(ctx, conv)
        elif isinstance(body, ChoicesIn):
            await self._route_choices(ctx, body, conv)
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
        elif not await self.hooks.private_words_taken(ctx) and self._hint_due(ctx.person.id, ctx.now):
            await ctx.reply(ctx.t("private-chat-hint"))

    def _hint_due(self, person_id: int, now: datetime) -> bool:
        """A member writing to the bot outside any question gets the hint once per burst of messages
        (a flood of twenty gets one), like a wrong answer to a question (``StepFlow.again``)."""
        return not self._hinted.repeated(person_id, None, now)

    async def _route_command(self, ctx: Context, body: CommandIn) -> None:
        assert ctx.person is not None
        command = self.router.find(body.name)
        if command is None:
            await self._did_you_mean(ctx, body.name)
        elif command.needs_member and not ctx.person.onboarded:
            if await conversations.get(self.db, ctx.person.id) is not None:  # the question comes back after
                ctx.note = ctx.t("command-after-onboarding", command=body.name[:40])
            else:
                await ctx.reply(ctx.t("command-needs-onboarding", command=body.name[:40]),
                                [(ctx.t("button-start"), "go:start")])
        else:
            await command.handler(ctx)

    async def _back_to_question(self, ctx: Context, before: conversations.Conversation | None) -> None:
        """A command typed in the middle of a guided conversation (/agenda during onboarding) is answered,
        then the question that was waiting is asked again: the conversation goes on where it was.
        Not when the command itself changed or ended the conversation (/cancel, /profile)."""
        if before is None or ctx.person is None:
            return
        after = await conversations.get(self.db, ctx.person.id)
        if after is None or (after.flow, after.step) != (before.flow, before.step):
            return
        offered = await conversations.offered_choices(self.db, ctx.address.platform, ctx.address.chat_id)
        parsed = parse_flow_payload(offered[0][1]) if offered else None
        own = parsed is not None and parsed[:2] == (after.flow, after.step)
        if not own and any(answers.choice_polarity(label, payload) for label, payload in offered):
            return  # the command asked "sure?" (/forget): a "non" must answer that; the question comes after
        person = await people.get(self.db, ctx.person.id)
        if person is None:
            return
        ctx.person, ctx.t = person, self.translator(person.language)
        ctx.note = ctx.note or ctx.t("back-to-question")
        await self.router.flows[after.flow].handle(ctx, after, TextIn(""))

    async def _did_you_mean(self, ctx: Context, name: str) -> None:
        """The closest command this person may use, shown by its name in their language."""
        allowed = await self._usable(ctx)
        guess = self.router.suggest(name, allowed)
        if guess:
            shown = guess.shown_name(ctx.t.lang)
            await ctx.reply(ctx.t("command-did-you-mean", typed=name[:40], guess=shown), [(f"/{shown}", f"go:{shown}")])
        else:
            await ctx.reply(ctx.t("command-unknown", typed=name[:40]))

    async def _usable(self, ctx: Context) -> Callable[[Command], bool]:
        """Which commands this person may use: not the moderators' to a resident, not the members' to a
        newcomer (a newcomer typing /meteo must not be offered /merge)."""
        assert ctx.person is not None
        staff = await roles.is_staff(self.db, self.config.deployment.admins, ctx.person.id)
        onboarded = ctx.person.onboarded
        return lambda c: (staff or not c.staff) and (onboarded or not c.needs_member)

    async def _route_choices(self, ctx: Context, body: ChoicesIn, conv: conversations.Conversation | None) -> None:
        """Several picks typed at once: for the "pick several" question they were offered with."""
        parsed = parse_flow_payload(body.payloads[0])
        if conv is not None and parsed and parsed[:2] == (conv.flow, conv.step):
            await self.router.flows[conv.flow].handle(ctx, conv, body)  # type: ignore[arg-type]
        else:
            await ctx.reply(ctx.t("choice-expired"))

    async def _route_choice(self, ctx: Context, body: ChoiceIn, conv: conversations.Conversation | None) -> None:
        prefix = body.payload.partition(":")[0]
        if prefix in self.router.actions:
            if ctx.person.onboarded or prefix in self.router.open_actions:
                await self.router.actions[prefix](ctx)
                await self._back_to_question(ctx, conv)
            else:  # an old button (or a forged payload) must not act for someone who is not a member
                await self._not_yet(ctx, conv)
            return
        parsed = parse_flow_payload(body.payload)
        if conv is not None and parsed and parsed[0] == conv.flow and parsed[1] == conv.step:
            await self.router.flows[conv.flow].handle(ctx, conv, body)
        elif conv is not None:
            await ctx.reply(ctx.t("choice-expired"))
            await self.router.flows[conv.flow].handle(ctx, conv, TextIn(""))
        else:
            await ctx.reply(ctx.t("choice-expired"))

    async def _not_yet(self, ctx: Context, conv: conversations.Conversation | None) -> None:
        """A member's button pressed by someone still joining: say so, and go back to where they were."""
        if conv is not None:
            await ctx.reply(ctx.t("choice-needs-onboarding"))
            await self.router.flows[conv.flow].handle(ctx, conv, TextIn(""))
        else:
            await ctx.reply(ctx.t("choice-needs-onboarding"), [(ctx.t("button-start"), "go:start")])

    async def _handle_group(self, event: Incoming, batch: Batch, now: datetime) -> None:
        """A circle room: neighbours talking to each other. The bot stays quiet except for mirroring
        the message to the circle's rooms on other platforms, and for commands allowed in groups."""
        address = event.address
        found = await batch.room_context(self.db, address)
        circle_id, rooms, person = found if found else (None, [], None)
        if found is None:
            person = await people.by_identity(self.db, address.platform, address.user_id)
        if person is not None:
            batch.record_activity(person.id, now)
        body = event.body
        if isinstance(body, CommandIn):
            command = self.router.find(body.name)
            if command is not None and command.in_groups:
                lang = person.language if person else self.config.deployment.language
                await command.handler(Context(self, self.db, event, person, self.translator(lang), now, batch=batch))
            return
        if circle_id is None:
            return
        room = RoomEvent(event, person, circle_id, rooms, now)
        for hook in self.hooks.group:
            if await hook(self, room) is False:
                return  # held back (a muted or flooding member, a word-list hit): later hooks skip it

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
        keep_choices: bool = False,
        not_before: datetime | None = None,
        delivery_class: int = outbox.ANSWER,
        numbers: Sequence[int] = (),
    ) -> bool:
        """Queue one message; ``not_before`` holds it until then (a check-in message at night waits for
        the morning) without holding back the chat's other messages. ``numbers``: the numbers the choices
        have in the question they are part of (``Choice.number``), when only some are shown. ``delivery_class``
        (``bot.storage.outbox``): an answer to what someone just did unless the caller says otherwise;
        care and bulk are said where they are decided."""
        message = Outgoing(platform, chat_id, text, tuple(_choices(choices, numbers)), kind=kind)  # type: ignore[arg-type]
        queued = await outbox.add(
            db, platform, "message", chat_id, message.to_json(), now, dedupe_key, not_before,
            delivery_class=delivery_class,
        )
        if kind == "notice" and not keep_choices:
            if choices:
                await conversations.offer_choices(db, platform, chat_id, list(choices))
            else:
                await conversations.forget_choices(db, platform, chat_id)
        return queued

    async def queue_work(
        self, db: Database, platform: str, chat_id: str, name: str, data: dict, now: datetime
    ) -> None:
        """Have ``self.hooks.deferred[name]`` done with ``data`` once this transaction commits, by the delivery
        worker of ``platform`` (``chat_id``: whom it answers, so that forgetting them drops it too).
        The write transaction never waits on the network or on a long computation: polling, delivery
        and the scheduler would all wait with it."""
        if name not in self.hooks.deferred:
            raise ValueError(f"no deferred work called {name!r}")
        await outbox.add(db, platform, "work", chat_id, json.dumps({"work": name, "data": data}), now)

    async def queue_file(self, db: Database, message: Outgoing, now: datetime) -> None:
        """A file answering someone (an .ics, an export, a chart): an answer."""
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
        delivery_class: int = outbox.CARE,
    ) -> bool:
        """Write privately to a person on the first of their platforms that can reach them (held until
        ``not_before`` when given). Care by default (someone told of something that concerns them: a
        check-in, an alert, a decision); ``outbox.ANSWER`` when it answers what someone just did,
        ``outbox.BULK`` for reminders and digests."""
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
                delivery_class=delivery_class,
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
        rooms: list[tuple[str, str]] | None = None,
        delivery_class: int = outbox.BULK,
    ) -> int:
        """Write in every room of a circle (except ``skip_chat``, where the words came from); ``rooms``
        when the caller already has them (a message written in the circle came with its rooms).
        Bulk by default (mirrored words, introductions, a moderator's announcement): a circle's room
        can wait its turn behind a person's answer."""
        if rooms is None:
            rooms = [(room.platform, room.chat_id) for room in await circle_store.rooms(db, circle_id)]
        sent = 0
        for platform, chat_id in rooms:
            if skip_chat == (platform, chat_id):
                continue
            key = f"{dedupe_key}:{platform}" if dedupe_key else None
            sent += await self.queue_message(db, platform, chat_id, text, (), now, key, kind=kind,
                                             delivery_class=delivery_class)
        return sent

    async def queue_invite(self, db: Database, circle_id: int, person_id: int, now: datetime) -> None:
        """Invite a person into their circle's room on each platform they use. Once per membership:
        someone who left and joined the same circle again (/quitter, then /start) is invited again."""
        joined = await db.scalar("SELECT joined_at FROM circle_members WHERE circle_id = ? AND person_id = ?",
                                 (circle_id, person_id))
        await self._queue_room_item(db, "invite", circle_id, person_id, now,
                                    dedupe=f"invite:{circle_id}:{person_id}" + (f":{joined}" if joined else ""))

    async def _queue_room_item(
        self, db: Database, kind: str, circle_id: int, person_id: int, now: datetime, *,
        dedupe: str | None = None, at: datetime | None = None, anonymous: bool = False, **details: object,
    ) -> None:
        """One outbox item per platform account of the person, about their place in a circle's room
        (an invite, a power level, a mute, a removal), carried out by ``bot.core.delivery``.
        ``anonymous``: filed under no private chat (for someone being erased: once carried out, the
        item's content is blanked and nothing left in the outbox points to them). Served as answers: an
        invite completes someone's onboarding, a mute or a removal is a moderation action."""
        for identity in await people.identities(db, person_id):
            chat_id = ERASED_CHAT if anonymous else identity.private_chat_id
            payload = json.dumps(
                {"circle_id": circle_id, "person_id": person_id, "user_id": identity.user_id, **details}
            )
            await outbox.add(
                db, identity.platform, kind, chat_id, payload, now,
                dedupe_key=f"{dedupe}:{identity.platform}" if dedupe else None, not_before=at,
            )

    def wake_outbox(self) -> None:
        """Wake the delivery workers: called after a batch, and by adapters that made items due. A worker
        in the middle of a pass notices (``outbox_wakes``) and chooses again, so an answer queued now
        does not wait for the rest of an announcement's batch."""
        self.outbox_wakes += 1
        for event in self.outbox_ready.values():
            event.set()

    async def queue_room_power(
        self, db: Database, circle_id: int, person_id: int, level: int, now: datetime, at: datetime | None = None
    ) -> None:
        """Give (50) or take back (0) a circle host's or moderator's power in the circle's rooms, on the
        platforms that have such a thing (Matrix power levels); ``at`` for later."""
        await self._queue_room_item(db, "power", circle_id, person_id, now, at=at, level=level)

    async def queue_room_removal(
        self, db: Database, circle_id: int, person_id: int, now: datetime, *, ban: bool = False,
        anonymous: bool = False,
    ) -> None:
        """Take someone who left their circle (or was removed, or banned, or erased) out of its rooms on
        every platform, so the circle's group holds its members and no one else."""
        await self._queue_room_item(db, "remove", circle_id, person_id, now, ban=ban, anonymous=anonymous)

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

    async def run_dispatcher(self, look_every: float = INBOX_LOOK_EVERY) -> None:
        """Handle the inbox until cancelled: at once when this process stored events, and every
        ``look_every`` seconds for events another worker's intake stored (several workers share the
        inbox, and only one of them polls the platform)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._inbox_ready.wait(), timeout=look_every)
            self._inbox_ready.clear()
            try:
                await self.process_pending()
            except Exception:  # a database busy for a moment must not end the dispatcher
                log.exception("the dispatcher could not claim events; trying again")


class Bursts:
    """One reply per burst: what each person last did and when, in this process's memory only (a
    restart forgets it, and then one more reply goes out: harmless, see ``bot.core.workers``)."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._last: dict[int, tuple[object, datetime]] = {}

    def repeated(self, person_id: int, what: object, now: datetime) -> bool:
        """Whether the same ``what`` came from this person less than ``window`` ago; records this one."""
        last = self._last.get(person_id)
        self._last[person_id] = (what, now)
        if len(self._last) > 10_000:  # only recent bursts matter
            self._last = {p: seen for p, seen in self._last.items() if now - seen[1] < self.window}
        return last is not None and last[0] == what and timedelta(0) <= now - last[1] < self.window


def _choices(choices: ChoiceList, numbers: Sequence[int] = ()) -> list[Choice]:
    shown = list(numbers) or [0] * len(choices)
    return [Choice(str(label), payload, number) for (label, payload), number in zip(choices, shown, strict=True)]
