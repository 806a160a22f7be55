"""Announcements, RSVPs and reminders: an approved event reaches the neighbours it is for, once.

An event is announced to the members of every circle of its neighbourhoods (narrowed to those who share
one of its interests, when it has some; members who picked no interest hear of everything), each in
their own language, with three buttons: I'm going / maybe / add to my calendar (.ics). The whole
fan-out is written to the outbox in the transaction that published the event, with one dedupe key per
(event, person, platform), so it happens once per target whatever crashes in between.

Members who chose the weekly digest (/digest) get one message a week listing what is on instead.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.activities.calendar_files import to_ics
from bot.core import roles
from bot.core.chat import Attachment, Choice, Outgoing
from bot.core.i18n import Localized, Translator
from bot.core.router import Command, Context
from bot.core.scheduler import Job, every
from bot.storage import conversations, events, feeds, organizers, outbox, rsvps
from bot.storage.database import Database
from bot.storage.events import Event

ANSWERS = ("yes", "maybe", "no")


# ---- how an event reads -----------------------------------------------------------------------

def when_text(core, t: Translator, moment: datetime) -> str:
    return t.datetime(moment.astimezone(core.config.deployment.zone))


async def card(core, db: Database, t: Translator, event: Event) -> Localized:
    """Title, when, where, who, what — every value typed by an organizer is escaped by ``t``."""
    organizer = await organizers.get(db, event.organizer_id)
    lines = [t("event-card", title=event.title, when=when_text(core, t, event.starts_at),
               where=event.location or t("profile-none"), organizer=organizer.name if organizer else "")]
    if event.description:
        lines.append(t("event-card-description", description=event.description))
    counts = await rsvps.counts(db, event.id)
    if event.capacity:
        left = max(0, event.capacity - counts["going"])
        lines.append(t.plural("event-card-places-left", left, capacity=event.capacity))
    if counts["going"]:
        lines.append(t.plural("event-card-going", counts["going"]))
    return Localized.join(lines)


def rsvp_buttons(t: Translator, event_id: int, status: str | None = None) -> list[tuple[str, str]]:
    if status in ("going", "waiting"):
        return [(t("event-button-not-going"), f"rsvp:{event_id}:no"), (t("event-button-ics"), f"rsvp:{event_id}:ics")]
    return [(t("event-button-going"), f"rsvp:{event_id}:yes"), (t("event-button-maybe"), f"rsvp:{event_id}:maybe"),
            (t("event-button-ics"), f"rsvp:{event_id}:ics")]


# ---- the fan-out --------------------------------------------------------------------------------

async def recipients(db: Database, event: Event, organizer_person: int | None) -> list[tuple[int, str, str, str]]:
    """(person, language, platform, private chat) of every member to tell: one reachable identity each,
    circle members of the event's neighbourhoods, sharing an interest if it has any, not on the digest."""
    if not event.places:
        return []
    marks = ", ".join("?" for _ in event.places)
    rows = await db.fetchall(
        "SELECT p.id, p.language, p.interests, i.platform, i.private_chat_id FROM circle_members m "
        "JOIN circles c ON c.id = m.circle_id JOIN people p ON p.id = m.person_id "
        "JOIN identities i ON i.person_id = p.id "
        f"WHERE c.place_id IN ({marks}) AND i.unreachable_at IS NULL "
        "AND p.id NOT IN (SELECT person_id FROM digest_members) ORDER BY p.id, i.platform",
        tuple(event.places),
    )
    wanted = set(event.interests)
    found: dict[int, tuple[int, str, str, str]] = {}
    for person_id, language, interests, platform, chat_id in rows:
        if person_id in found or person_id == organizer_person:
            continue
        theirs = set(interests.split())
        if wanted and theirs and not wanted & theirs:
            continue
        found[person_id] = (person_id, language, platform, chat_id)
    return list(found.values())


