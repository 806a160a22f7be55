"""/report (a member flags a message or a person) and /reports (moderators act on them with buttons).

In a circle room, /report sent as a reply flags that message; the reporter is answered privately so
the circle never sees who reported. In a private chat (or on platforms without replies):
``/report <first name> <what happened>``. Only the reported text and ids are kept, and reports are
deleted after ``moderation.report_retention_days`` by a daily job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core import access, audit, roles
from bot.core.chat import CommandIn
from bot.core.interests import fold
from bot.core.router import Command, Context
from bot.core.scheduler import Job, every
from bot.moderation import bans
from bot.moderation.commands import register
from bot.storage import circles as circle_store
from bot.storage import outbox, people, sanctions
from bot.storage import reports as report_store
from bot.storage.people import Person
from bot.storage.reports import Report

MAX_REASON = 500
VERBS = {"w": "warned", "x": "removed", "b": "banned", "d": "dismissed"}


# ---- a member reports -----------------------------------------------------------------------------


async def report_cmd(ctx: Context) -> None:
    body = ctx.body if isinstance(ctx.body, CommandIn) else CommandIn("report")  # also from a "go:" button
    if ctx.person is None or not ctx.person.onboarded:
        if ctx.address.private and ctx.person is not None:
            await ctx.reply(ctx.t("command-needs-onboarding", command=body.name[:40]))
        return  # a stranger in a room: nobody to answer privately
    if body.reply_to_user:
        await _report_message(ctx, body)
    elif not ctx.address.private:
        await ctx.tell(ctx.person.id, lambda t: t("report-usage"))
    else:
        await _report_by_name(ctx, body.args)


async def _answer(ctx: Context, text_fn) -> None:
    """Privately, whatever chat the report came from."""
    if ctx.address.private:
        await ctx.reply(text_fn(ctx.t))
    else:
        await ctx.tell(ctx.person.id, text_fn)


async def _report_message(ctx: Context, body: CommandIn) -> None:
    reported = await people.by_identity(ctx.db, ctx.address.platform, body.reply_to_user)
    if reported is None or reported.id == ctx.person.id:
        await _answer(ctx, lambda t: t("report-not-a-neighbour"))
        return
    text = body.reply_to_text.strip() or body.args.strip()
    await file_report(ctx, reported, text[: report_store.MAX_TEXT])


async def _report_by_name(ctx: Context, args: str) -> None:
    name, _, reason = args.strip().partition(" ")
    reason = reason.strip()
    if not name or not reason:
        await ctx.reply(ctx.t("report-usage"))
        return
    if len(reason) > MAX_REASON:
        await ctx.reply(ctx.t("answer-too-long", limit=MAX_REASON))
        return
    found = await _neighbours_named(ctx, name[:64])
    if len(found) != 1:
        await ctx.reply(ctx.t("report-name-unknown" if not found else "report-name-ambiguous", name=name[:64]))
        return
    await file_report(ctx, found[0], reason)


async def _neighbours_named(ctx: Context, name: str) -> list[Person]:
    """The reporter's circle first (the usual case), then their neighbourhood."""
    wanted = fold(name)
    circle = await circle_store.circle_of(ctx.db, ctx.person.id)
    pools = []
    if circle is not None:
        pools.append(await circle_store.member_ids(ctx.db, circle.id))
    if ctx.person.place_id:
        rows = await ctx.db.fetchall(
            "SELECT id FROM people WHERE place_id = ? AND onboarded_at IS NOT NULL", (ctx.person.place_id,)
        )
        pools.append([r[0] for r in rows])
    for pool in pools:
        found = []
        for person_id in pool:
            person = await people.get(ctx.db, person_id)
            if person and person.id != ctx.person.id and fold(person.first_name) == wanted:
                found.append(person)
        if found:
            return found
    return []


async def file_report(ctx: Context, reported: Person, text: str) -> None:
    if await report_store.already_open(ctx.db, ctx.person.id, reported.id):
        await _answer(ctx, lambda t: t("report-already", name=reported.first_name))
        return
    place_id = reported.place_id or ctx.person.place_id or ""
    circle = await circle_store.circle_of(ctx.db, reported.id)
    report_id = await report_store.add(ctx.db, place_id, circle.id if circle else None, ctx.person.id,
                                       reported.id, text, ctx.now)
    report = await report_store.get(ctx.db, report_id)
    assert report is not None
    for moderator in await _moderators(ctx, place_id):
        await ctx.tell(moderator, lambda t, r=report: _describe(ctx, t, r, reported, ctx.person),
                       lambda t, r=report: _buttons(t, r), dedupe_key=f"report:{report_id}:{moderator}",
                       delivery_class=outbox.CARE)
    await _answer(ctx, lambda t: t("report-thanks", name=reported.first_name))


async def _moderators(ctx: Context, place_id: str) -> list[int]:
    """Who handles a report: the neighbourhood's moderators, else the admins."""
    found = await roles.moderators_of(ctx.db, place_id)
    return found or await roles.admin_ids(ctx.db, access.admins(ctx))


