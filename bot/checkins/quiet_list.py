"""/quiet (/calme) for moderators: who went quiet, who has an open check-in, who asked for a chat,
who was escalated and what happened. Resolved items leave the list.

A moderator sees their own neighbourhoods; an admin sees all. Items only a human can settle (nobody
could be told, someone could not be reached) carry a "resolved" button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.checkins.decisions import payload
from bot.checkins.rounds import cutoff, days_since, local
from bot.core import roles
from bot.core.chat import CommandIn
from bot.core.i18n import Localized, Translator
from bot.core.router import Command, Context
from bot.storage import checkins as store
from bot.storage.database import Row

if TYPE_CHECKING:
    from bot.core.app import Core

SHOWN_PER_SECTION = 15
MAX_BUTTONS = 8
SECTIONS = ("urgent", "quiet", "open", "chat", "escalated", "unreached")


async def scope(ctx: Context) -> list[str] | bool | None:
    """None: every neighbourhood (admin); a list: theirs; False: not a moderator."""
    admins = ctx.core.config.deployment.admins
    if await roles.is_admin(ctx.db, admins, ctx.person.id):
        return None
    places = await roles.moderated_places(ctx.db, ctx.person.id)
    return places or False


def section_of(row: Row) -> str:
    """Where an unresolved check-in belongs on the list (someone who wrote that they need help first)."""
    if row["answer"] in ("urgent", "alerted"):
        return "urgent"
    if row["answer"] == "chat":
        return "chat"
    if row["outcome"] in ("unreached", "services"):  # could not be reached, or the ladder ran out
        return "unreached"
    if row["escalated_at"]:
        return "escalated"
    return "open"


def needs_a_human(row: Row) -> bool:
    """Nobody to tell, or nobody reached: only a moderator can take it off the list."""
    return row["outcome"] in ("unreached", "services") or (row["told_id"] is None and row["answer"] in (None, "chat")
                                             and (row["escalated_at"] or row["answer"] == "chat")) \
        or (row["told_id"] is None and row["answer"] == "alerted")


def line(core: Core, t: Translator, section: str, row: Row, now) -> Localized:
    name = row["name"] or t("someone")
    if section == "quiet":
        days = t.plural("checkin-days", days_since(row["last_active_at"], now))
        return t("quiet-line-quiet" if row["reachable"] else "quiet-line-unreachable", name=name, days=days)
    if section == "open":
        key = "quiet-line-open-reminded" if row["reminded_at"] else "quiet-line-open"
        return t(key, name=name, asked=t.date(local(core, row["asked_at"])))
    told = row["told_name"] or t("someone")
    if section == "urgent":
        when = t.datetime(local(core, row["answered_at"]))
        return t("quiet-line-urgent", name=name, told=told, when=when) if row["told_id"] else \
            t("quiet-line-urgent-nobody", name=name, when=when)
    if section == "chat":
        return t("quiet-line-chat", name=name, told=told) if row["told_id"] else t("quiet-line-chat-nobody", name=name)
    if section == "unreached":
        return t("quiet-line-unreached", name=name, when=t.date(local(core, row["outcome_at"])))
    if row["told_id"] is None:
        return t("quiet-line-escalated-nobody", name=name)
    return t("quiet-line-escalated", name=name, told=told, role=t(f"role-{row['told_role']}"),
             when=t.date(local(core, row["escalated_at"])))


async def quiet_command(ctx: Context) -> None:
    places = await scope(ctx)
    if places is False:
        typed = ctx.body.name if isinstance(ctx.body, CommandIn) else ctx.t("quiet-command")
        await ctx.reply(ctx.t("quiet-not-allowed", command=typed))
        return
    sections: dict[str, list[Row]] = {name: [] for name in SECTIONS}
    sections["quiet"] = await store.quiet_not_asked(ctx.db, places, ctx.now, cutoff(ctx.core, ctx.now), limit=200)
    for row in await store.unresolved(ctx.db, places, limit=500):
        sections[section_of(row)].append(row)
    if not any(sections.values()):
        await ctx.reply(ctx.t("quiet-empty"))
        return
    await ctx.reply(*render(ctx, places, sections))


def render(ctx: Context, places: list[str] | None, sections: dict[str, list[Row]]):
    where = ctx.t("quiet-all-places") if places is None else ", ".join(_place_names(ctx, places))
    lines = [ctx.t("quiet-header", places=where)]
    buttons: list[tuple[str, str]] = []
    for name in SECTIONS:
        rows = sections[name]
        if not rows:
            continue
        lines.append(Localized("\n") + ctx.t(f"quiet-section-{name}"))
        lines += [line(ctx.core, ctx.t, name, row, ctx.now) for row in rows[:SHOWN_PER_SECTION]]
        if len(rows) > SHOWN_PER_SECTION:
            lines.append(ctx.t.plural("quiet-more", len(rows) - SHOWN_PER_SECTION))
        if name != "quiet":
            buttons += [(ctx.t("quiet-button-resolve", name=row["name"]), payload("resolved", row["id"]))
                        for row in rows if needs_a_human(row)]
    return Localized.join(lines), buttons[:MAX_BUTTONS]


def _place_names(ctx: Context, places: list[str]) -> list[str]:
    found = [ctx.core.content.places.get(p) for p in places]
    return [place.name if place else p for place, p in zip(found, places, strict=True)]


def install(core: Core) -> None:
    core.router.command(Command("quiet", quiet_command, aliases=("calme", "silencieux"), french_name="calme",
                                staff=True))
