"""Importing an organizer's existing calendar (.ics file or feed URL), so no event is typed twice.

/import <url> registers a feed and asks for an import; an .ics file sent in the private chat is a
one-off feed (``file:<platform>:<ref>``, read through the adapter and forgotten once imported). The
import itself runs in a background pass
(never inside the handling of a message: a download can take seconds), in steps of ``import_chunk``
events, each step its own transaction followed by a progress message for long files. Registered
feeds are re-imported every ``feed_refresh_hours``.

Deduplication is by (organizer, UID): a second import of the same file changes nothing; an event whose
title, time, place or description changed is updated in place (and those who answered are told of a
new time or place). Imported events follow the organizer's rights: published at once for trusted
organizers, queued for the moderators otherwise, and the weekly cap applies. Past events are skipped;
a recurring event is imported as its first occurrence only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.activities import announcements, dates
from bot.activities import wizard as activities
from bot.activities.calendar_files import CalendarEvent, FetchError, fetch, parse_ics
from bot.core.chat import FileIn, FileTooBig
from bot.core.router import Command, Context
from bot.core.scheduler import Job, every
from bot.storage import events, feeds, organizers
from bot.storage.events import Draft
from bot.storage.organizers import Organizer

MAX_URL = 500


@dataclass
class ImportResult:
    total: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # past, without a title, or over the weekly cap
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"total={self.total} added={self.added} updated={self.updated} unchanged={self.unchanged} " \
               f"skipped={self.skipped}"


def _draft(core, organizer: Organizer, item: CalendarEvent) -> Draft:
    """What organizers type is limited; what a calendar says is cut to the same limits, not refused."""
    limits = core.config.activities
    interests, _ = core.content.interests.match_words(", ".join(item.categories)) if item.categories else ([], [])
    return Draft(title=item.title[:limits.max_title], starts_at=item.starts_at,
                 location=item.location[:limits.max_location], description=item.description[:limits.max_description],
                 places=organizer.places,
                 interests=tuple(interests), ends_at=item.ends_at)


def _changes(event: events.Event, draft: Draft) -> dict[str, object]:
    changes: dict[str, object] = {}
    for name in ("title", "starts_at", "ends_at", "location", "description"):
        if getattr(event, name) != getattr(draft, name):
            changes[name] = getattr(draft, name)
    return changes


async def _one(core, organizer: Organizer, item: CalendarEvent, now: datetime, result: ImportResult) -> None:
    db = core.db
    if not item.title or item.starts_at <= now:
        result.skipped += 1
        return
    draft = _draft(core, organizer, item)
    existing = await events.by_uid(db, organizer.id, item.uid)
    if existing is not None:
        changes = _changes(existing, draft)
        if not changes:
            result.unchanged += 1
            return
        await events.update(db, existing.id, now, **changes)
        result.updated += 1
        updated = await events.get(db, existing.id)
        if updated and updated.status == "published" and {"starts_at", "location"} & set(changes):
            await announcements.tell_attendees(core, db, updated, "event-changed-notice", now)
        return
    start, end = dates.week_bounds(draft.starts_at, core.config.deployment.zone)
    if await events.count_between(db, organizer.id, start, end) >= core.config.activities.weekly_cap:
        result.skipped += 1
        return
    event_id = await events.create(db, organizer.id, draft, "pending", now, uid=item.uid, source="import")
    result.added += 1
    if organizer.trusted:
        await announcements.publish(core, db, event_id, now)
    else:
        event = await events.get(db, event_id)
        assert event is not None
        await activities.queue_for_moderators(core, db, event, organizer, now)


async def import_calendar(core, organizer: Organizer, data: bytes, now: datetime, *, progress_key: str = "",
                          tell_progress: bool = True) -> ImportResult:
    """Store the events of one calendar file, step by step; raises ``FetchError('not_ics')``."""
    items = parse_ics(data, core.config.deployment.zone)
    result = ImportResult(total=len(items))
    chunk = core.config.activities.import_chunk
    for start in range(0, len(items), chunk):
        async with core.db.transaction():
            for item in items[start:start + chunk]:
                await _one(core, organizer, item, now, result)
            done = min(start + chunk, len(items))
            if tell_progress and len(items) > chunk and done < len(items):
                await core.tell(core.db, organizer.person_id,
                                lambda t, d=done: t("import-progress", done=d, total=len(items)), None, now,
                                dedupe_key=f"import-progress:{progress_key or organizer.id}:{now.isoformat()}:{done}")
    return result


async def import_pass(core, now: datetime) -> int:
    """Run requested imports and refresh registered feeds; returns how many feeds were read."""
    refresh = now - timedelta(hours=core.config.activities.feed_refresh_hours)
    async with core.db.transaction():
        due = await feeds.due(core.db, refresh)
    for feed in due:
        await _run_feed(core, feed, now)
    return len(due)


SENT_FILE = "file:"


def sent_file_url(platform: str, ref: str) -> str:
    return f"{SENT_FILE}{platform}:{ref}"


async def _read(core, url: str) -> bytes:
    """A feed's calendar: downloaded from its URL, or asked of the adapter for a file sent in the chat."""
    limits = core.config.activities
    if not url.startswith(SENT_FILE):
        return await fetch(url, limits.import_max_bytes, limits.import_allow_private)
    platform, _, ref = url[len(SENT_FILE):].partition(":")
    transport = core.transports.get(platform)
    if transport is None:
        raise FetchError("network", f"{platform} is not running")
    try:
        return await transport.fetch_file(ref, limits.import_max_bytes)
    except FileTooBig:
        raise FetchError("too_big") from None
    except Exception as exc:  # the platform's own errors: the organizer is told it could not be read
        raise FetchError("network", f"{type(exc).__name__}: {exc}") from exc