def _describe(ctx: Context, t, report: Report, reported: Person | None, reporter: Person | None):
    return t("report-notice", id=report.id, place=access.place_name(ctx, report.place_id),
             reporter=reporter.first_name if reporter else t("mod-someone-gone"),
             name=f"{reported.first_name} (#{reported.id})" if reported else t("mod-someone-gone"),
             text=report.text or "—")


def _buttons(t, report: Report) -> list[tuple[str, str]]:
    return [(t("button-report-warn"), f"mod:r:{report.id}:w"), (t("button-report-remove"), f"mod:r:{report.id}:x"),
            (t("button-report-ban"), f"mod:r:{report.id}:b"), (t("button-report-dismiss"), f"mod:r:{report.id}:d")]


# ---- moderators act -------------------------------------------------------------------------------


async def reports_cmd(ctx: Context) -> None:
    """/reports: the open reports of the moderator's neighbourhoods, each with its buttons."""
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    found = await report_store.open_in(ctx.db, place_ids)  # type: ignore[arg-type]
    if not found:
        await ctx.reply(ctx.t("reports-none"))
        return
    for report in found:
        reported = await people.get(ctx.db, report.reported_id) if report.reported_id else None
        reporter = await people.get(ctx.db, report.reporter_id) if report.reporter_id else None
        await ctx.reply(_describe(ctx, ctx.t, report, reported, reporter), _buttons(ctx.t, report))


async def report_action(ctx: Context, parts: list[str]) -> None:
    """"mod:r:<report>:<w|x|b|d>": checked again on press (roles change, buttons stay in chats)."""
    if len(parts) != 4 or not parts[2].isdigit() or parts[3] not in VERBS:
        await ctx.reply(ctx.t("choice-expired"))
        return
    report = await report_store.get(ctx.db, int(parts[2]))
    if report is None:
        await ctx.reply(ctx.t("choice-expired"))
        return
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False or not await access.require_place(ctx, place_ids, report.place_id):  # type: ignore[arg-type]
        return
    if report.status != "open":
        await ctx.reply(ctx.t("report-already-handled", id=report.id))
        return
    reported = await people.get(ctx.db, report.reported_id) if report.reported_id else None
    verb = parts[3]
    if verb == "b" and reported is not None and await bans.protected(ctx, reported):
        return
    await report_store.close(ctx.db, report.id, VERBS[verb] if reported else "dismissed", ctx.person.id, ctx.now)
    if reported is None or verb == "d":
        await audit.record(ctx.db, ctx.person.id, "dismiss", f"report:{report.id}", "", ctx.now,
                           place_id=report.place_id)
        await ctx.reply(ctx.t("report-dismissed", id=report.id))
    elif verb == "w":
        await warn(ctx, reported, report)
    elif verb == "x":
        await bans.remove_from_circle(ctx, reported, f"report:{report.id}")
        await ctx.reply(ctx.t("report-removed", name=reported.first_name))
    else:
        ban_id = await bans.ban_person(ctx, reported, f"report:{report.id}")
        await ctx.reply(ctx.t("mod-ban-done", name=reported.first_name, id=ban_id))


async def warn(ctx: Context, person: Person, report: Report) -> None:
    """A warning; the configured number of them removes the person from their circle."""
    limit = ctx.core.config.moderation.warnings_before_removal
    count = await sanctions.warn(ctx.db, person.id, report.place_id, ctx.person.id, report.id, ctx.now)
    await ctx.tell(person.id, lambda t: t("report-warned-you", n=count, max=limit))
    await audit.record(ctx.db, ctx.person.id, "warn", f"person:{person.id}", f"{count}/{limit}", ctx.now,
                       place_id=report.place_id)
    if count >= limit and await bans.remove_from_circle(ctx, person, f"warnings:{count}"):
        await ctx.reply(ctx.t("report-warned-removed", name=person.first_name, n=count))
    else:
        await ctx.reply(ctx.t("report-warned", name=person.first_name, n=count, max=limit))


# ---- retention ------------------------------------------------------------------------------------


async def retention_pass(core, now: datetime) -> None:
    """Reports and warnings older than the retention are deleted; finished mutes too."""
    before = now - timedelta(days=core.config.moderation.report_retention_days)
    async with core.db.transaction():
        await report_store.delete_older_than(core.db, before)
        await sanctions.delete_warnings_older_than(core.db, before)
        await sanctions.delete_expired_mutes(core.db, now)


def install(core) -> None:
    core.router.command(Command("report", report_cmd, aliases=("signaler",), help_key="help-report",
                                in_groups=True, french_name="signaler"))
    register(core, "reports", reports_cmd, ("signalements",), "signalements", "modhelp-reports")
    core.hooks.moderator_action("r", report_action)
    core.scheduler.add(Job("moderation-retention", every(timedelta(days=1)), retention_pass))
