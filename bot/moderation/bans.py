"""Removal from a circle, bans and unbans, and the gate that keeps a banned account from rejoining.

A ban records every platform account of the person (hashed), so they cannot come back through
/start on any platform with those accounts — not even after /forget. The person stops being a member
(``onboarded_at`` cleared): member commands and placement are closed to them until an unban.
"""

from __future__ import annotations

from bot.circles import leave_circle
from bot.core import access, audit, roles
from bot.core.i18n import Localized
from bot.core.router import Context
from bot.moderation.commands import register
from bot.storage import conversations, people, sanctions
from bot.storage.people import Person


async def remove_from_circle(ctx: Context, person: Person, why: str) -> bool:
    """Out of their circle (the circle is told they left, not why); they are told privately."""
    circle_id = await leave_circle(ctx.core, ctx.db, person, ctx.now)
    if circle_id is None:
        return False
    await ctx.tell(person.id, lambda t: t("mod-removed-you"))
    await audit.record(ctx.db, ctx.person.id if ctx.person else None, "remove", f"person:{person.id}", why,
                       ctx.now, place_id=person.place_id)
    return True


async def ban_person(ctx: Context, person: Person, reason: str) -> int:
    """Ban every account of the person, take them out of their circle, end what they were doing."""
    accounts = [(i.platform, i.user_id) for i in await people.identities(ctx.db, person.id)]
    ban_id = await sanctions.ban(ctx.db, person.id, accounts, person.place_id or "", reason, ctx.person.id, ctx.now)
    await leave_circle(ctx.core, ctx.db, person, ctx.now, ban=True)
    await conversations.clear(ctx.db, person.id)
    await people.update(ctx.db, person.id, onboarded_at=None)
    await ctx.tell(person.id, lambda t: t("mod-banned-you"))
    await audit.record(ctx.db, ctx.person.id, "ban", f"person:{person.id}", reason, ctx.now,
                       place_id=person.place_id)
    return ban_id


async def protected(ctx: Context, person: Person) -> bool:
    """Admins cannot be banned, moderators only by an admin, nobody by themselves. Replies if so."""
    untouchable = (
        person.id == ctx.person.id
        or await roles.is_admin(ctx.db, access.admins(ctx), person.id)
        or (await roles.moderated_places(ctx.db, person.id) and not await access.is_admin(ctx))
    )
    if untouchable:
        await ctx.reply(ctx.t("mod-ban-protected", name=person.first_name))
    return bool(untouchable)


async def ban_cmd(ctx: Context) -> None:
    """/ban <person> [reason]."""
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    who, reason = access.split_args(ctx, 2)
    if not who:
        await ctx.reply(ctx.t("mod-ban-usage"))
        return
    if len(reason) > 200:
        await ctx.reply(ctx.t("answer-too-long", limit=200))
        return
    person = await access.find_person(ctx, who, place_ids)  # type: ignore[arg-type]
    if person is None or not await access.require_place(ctx, place_ids, person.place_id):  # type: ignore[arg-type]
        return
    if await protected(ctx, person):
        return
    ban_id = await ban_person(ctx, person, reason)
    await ctx.reply(ctx.t("mod-ban-done", name=person.first_name, id=ban_id))


async def unban_cmd(ctx: Context) -> None:
    """/unban <ban number> (shown by /bans and when banning)."""
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    ref = access.split_args(ctx, 1)[0]
    number = access.as_id(ref)
    ban = await sanctions.get_ban(ctx.db, number) if number is not None else None
    if ban is None or ban.lifted_at is not None:
        await ctx.reply(ctx.t("mod-unban-unknown", ref=ref[:20] or "?"))
        return
    if not await access.require_place(ctx, place_ids, ban.place_id):  # type: ignore[arg-type]
        return
    await sanctions.lift(ctx.db, ban.id, ctx.now)
    if ban.person_id is not None:
        await ctx.tell(ban.person_id, lambda t: t("mod-unbanned-you"))
    await audit.record(ctx.db, ctx.person.id, "unban", f"person:{ban.person_id}" if ban.person_id else "",
                       f"ban:{ban.id}", ctx.now, place_id=ban.place_id)
    await ctx.reply(ctx.t("mod-unban-done", id=ban.id))


async def bans_cmd(ctx: Context) -> None:
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    bans = await sanctions.active_bans(ctx.db, place_ids)  # type: ignore[arg-type]
    if not bans:
        await ctx.reply(ctx.t("mod-bans-none"))
        return
    lines = [ctx.t("mod-bans-header")]
    for ban in bans:
        person = await people.get(ctx.db, ban.person_id) if ban.person_id else None
        name = f"{person.first_name} (#{person.id})" if person else str(ctx.t("mod-someone-gone"))
        lines.append(ctx.t("mod-ban-line", id=ban.id, name=name, place=access.place_name(ctx, ban.place_id),
                           date=ctx.t.short_date(_when(ban.created_at)), reason=ban.reason or "—"))
    await ctx.reply(Localized.join(lines))


def _when(text: str):
    from bot.core.clock import from_iso

    return from_iso(text)


async def ban_gate(ctx: Context, stage: str) -> bool:
    """Onboarding's gate: a banned account is told so, clearly, and goes no further."""
    if await sanctions.is_banned(ctx.db, ctx.address.platform, ctx.address.user_id):
        await conversations.clear(ctx.db, ctx.person.id)
        if ctx.person.consent_at is None:  # came back after /forget: keep nothing about them
            await people.delete(ctx.db, ctx.person.id)
        await ctx.reply(ctx.t("mod-banned-start"))
        return False
    return True


def install(core) -> None:
    core.hooks.gate(ban_gate, first=True)
    register(core, "ban", ban_cmd, ("bannir",), "bannir", "modhelp-ban")
    register(core, "unban", unban_cmd, ("debannir",), "debannir", "modhelp-unban")
    register(core, "bans", bans_cmd, ("bannis",), "bannis", "modhelp-bans")
