"""/stats: how a neighbourhood is doing over the last 12 weeks, as a few lines and a PNG chart.

Check-ins and activities are separate features: their tables are read only when they exist (and
only the columns asked for), so /stats shows 0 rather than failing on a deployment without them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from babel.dates import format_date

from bot.core import access
from bot.core.chat import Attachment, Outgoing
from bot.core.clock import to_iso
from bot.core.i18n import Localized
from bot.moderation import charts
from bot.moderation.commands import register
from bot.storage import activity, posters
from bot.storage.database import Database

WEEKS = 12


@dataclass(frozen=True)
class Series:
    """A count per week of rows of ``table`` whose ``column`` falls in the week."""

    key: str
    table: str
    column: str
    scope: str  # person | event | rsvp: how a row belongs to a neighbourhood
    where: str = ""  # extra fixed condition (no input ever goes here)


SERIES = (
    Series("checkins_asked", "checkins", "asked_at", "person"),
    Series("checkins_answered", "checkins", "answered_at", "person"),
    Series("checkins_escalated", "checkins", "escalated_at", "person"),
    Series("events", "events", "starts_at", "event", "status = 'published'"),
    Series("rsvps", "rsvps", "answered_at", "rsvp"),
)
_SCOPE_NEEDS = {
    "person": ("person_id", "people"), "event": ("id", "event_places"), "rsvp": ("event_id", "event_places"),
}


def week_starts(now: datetime, weeks: int = WEEKS) -> list[date]:
    """The Mondays of the last ``weeks`` weeks, oldest first, the current week last."""
    this = activity.week_of(now)
    return [this - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _bounds(start: date) -> tuple[str, str]:
    begin = datetime.combine(start, time(0), UTC)
    return to_iso(begin), to_iso(begin + timedelta(days=7))


def _in_places(column: str, place_ids: list[str] | None) -> tuple[str, tuple[str, ...]]:
    if place_ids is None:
        return "1 = 1", ()
    return f"{column} IN ({','.join('?' * len(place_ids))})", tuple(place_ids)


async def _columns(db: Database, table: str) -> set[str]:
    return await db.columns(table)


async def _series(db: Database, spec: Series, weeks: list[date], place_ids: list[str] | None,
                  tables: set[str]) -> list[int]:
    link_column, link_table = _SCOPE_NEEDS[spec.scope]
    if spec.table not in tables or link_table not in tables:
        return [0] * len(weeks)
    columns = await _columns(db, spec.table)
    if spec.column not in columns or link_column not in columns or (spec.where and "status" not in columns):
        return [0] * len(weeks)
    places, params = _in_places("place_id", place_ids)
    if spec.scope == "person":
        scope = f"person_id IN (SELECT id FROM people WHERE {places})"
    else:
        scope = f"{link_column} IN (SELECT event_id FROM event_places WHERE {places})"
    extra = f" AND {spec.where}" if spec.where else ""
    sql = f"SELECT COUNT(*) FROM {spec.table} WHERE {spec.column} >= ? AND {spec.column} < ? AND {scope}{extra}"
    counts = []
    for start in weeks:
        counts.append(int(await db.scalar(sql, (*_bounds(start), *params))))
    return counts


async def _members(db: Database, weeks: list[date], place_ids: list[str] | None) -> list[int]:
    places, params = _in_places("place_id", place_ids)
    sql = f"SELECT COUNT(*) FROM people WHERE onboarded_at IS NOT NULL AND onboarded_at < ? AND {places}"
    return [int(await db.scalar(sql, (_bounds(w)[1], *params))) for w in weeks]


async def _active(db: Database, weeks: list[date], place_ids: list[str] | None) -> list[int]:
    """Spoke in their circle that week, or (for recent weeks) did anything at all that week."""
    places, params = _in_places("place_id", place_ids)
    sql = (
        f"SELECT COUNT(*) FROM (SELECT person_id FROM weekly_active WHERE week = ? AND {places} "
        f"UNION SELECT id FROM people WHERE onboarded_at IS NOT NULL AND last_active_at >= ? "
        f"AND last_active_at < ? AND {places})"
    )
    return [int(await db.scalar(sql, (w.isoformat(), *params, *_bounds(w), *params))) for w in weeks]


async def gather(db: Database, now: datetime, place_ids: list[str] | None) -> tuple[list[date], dict[str, list[int]]]:
    weeks = week_starts(now)
    tables = set(await db.tables())
    data = {"members": await _members(db, weeks, place_ids), "active": await _active(db, weeks, place_ids),
            "helped": [await helped_count(db, place_ids)]}
    for spec in SERIES:
        data[spec.key] = await _series(db, spec, weeks, place_ids, tables)
    return weeks, data


async def helped_count(db: Database, place_ids: list[str] | None) -> int:
    """Neighbours without a phone registered by a helper (/aidant): members too, though in no circle."""
    places, params = _in_places("p.place_id", place_ids)
    return int(await db.scalar(
        f"SELECT COUNT(*) FROM checkin_helpers h JOIN people p ON p.id = h.person_id WHERE {places}", params))


async def circle_count(db: Database, place_ids: list[str] | None) -> int:
    places, params = _in_places("place_id", place_ids)
    return int(await db.scalar(f"SELECT COUNT(*) FROM circles WHERE status = 'open' AND {places}", params))


def chart(t, weeks: list[date], data: dict[str, list[int]], where: str) -> bytes:
    labels = [format_date(w, "d MMM", locale=t.lang) for w in weeks]
    top = {str(t("stats-members")): data["members"], str(t("stats-active")): data["active"]}
    bottom = {str(t(f"stats-{key}")): data[key] for key in ("checkins_asked", "checkins_answered",
                                                            "checkins_escalated", "events", "rsvps")}
    return charts.weekly_chart(labels, top, bottom, str(t("stats-chart-title", place=where)),
                               (str(t("stats-chart-people")), str(t("stats-chart-activity"))))


def summary(t, data: dict[str, list[int]], circles: int, where: str) -> Localized:
    total = {key: sum(values) for key, values in data.items()}
    return Localized.join([
        t("stats-header", place=where, weeks=WEEKS),
        t.plural("stats-line-members", circles, members=data["members"][-1]),
        *([t.plural("stats-line-helped", data["helped"][-1])] if data.get("helped", [0])[-1] else []),
        t("stats-line-active", now=data["active"][-1], before=data["active"][-2]),
        t("stats-line-checkins", asked=total["checkins_asked"], answered=total["checkins_answered"],
          escalated=total["checkins_escalated"]),
        t("stats-line-events", events=total["events"], rsvps=total["rsvps"]),
    ])


async def poster_lines(ctx, place_ids: list[str] | None) -> Localized | None:
    """How many neighbours joined through each poster of these neighbourhoods: counts per source, never who."""
    found = await posters.in_places(ctx.db, place_ids)
    if not found:
        return None
    lines = [ctx.t("stats-posters-header")]
    lines += [ctx.t("stats-posters-line", name=p.label or ctx.t("stats-poster-unnamed"),
                    place=access.place_name(ctx, p.place_id), joins=p.joins) for p in found]
    return Localized.join(lines)


def rate_limits(t, counters) -> Localized:
    """For admins: how often each platform refused the bot for its rate limit since the start (a bot
    on a homeserver that limits it answers slowly; the fix is the admin's exemption, see the README)."""
    seen = {labels.get("platform", "?"): value for labels, value in counters.named("rate_limited")}
    if not any(seen.values()):
        return t("stats-line-rate-limits-none")
    return t("stats-line-rate-limits", counts=", ".join(f"{p} {n}" for p, n in sorted(seen.items()) if n))


async def stats_cmd(ctx) -> None:
    """/stats [neighbourhood]: for moderators, of their neighbourhoods (admins: everywhere).

    The figures are read in the handler's transaction; the chart is drawn after it commits
    (``draw_chart``, deferred work): drawing takes a good part of a second of CPU, and the write
    transaction would hold polling, delivery and the scheduler for that long."""
    place_ids = await access.places_asked(ctx)
    if place_ids is False:
        return
    where = ", ".join(access.place_name(ctx, p) for p in place_ids) if place_ids else str(ctx.t("stats-everywhere"))
    weeks, data = await gather(ctx.db, ctx.now, place_ids)
    text = summary(ctx.t, data, await circle_count(ctx.db, place_ids), where[:200])
    if await access.is_admin(ctx):
        text = Localized.join([text, rate_limits(ctx.t, ctx.core.counters)])
    await ctx.reply(text)
    sources = await poster_lines(ctx, place_ids)
    if sources is not None:
        await ctx.reply(sources)
    await ctx.core.queue_work(ctx.db, ctx.address.platform, ctx.address.chat_id, CHART_WORK, {
        "platform": ctx.address.platform, "chat_id": ctx.address.chat_id, "lang": ctx.t.lang,
        "weeks": [w.isoformat() for w in weeks], "data": data, "where": where[:80],
    }, ctx.now)


CHART_WORK = "stats-chart"


async def draw_chart(core, order: dict):
    """Deferred work: the PNG is drawn in a thread, outside any transaction; the step returned queues it."""
    t = core.translator(order["lang"])
    weeks = [date.fromisoformat(w) for w in order["weeks"]]
    png = await asyncio.to_thread(chart, t, weeks, order["data"], order["where"])

    async def queue(db: Database) -> None:
        message = Outgoing(order["platform"], order["chat_id"], t("stats-chart-caption"),
                           attachment=Attachment(f"stats-{weeks[-1].isoformat()}.png", "image/png", png))
        await core.queue_file(db, message, core.clock.now())

    return queue


def install(core) -> None:
    register(core, "stats", stats_cmd, ("statistiques",), "stats", "modhelp-stats")
    core.hooks.deferred[CHART_WORK] = draw_chart