async def announce(core, db: Database, event: Event, now: datetime) -> int:
    """Queue the announcement to every recipient, inside the caller's transaction; at most once per
    event (``announced_at``) and per target (dedupe key). Returns how many were queued."""
    if not await events.mark(db, event.id, "announced_at", now):
        return 0
    organizer = await organizers.get(db, event.organizer_id)
    targets = await recipients(db, event, organizer.person_id if organizer else None)
    by_lang: dict[str, tuple[Localized, tuple[Choice, ...]]] = {}
    rows = []
    for person_id, language, platform, chat_id in targets:
        if language not in by_lang:
            t = core.translator(language)
            text = t("event-announce") + Localized("\n") + await card(core, db, t, event)
            by_lang[language] = (text, tuple(Choice(str(label), p) for label, p in rsvp_buttons(t, event.id)))
        text, choices = by_lang[language]
        payload = Outgoing(platform, chat_id, text, choices).to_json()
        rows.append((platform, "message", chat_id, payload, f"announce:{event.id}:{person_id}:{platform}"))
        if not _has_buttons(core, platform):  # numbered answers ("1") must mean these buttons
            await conversations.offer_choices(db, platform, chat_id, [(c.label, c.payload) for c in choices])
    await outbox.add_many(db, rows, now, outbox.BULK)
    return len(rows)


def _has_buttons(core, platform: str) -> bool:
    transport = core.transports.get(platform)
    return bool(transport and transport.capabilities.buttons)


async def publish(core, db: Database, event_id: int, now: datetime) -> int:
    """Make an event public and announce it, in one transaction (the caller's)."""
    await events.set_status(db, event_id, "published", now)
    event = await events.get(db, event_id)
    assert event is not None
    return await announce(core, db, event, now)


async def tell_attendees(core, db: Database, event: Event, key: str, now: datetime, statuses=("going", "maybe",
                                                                                                 "waiting")) -> int:
    """Cancelled or changed: everyone who answered is told, once per (event, change, person)."""
    told = 0
    for person_id in await rsvps.people_with(db, event.id, statuses):
        def text(t: Translator, person_key: str = key) -> Localized:
            return t(person_key, title=event.title, when=when_text(core, t, event.starts_at),
                     where=event.location or t("profile-none"))
        told += await core.tell(db, person_id, text, None, now,
                                dedupe_key=f"{key}:{event.id}:{event.sequence}:{person_id}",
                                delivery_class=outbox.BULK)
    return told


# ---- answering ----------------------------------------------------------------------------------

async def rsvp(ctx: Context) -> None:
    """rsvp:<event>:yes|maybe|no|ics|show — the buttons under an announcement, valid at any time."""
    _, event_id, what = [*ctx.payload.split(":"), "", ""][:3]
    event = await events.get(ctx.db, int(event_id)) if event_id.isdigit() else None
    if event is None or event.status != "published":
        await ctx.reply(ctx.t("event-not-available"))
        return
    if what == "ics":
        await send_ics(ctx, event)
    elif what == "show":
        status = await rsvps.status_of(ctx.db, event.id, ctx.person.id)
        await ctx.reply(await card(ctx.core, ctx.db, ctx.t, event), rsvp_buttons(ctx.t, event.id, status))
    elif event.starts_at <= ctx.now:
        await ctx.reply(ctx.t("event-already-started", title=event.title))
    elif what in ANSWERS:
        await answer(ctx, event, what)
    else:
        await ctx.reply(ctx.t("choice-expired"))


async def answer(ctx: Context, event: Event, what: str) -> None:
    before = await rsvps.status_of(ctx.db, event.id, ctx.person.id)
    if what == "yes" and before in ("going", "waiting"):
        await ctx.reply(ctx.t(f"event-already-{before}", title=event.title), rsvp_buttons(ctx.t, event.id, before))
        return
    if what == "yes":
        counts = await rsvps.counts(ctx.db, event.id)
        full = event.capacity is not None and counts["going"] >= event.capacity
        status = "waiting" if full else "going"
        await rsvps.put(ctx.db, event.id, ctx.person.id, status, ctx.now)
        key = "event-waiting" if full else "event-going"
        place = counts["waiting"] + 1
        await ctx.reply(ctx.t(key, title=event.title, position=place), rsvp_buttons(ctx.t, event.id, status))
    elif what == "maybe":
        await rsvps.put(ctx.db, event.id, ctx.person.id, "maybe", ctx.now)
        await ctx.reply(ctx.t("event-maybe", title=event.title), rsvp_buttons(ctx.t, event.id, "maybe"))
    else:
        await rsvps.remove(ctx.db, event.id, ctx.person.id)
        await ctx.reply(ctx.t("event-not-going", title=event.title), rsvp_buttons(ctx.t, event.id, None))
    if before == "going" and what != "yes":
        await fill_places(ctx.core, ctx.db, event, ctx.now)


