"""A promise kept: nobody waits for a circle in silence.

A first neighbour is told "I invite you as soon as the circle opens, at the latest in 14 days if at
least three of you are there" (``membership.tell_waiting``). When those days pass and the circle still
cannot open, silence would be the worst answer a bot against isolation can give. So the daily pass
(``rooms.merge_pass``, after the circles that could open have opened) tells each neighbour still
waiting, once, how things stand and what they can do:

- join the circle of a nearby neighbourhood that has room (at most ``OFFERED``, nearest first, within
  ``NEARBY_KM``): the button moves them exactly as a change of neighbourhood in /profile does
  (``bot.people.profile.join_nearby``), and their wait ends;
- keep waiting: the next news comes at most every ``NEWS_EVERY`` (counted from their answer), never daily;
- bring neighbours: the link that opens the bot with their neighbourhood chosen, and the poster
  (/affiche) a shop, an association or the social centre can print.

The moderators of the place (the admins when it has none) hear in the same pass, once per place per
``NEWS_EVERY``, how many have waited past the delay, with a button listing them (``mod:wait:<place>``),
so a social centre can act.

Once per period, whatever happens: what was said is recorded (``circle_waits.told_at``,
``circle_wait_notices``) in the same transaction as the messages, and each message's dedupe key is
made of the state it was decided on, so a pass run twice (a restart, a second worker) sends nothing
twice. The pass reads only the waits whose news is due, however many people wait, and tells them in
batches of ``BATCH``, one transaction each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.checkins import QuietHours, care_time
from bot.circles.membership import place_label
from bot.circles.placement import OPEN_AFTER_WAIT, WAIT_DAYS
from bot.core import access, roles, start_codes
from bot.core.clock import from_iso
from bot.core.i18n import Localized, Translator
from bot.core.places import Place
from bot.core.router import Context
from bot.storage import circles as circle_store
from bot.storage import outbox, people
from bot.storage.circles import LongWait
from bot.storage.database import Database

#: A circle is worth offering when its neighbourhood is this close: the distance an older resident
#: still walks, or rides two or three bus stops, to meet their circle (the deployment's quarters are
#: about a kilometre across; the same radius picks a neighbourhood from a shared location). Farther,
#: the neighbours would not meet in person, which is what a circle is for.
NEARBY_KM = 3.0
#: One or two choices: more is a list to read, not an offer.
OFFERED = 2
#: The news comes again at most this often while someone still waits (and the moderators' notice).
NEWS_EVERY = timedelta(days=30)
MAX_LISTED = 40  # lines of a moderator's list
#: Neighbours told per transaction: about 0.7 ms each (bench/bench_waits.py), so a batch holds the
#: database for a fraction of a second however many are due.
BATCH = 200


@dataclass(frozen=True)
class Nearby:
    place: Place
    km: float


async def nearby_with_room(core, db: Database, place_id: str) -> list[Nearby]:
    """The nearest neighbourhoods (at most ``OFFERED``, within ``NEARBY_KM``) with an open circle a
    newcomer would simply join: not empty, under ``target_max`` (so nobody is split or crowded)."""
    around = core.content.places.around(place_id, NEARBY_KM)
    if not around:
        return []
    sizes = await circle_store.open_sizes(db, [p.id for _, p in around])
    cap = core.config.circles.target_max
    room = [Nearby(p, km) for km, p in around if any(0 < s < cap for s in sizes.get(p.id, ()))]
    return room[:OFFERED]


async def nearby_place(core, db: Database, home: str, place_id: str) -> Place | None:
    """The place of a "join the circle of …" button if it is still offered to a neighbour of ``home``
    (close enough, with room now), else None: a button stays in the chat while circles fill up."""
    return next((n.place for n in await nearby_with_room(core, db, home) if n.place.id == place_id), None)


def morning(core, now: datetime) -> datetime | None:
    """The daily pass runs at any hour: news that can wait is held until the check-ins' quiet hours end
    (nobody is woken at night to hear that nothing happened)."""
    settings = core.config.checkins
    return care_time(now, QuietHours.parse(settings.quiet_start, settings.quiet_end), core.config.deployment.zone)


def opens_with(core) -> int:
    """How many it takes, after the wait, to open a circle (``placement.ready_to_open``)."""
    return min(OPEN_AFTER_WAIT, core.config.circles.open_with)


# ---- the daily pass --------------------------------------------------------------------------------

async def tell_long_waits(core, now: datetime) -> tuple[int, int]:
    """Tell the moderators, then the neighbours whose wait outlasted the promise, ``BATCH`` at a time,
    each batch in its own transaction (a write transaction holds the database: the inbox waits on it);
    returns (neighbours told, places whose moderators were told). A crash between batches loses
    nothing: what was told is recorded with its batch, the rest is due at the next pass."""
    db = core.db
    async with db.transaction():
        places = await tell_moderators_due(core, db, now)
    told = BATCH
    total = 0
    while told == BATCH:
        async with db.transaction():
            told = await tell_neighbours_due(core, db, now, BATCH)
        total += told
    return total, places


async def tell_moderators_due(core, db: Database, now: datetime) -> int:
    """Each place with neighbours waiting past the delay whose moderators were not told this period."""
    counts = await circle_store.long_wait_counts(db, now - timedelta(days=WAIT_DAYS))
    await circle_store.drop_wait_notices(db, keep=list(counts))
    notices = await circle_store.wait_notices(db)
    told = 0
    for place_id, (count, oldest) in sorted(counts.items()):
        last = notices.get(place_id)
        if last is None or from_iso(last) <= now - NEWS_EVERY:
            await tell_moderators(core, db, place_id, count, last or oldest, now)
            told += 1
    return told


async def tell_neighbours_due(core, db: Database, now: datetime, limit: int) -> int:
    """Up to ``limit`` neighbours whose news is due (each then recorded as told); returns how many."""
    nearby: dict[str, list[Nearby]] = {}
    waiting: dict[str, int] = {}
    due = await circle_store.long_waits(db, now - timedelta(days=WAIT_DAYS), now - NEWS_EVERY, limit)
    for wait in due:
        if wait.place_id not in nearby:
            nearby[wait.place_id] = await nearby_with_room(core, db, wait.place_id)
            waiting[wait.place_id] = await circle_store.waiting_count(db, wait.place_id)
        await tell_news(core, db, wait, waiting[wait.place_id], nearby[wait.place_id], now)
    return len(due)


async def tell_news(core, db: Database, wait: LongWait, waiting: int, nearby: list[Nearby], now: datetime) -> bool:
    """One neighbour's news, with the nearby circles, "keep waiting", and how to bring neighbours."""
    place = place_label(core, wait.place_id)
    links = start_codes.join_links(core, wait.place_id)
    days = (now - from_iso(wait.since)).days
    minimum = opens_with(core)

    def text(t: Translator) -> Localized:
        parts = [t.plural("circle-wait-news", waiting, place=place, days=days, minimum=minimum)]
        if nearby:
            parts.append(t.plural("circle-wait-news-nearby", len(nearby), place=place))
        parts.append(t("circle-wait-news-keep-also" if nearby else "circle-wait-news-keep", days=NEWS_EVERY.days))
        bring = [t("circle-wait-news-bring", place=place)]
        if links and links.telegram:
            bring.append(t("circle-wait-news-link", link=links.telegram))
        elif links and links.matrix_user:
            bring.append(t("circle-wait-news-code", user=links.matrix_user, code=links.code))
        bring.append(t("circle-wait-news-poster"))
        return Localized.join([*parts, Localized.join(bring, " ")], "\n\n")

    def buttons(t: Translator) -> list[tuple[str, str]]:
        joins = [(t("button-wait-join", place=n.place.name, km=t.tenths(n.km)), f"waitnear:{n.place.id}")
                 for n in nearby]
        return [*joins, (t("button-wait-keep"), "waitkeep")]

    await circle_store.set_wait_told(db, wait.person_id, now)
    return await core.tell(db, wait.person_id, text, buttons, now,
                           dedupe_key=f"waitnews:{wait.person_id}:{wait.told_at or wait.since}",
                           not_before=morning(core, now), delivery_class=outbox.CARE)