async def _finish(db, feed: feeds.Feed, result: str, now: datetime) -> None:
    if feed.url.startswith(SENT_FILE):
        await feeds.remove(db, feed.id)
    else:
        await feeds.done(db, feed.id, result, now)


async def _run_feed(core, feed: feeds.Feed, now: datetime) -> None:
    db = core.db
    async with db.transaction():
        organizer = await organizers.get(db, feed.organizer_id)
        asked = await feeds.requested(db, feed.id)
    if organizer is None or not organizer.approved:
        async with db.transaction():
            await feeds.done(db, feed.id, "organizer not approved", now)
        return
    try:
        data = await _read(core, feed.url)
        result = await import_calendar(core, organizer, data, now, progress_key=f"feed{feed.id}", tell_progress=asked)
    except FetchError as exc:
        key = f"import-failed-{exc.reason}"
        if feed.url.startswith(SENT_FILE):
            key = "import-file-not-ics" if exc.reason == "not_ics" else "import-file-failed"
        async with db.transaction():
            await _finish(db, feed, f"error: {exc}", now)
            if asked:
                await core.tell(db, organizer.person_id, lambda t: t(key), None, now)
        return
    async with db.transaction():
        await _finish(db, feed, result.summary(), now)
        if asked or result.added or result.updated:
            await core.tell(db, organizer.person_id, lambda t: t(
                "import-done", total=result.total, added=result.added, updated=result.updated,
                unchanged=result.unchanged, skipped=result.skipped), None, now)


async def import_command(ctx: Context) -> None:
    """/import <url of an .ics calendar>: register the feed and import it in a moment."""
    organizer = await activities.approved_organizer(ctx)
    if organizer is None:
        return
    url = ctx.body.args.strip() if hasattr(ctx.body, "args") else ""
    if not url:
        await ctx.reply(ctx.t("import-usage"))
        return
    if len(url) > MAX_URL:
        await ctx.reply(ctx.t("answer-too-long", limit=MAX_URL))
        return
    if not url.lower().startswith(("http://", "https://")) or " " in url:
        await ctx.reply(ctx.t("import-bad-url"))
        return
    await feeds.register(ctx.db, organizer.id, url, ctx.now)
    await ctx.reply(ctx.t("import-requested"))


async def file_received(ctx: Context) -> None:
    """An .ics file sent in the private chat: imported like a feed, once, by the background pass."""
    body = ctx.body
    assert isinstance(body, FileIn)
    organizer = await activities.approved_organizer(ctx)
    if organizer is None:
        return
    if not (body.filename.lower().endswith(".ics") or body.mime_type == "text/calendar"):
        await ctx.reply(ctx.t("import-file-not-ics"))
        return
    if body.size > ctx.core.config.activities.import_max_bytes:
        await ctx.reply(ctx.t("import-failed-too_big"))
        return
    await feeds.register(ctx.db, organizer.id, sent_file_url(ctx.address.platform, body.ref), ctx.now)
    await ctx.reply(ctx.t("import-file-requested"))


def install(core) -> None:
    core.router.on_file(file_received)
    core.router.command(Command("import", import_command, aliases=("importer",), help_key="help-import",
                                french_name="importer"))
    core.scheduler.add(Job("calendar-imports", every(timedelta(minutes=1)), import_pass))