async def fill_places(core, db: Database, event: Event, now: datetime) -> int:
    """Give freed places to the first waiting, in order, and tell each of them."""
    promoted = 0
    while True:
        counts = await rsvps.counts(db, event.id)
        if event.capacity is not None and counts["going"] >= event.capacity:
            return promoted
        person_id = await rsvps.first_waiting(db, event.id)
        if person_id is None:
            return promoted
        await rsvps.put(db, event.id, person_id, "going", now)
        await core.tell(db, person_id, lambda t: t("event-place-freed", title=event.title,
                                                   when=when_text(core, t, event.starts_at)),
                        lambda t: rsvp_buttons(t, event.id, "going"), now)
        promoted += 1


async def send_ics(ctx: Context, event: Event) -> None:
    data = to_ics([event], _domain(ctx.core), ctx.core.config.deployment.zone, ctx.now)
    name = re.sub(r"[^a-z0-9]+", "-", event.title.lower()).strip("-")[:40] or "event"
    message = Outgoing(ctx.address.platform, ctx.address.chat_id, ctx.t("event-ics-caption", title=event.title),
                       attachment=Attachment(f"{name}.ics", "text/calendar", data))
    await ctx.core.queue_file(ctx.db, message, ctx.now)


def _domain(core) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", core.config.deployment.name.lower()) or "voisinage"


# ---- /agenda, /digest, /outbox -------------------------------------------------------------------

async def agenda(ctx: Context) -> None:
    """What is on in my neighbourhood in the coming days, with a button to open each."""
    days = ctx.core.config.activities.agenda_days
    found = await events.published_in(ctx.db, [ctx.person.place_id] if ctx.person.place_id else [], ctx.now,
                                      ctx.now + timedelta(days=days))
    if not found:
        await ctx.reply(ctx.t("agenda-empty", days=days))
        return
    lines = [ctx.t("agenda-header", days=days)]
    lines += [ctx.t("agenda-line", when=when_text(ctx.core, ctx.t, e.starts_at), title=e.title,
                    where=e.location or ctx.t("profile-none")) for e in found[:20]]
    buttons = [(e.title[:30], f"rsvp:{e.id}:show") for e in found[:8]]
    await ctx.reply(Localized.join(lines), buttons)


async def digest_command(ctx: Context) -> None:
    on = await feeds.wants_digest(ctx.db, ctx.person.id)
    await ctx.reply(ctx.t("digest-now-weekly" if on else "digest-now-each"),
                    [(ctx.t("digest-button-weekly"), "digest:on"), (ctx.t("digest-button-each"), "digest:off")])


async def digest_choice(ctx: Context) -> None:
    on = ctx.payload == "digest:on"
    if ctx.payload not in ("digest:on", "digest:off"):
        await ctx.reply(ctx.t("choice-expired"))
        return
    await feeds.set_digest(ctx.db, ctx.person.id, on, ctx.now)
    await ctx.reply(ctx.t("digest-set-weekly" if on else "digest-set-each"))


async def outbox_command(ctx: Context) -> None:
    """Moderators see whether messages get through: waiting, sent, failed."""
    if not await roles.is_moderator(ctx.db, ctx.core.config.deployment.admins, ctx.person.id, None):
        await ctx.reply(ctx.t("outbox-moderators-only"))
        return
    counts = await outbox.counts(ctx.db)
    pending = counts.get("pending", 0) + counts.get("sending", 0)
    maybe = int(await ctx.db.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'failed' "
                                    "AND error LIKE 'interrupted%'") or 0)
    await ctx.reply(ctx.t("outbox-counts", pending=pending, sent=counts.get("sent", 0),
                          failed=counts.get("failed", 0), uncertain=maybe))


# ---- periodic passes -----------------------------------------------------------------------------

async def reminder_pass(core, now: datetime) -> int:
    """Those going are reminded once, the day before (``reminder_hours`` ahead)."""
    told = 0
    hours = core.config.activities.reminder_hours
    async with core.db.transaction():
        for event_id in await events.to_remind(core.db, now, now + timedelta(hours=hours)):
            if not await events.mark(core.db, event_id, "reminded_at", now):
                continue
            event = await events.get(core.db, event_id)
            for person_id in await rsvps.people_with(core.db, event_id, ("going",)):
                def text(t: Translator, e: Event = event) -> Localized:
                    return t("event-reminder", title=e.title, when=when_text(core, t, e.starts_at),
                             where=e.location or t("profile-none"))
                told += await core.tell(core.db, person_id, text, lambda t, e=event: rsvp_buttons(t, e.id, "going"),
                                        now, dedupe_key=f"remind:{event_id}:{person_id}",
                                        delivery_class=outbox.BULK)
    return told