async def tell_moderators(core, db: Database, place_id: str, count: int, previous: str, now: datetime) -> None:
    """The place's moderators (else the admins): how many wait past the delay, and a button to see who.
    ``previous`` (the last notice, or the longest wait's start) names the message: once per period."""
    told = await roles.moderators_of(db, place_id) or await roles.admin_ids(db, core.config.deployment.admins)
    place = place_label(core, place_id)
    minimum = opens_with(core)
    for moderator_id in told:
        await core.tell(
            db, moderator_id,
            lambda t: t.plural("circle-wait-moderators", count, place=place, days=WAIT_DAYS, minimum=minimum),
            lambda t: [(t("button-wait-see"), f"mod:wait:{place_id}")],
            now, dedupe_key=f"waitmods:{place_id}:{previous}:{moderator_id}", not_before=morning(core, now),
            delivery_class=outbox.CARE,
        )
    await circle_store.set_wait_notice(db, place_id, now)


# ---- buttons ---------------------------------------------------------------------------------------

async def keep_waiting(ctx: Context) -> None:
    """"waitkeep": the neighbour keeps their place in the wait; the next news in ``NEWS_EVERY``."""
    wait = await circle_store.wait_of(ctx.db, ctx.person.id)
    if wait is None:
        await ctx.reply(ctx.t("circle-wait-over"))
        return
    await circle_store.set_wait_told(ctx.db, ctx.person.id, ctx.now)
    await ctx.reply(ctx.t("circle-wait-kept", place=place_label(ctx.core, wait.place_id), days=NEWS_EVERY.days))


async def show_waiting(ctx: Context, parts: list[str]) -> None:
    """"mod:wait:<place>": who waits for a circle there, and since when (moderators of the place, admins)."""
    place_id = ":".join(parts[2:])
    if len(parts) < 3 or ctx.core.content.places.get(place_id) is None:
        await ctx.reply(ctx.t("choice-expired"))
        return
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False or not await access.require_place(ctx, place_ids, place_id):  # type: ignore[arg-type]
        return
    waits = await circle_store.waiting_since(ctx.db, place_id)
    place = place_label(ctx.core, place_id)
    if not waits:
        await ctx.reply(ctx.t("circle-wait-list-none", place=place))
        return
    lines = [ctx.t.plural("circle-wait-list-header", len(waits), place=place)]
    for wait in waits[:MAX_LISTED]:
        lines.append(await _wait_line(ctx, wait))
    if len(waits) > MAX_LISTED:
        lines.append(ctx.t("mod-more", n=len(waits) - MAX_LISTED))
    await ctx.reply(Localized.join(lines))


async def _wait_line(ctx: Context, wait: LongWait) -> Localized:
    person = await people.get(ctx.db, wait.person_id)
    since = from_iso(wait.since)
    return ctx.t.plural("circle-wait-list-line", (ctx.now - since).days, name=(person.first_name if person else "")
                        or "?", id=wait.person_id, since=ctx.t.short_date(since))


async def export_wait(db: Database, person_id: int) -> dict:
    """/mydata: the wait for a circle, when there is one."""
    row = await db.fetchone("SELECT place_id, since, told_at FROM circle_waits WHERE person_id = ?", (person_id,))
    return {"circle_wait": dict(row)} if row else {}