def weekly_at(weekday: int, hhmm: str, zone: ZoneInfo):
    """Due once a week, at a local day and time; a first run only within a day of that moment."""
    hour, minute = (int(x) for x in hhmm.split(":"))

    def is_due(last: datetime | None, now: datetime) -> bool:
        local = now.astimezone(zone)
        day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
        latest = datetime.combine(day, time(hour, minute), zone)
        if latest > local:
            latest -= timedelta(days=7)
        return latest > last if last is not None else local - latest < timedelta(days=1)

    return is_due


async def digest_pass(core, now: datetime) -> int:
    """One message a week to each digest member with what is on in their neighbourhood that week."""
    sent = 0
    week = now.astimezone(core.config.deployment.zone).isocalendar()
    async with core.db.transaction():
        rows = await core.db.fetchall(
            "SELECT p.id, p.place_id, p.interests FROM digest_members d JOIN people p ON p.id = d.person_id "
            "WHERE p.place_id IS NOT NULL")
        for person_id, place_id, interests in rows:
            found = await events.published_in(core.db, [place_id], now, now + timedelta(days=7))
            mine = set(interests.split())
            found = [e for e in found if not e.interests or not mine or mine & set(e.interests)]
            if not found:
                continue
            sent += await core.tell(core.db, person_id, lambda t, f=found: _digest_text(core, t, f),
                                    lambda t, f=found: [(e.title[:30], f"rsvp:{e.id}:show")
                                                        for e in f[:8]],
                                    now, dedupe_key=f"digest:{person_id}:{week.year}-{week.week}",
                                    delivery_class=outbox.BULK)
        sent += await helpers_digest(core, now, f"{week.year}-{week.week}")
    return sent


async def helpers_digest(core, now: datetime, week: str) -> int:
    """A helper (/aidant) receives, with the weekly digest, what is on that week near each neighbour they
    registered: the neighbour has no phone, the helper is how the invitation reaches them."""
    rows = await core.db.fetchall(
        "SELECT h.helper_id, p.first_name, p.place_id FROM checkin_helpers h JOIN people p ON p.id = h.person_id "
        "WHERE p.place_id IS NOT NULL ORDER BY h.helper_id, p.first_name, p.id")
    near: dict[int, list[tuple[str, list[Event]]]] = {}
    for helper_id, name, place_id in rows:
        found = await events.published_in(core.db, [place_id], now, now + timedelta(days=7))
        if found:
            near.setdefault(helper_id, []).append((name, found))
    sent = 0
    for helper_id, lists in near.items():
        sent += await core.tell(core.db, helper_id, lambda t, x=lists: _helper_digest_text(core, t, x), None, now,
                                dedupe_key=f"digest-helper:{helper_id}:{week}", delivery_class=outbox.BULK)
    return sent


def _helper_digest_text(core, t: Translator, lists: list[tuple[str, list[Event]]]) -> Localized:
    lines = []
    for name, found in lists:
        lines.append(t("digest-helper-header", name=name))
        lines += [t("agenda-line", when=when_text(core, t, e.starts_at), title=e.title,
                    where=e.location or t("profile-none")) for e in found[:10]]
    lines.append(t("digest-helper-footer"))
    return Localized.join(lines)


def _digest_text(core, t: Translator, found: list[Event]) -> Localized:
    lines = [t("digest-header")]
    lines += [t("agenda-line", when=when_text(core, t, e.starts_at), title=e.title,
                where=e.location or t("profile-none")) for e in found[:20]]
    return Localized.join(lines)


def install(core) -> None:
    activities = core.config.activities
    core.router.action("rsvp", rsvp)
    core.router.action("digest", digest_choice)
    core.router.command(Command("agenda", agenda, aliases=("programme",), help_key="help-agenda",
                                french_name="agenda"))
    core.router.command(Command("digest", digest_command, aliases=("resume", "hebdo"), help_key="help-digest",
                                french_name="hebdo"))
    core.router.command(Command("outbox", outbox_command, aliases=("envois",), french_name="envois",
                                staff=True))
    core.scheduler.add(Job("event-reminders", every(timedelta(minutes=15)), reminder_pass))
    core.scheduler.add(Job("event-digest", weekly_at(activities.digest_weekday, activities.digest_time,
                                                     core.config.deployment.zone), digest_pass))
