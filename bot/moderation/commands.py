"""Moderator commands: see and manage circles, appoint hosts and moderators, announce, read the audit.

Each handler checks the role and the scope first (``bot.core.access``), then validates what was typed, and
only then changes anything — and every change is written to the audit log in the same transaction.
Commands take ids shown by /circles and /circle ("#12"), or a first name when it is unambiguous.
"""

from __future__ import annotations

from bot.circles import introduction, leave_circle, merge_circles, plan_split
from bot.core import access, audit, roles
from bot.core.clock import from_iso
from bot.core.hooks import ModeratorCommand
from bot.core.i18n import Localized
from bot.core.router import Command, Context
from bot.storage import activity, people, sanctions
from bot.storage import circles as circle_store
from bot.storage import reports as report_store
from bot.storage.circles import Circle

MAX_LISTED = 40


async def mod_action(ctx: Context) -> None:
    """Dispatch a moderation button; anything unknown (forged, stale) is answered, never raised on.
    Moderation buttons share the "mod:" prefix: "mod:<kind>:…", each kind registered by one module."""
    parts = ctx.payload.split(":")
    handler = ctx.core.hooks.moderator_actions.get(parts[1]) if len(parts) > 1 else None
    if handler is None:
        await ctx.reply(ctx.t("choice-expired"))
        return
    await handler(ctx, parts)


# ---- listing circles ------------------------------------------------------------------------------


async def circle_line(ctx: Context, circle: Circle) -> Localized:
    members = await circle_store.member_ids(ctx.db, circle.id)
    week_ago = ctx.now.timestamp() - 7 * 86400
    active = 0
    for person_id in members:
        person = await people.get(ctx.db, person_id)
        if person and person.last_active_at and from_iso(person.last_active_at).timestamp() >= week_ago:
            active += 1
    rooms = ", ".join(sorted(r.platform for r in await circle_store.rooms(ctx.db, circle.id))) or "—"
    hosts = ", ".join([await _name(ctx, h) for h in await roles.hosts_of(ctx.db, circle.id)]) or "—"
    return ctx.t("mod-circle-line", id=circle.id, place=access.place_name(ctx, circle.place_id),
                 number=circle.number, size=len(members), active=active, rooms=rooms, hosts=hosts)


async def _name(ctx: Context, person_id: int | None) -> str:
    person = await people.get(ctx.db, person_id) if person_id else None
    return f"{person.first_name or '?'} (#{person.id})" if person else str(ctx.t("mod-someone-gone"))


async def circles_cmd(ctx: Context) -> None:
    """/circles [neighbourhood]: the open circles a moderator looks after."""
    place_ids = await access.places_asked(ctx)
    if place_ids is False:
        return
    if place_ids is None:
        rows = await ctx.db.fetchall("SELECT DISTINCT place_id FROM circles WHERE status = 'open' ORDER BY place_id")
        targets = [r[0] for r in rows]
    else:
        targets = list(place_ids)  # type: ignore[arg-type]
    circles = [c for place_id in targets for c in await circle_store.open_in_place(ctx.db, place_id)]
    if not circles:
        await ctx.reply(ctx.t("mod-circles-none"))
        return
    lines = [ctx.t("mod-circles-header")]
    lines += [await circle_line(ctx, c) for c in circles[:MAX_LISTED]]
    if len(circles) > MAX_LISTED:
        lines.append(ctx.t("mod-more", n=len(circles) - MAX_LISTED))
    await ctx.reply(Localized.join(lines))


async def circle_cmd(ctx: Context) -> None:
    """/circle N: one circle's members, hosts and last activity (for its moderators and its hosts)."""
    if await access.require_some_moderator_or_host(ctx) is False:
        return
    ref = access.split_args(ctx, 1)[0]
    circle = await access.find_circle(ctx, ref)
    if circle is None or not await access.require_host_or_moderator(ctx, circle):
        return
    lines = [await circle_line(ctx, circle)]
    hosts = set(await roles.hosts_of(ctx.db, circle.id))
    for person_id in await circle_store.member_ids(ctx.db, circle.id):
        person = await people.get(ctx.db, person_id)
        if person is None:
            continue
        seen = ctx.t.short_date(from_iso(person.last_active_at)) if person.last_active_at else "—"
        key = "mod-member-line-host" if person_id in hosts else "mod-member-line"
        lines.append(ctx.t(key, name=person.first_name or "?", id=person.id, seen=seen))
    await ctx.reply(Localized.join(lines))


# ---- changing circles -----------------------------------------------------------------------------


async def _open_circle_in_scope(ctx: Context, place_ids: list[str] | None, ref: str) -> Circle | None:
    circle = await access.find_circle(ctx, ref)
    if circle is None or not await access.require_place(ctx, place_ids, circle.place_id):
        return None
    if circle.status != "open":
        await ctx.reply(ctx.t("mod-circle-closed", id=circle.id))
        return None
    return circle


async def move_cmd(ctx: Context) -> None:
    """/move <person> <circle>: a member changes circle within their neighbourhood."""
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    who, where = access.split_args(ctx, 2)
    if not who or not where:
        await ctx.reply(ctx.t("mod-move-usage"))
        return
    person = await access.find_person(ctx, who, place_ids)  # type: ignore[arg-type]
    if person is None or not await access.require_place(ctx, place_ids, person.place_id):  # type: ignore[arg-type]
        return
    circle = await _open_circle_in_scope(ctx, place_ids, where)  # type: ignore[arg-type]
    if circle is None:
        return
    current = await circle_store.circle_of(ctx.db, person.id)
    if current is not None and current.id == circle.id:
        await ctx.reply(ctx.t("mod-move-same", name=person.first_name, id=circle.id))
        return
    if circle.place_id != person.place_id:
        await ctx.reply(ctx.t("mod-move-other-place", name=person.first_name,
                              place=access.place_name(ctx, person.place_id)))
        return
    if len(await circle_store.member_ids(ctx.db, circle.id)) >= ctx.core.config.circles.hard_max:
        await ctx.reply(ctx.t("mod-circle-full", id=circle.id, max=ctx.core.config.circles.hard_max))
        return
    await leave_circle(ctx.core, ctx.db, person, ctx.now)
    await circle_store.add_member(ctx.db, circle.id, person.id, ctx.now)
    await ctx.core.queue_invite(ctx.db, circle.id, person.id, ctx.now)
    await ctx.core.post_to_circle(ctx.db, circle.id, await introduction(ctx.core, person), ctx.now)
    await ctx.tell(person.id, lambda t: t("mod-moved-you", place=access.place_name(ctx, circle.place_id),
                                          number=circle.number))
    await audit.record(ctx.db, ctx.person.id, "move", f"person:{person.id}", f"circle:{circle.id}", ctx.now,
                       place_id=circle.place_id)
    await ctx.reply(ctx.t("mod-move-done", name=person.first_name, id=circle.id))


async def merge_cmd(ctx: Context) -> None:
    """/merge A B: the members of A join B (same neighbourhood, within the hard maximum)."""
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    first, second = access.split_args(ctx, 2)
    if not first or not second:
        await ctx.reply(ctx.t("mod-merge-usage"))
        return
    source = await _open_circle_in_scope(ctx, place_ids, first)  # type: ignore[arg-type]
    if source is None:
        return
    target = await _open_circle_in_scope(ctx, place_ids, second)  # type: ignore[arg-type]
    if target is None:
        return
    if source.id == target.id or source.place_id != target.place_id:
        await ctx.reply(ctx.t("mod-merge-invalid"))
        return
    sizes = [len(await circle_store.member_ids(ctx.db, c.id)) for c in (source, target)]
    total = sum(sizes)
    if total > ctx.core.config.circles.hard_max:
        await ctx.reply(ctx.t("mod-circle-full", id=target.id, max=ctx.core.config.circles.hard_max))
        return
    await merge_circles(ctx.core, ctx.db, source.id, target.id, ctx.now)
    await audit.record(ctx.db, ctx.person.id, "merge", f"circle:{source.id}", f"circle:{target.id}", ctx.now,
                       place_id=target.place_id)
    await ctx.reply(ctx.t("mod-merge-done", source=source.id, target=target.id))


async def split_cmd(ctx: Context) -> None:
    """/split N: half of a big circle (kept together by shared interests) moves to a new circle."""
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    ref = access.split_args(ctx, 1)[0]
    if not ref:
        await ctx.reply(ctx.t("mod-split-usage"))
        return
    circle = await _open_circle_in_scope(ctx, place_ids, ref)  # type: ignore[arg-type]
    if circle is None:
        return
    member_ids = await circle_store.member_ids(ctx.db, circle.id)
    smallest = 2 * ctx.core.config.circles.merge_below
    if len(member_ids) < smallest:
        await ctx.reply(ctx.t("mod-split-too-small", id=circle.id, min=smallest))
        return
    members = []
    for person_id in member_ids:
        person = await people.get(ctx.db, person_id)
        members.append((person_id, frozenset(person.interests) if person else frozenset()))
    _, moving = plan_split(members)
    new = await circle_store.create(ctx.db, circle.place_id, ctx.now)
    await ctx.core.post_to_circle(ctx.db, circle.id, ctx.core.t_default.plural("mod-split-away", len(moving)), ctx.now)
    for person_id in moving:
        await circle_store.move_member(ctx.db, person_id, new.id)
        await ctx.core.queue_invite(ctx.db, new.id, person_id, ctx.now)
        await ctx.tell(person_id, lambda t: t("mod-moved-you", place=access.place_name(ctx, new.place_id),
                                              number=new.number))
    await audit.record(ctx.db, ctx.person.id, "split", f"circle:{circle.id}", f"circle:{new.id}", ctx.now,
                       place_id=circle.place_id)
    await ctx.reply(ctx.t("mod-split-done", id=circle.id, new=new.id, n=len(moving)))


# ---- hosts and moderators -------------------------------------------------------------------------


async def _set_host(ctx: Context, host: bool) -> None:
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    who = access.split_args(ctx, 1)[0]
    person = await access.find_person(ctx, who, place_ids)  # type: ignore[arg-type]
    if person is None or not await access.require_place(ctx, place_ids, person.place_id):  # type: ignore[arg-type]
        return
    circle = await circle_store.circle_of(ctx.db, person.id)
    if circle is None:
        await ctx.reply(ctx.t("mod-not-in-circle", name=person.first_name))
        return
    if await roles.is_host(ctx.db, person.id, circle.id) == host:
        await ctx.reply(ctx.t("mod-host-already" if host else "mod-host-not", name=person.first_name))
        return
    await ctx.db.execute("UPDATE circle_members SET role = ? WHERE person_id = ?",
                         ("host" if host else "member", person.id))
    await ctx.core.queue_room_power(ctx.db, circle.id, person.id, roles.ROOM_POWER if host else 0, ctx.now)
    key = "mod-host-you" if host else "mod-unhost-you"
    await ctx.tell(person.id, lambda t: t(key, number=circle.number))
    await audit.record(ctx.db, ctx.person.id, "host" if host else "unhost", f"person:{person.id}",
                       f"circle:{circle.id}", ctx.now, place_id=circle.place_id)
    await ctx.reply(ctx.t("mod-host-done" if host else "mod-unhost-done", name=person.first_name, id=circle.id))


async def host_cmd(ctx: Context) -> None:
    await _set_host(ctx, True)


async def unhost_cmd(ctx: Context) -> None:
    await _set_host(ctx, False)


async def _set_moderator(ctx: Context, grant: bool) -> None:
    """Admins only: a moderator of a neighbourhood, appointed by name or #id and the neighbourhood."""
    if not await access.require_admin(ctx):
        return
    who, where = access.split_args(ctx, 2)
    if not who or not where:
        await ctx.reply(ctx.t("mod-moderator-usage"))
        return
    person = await access.find_person(ctx, who, None)
    if person is None:
        return
    place = access.find_place(ctx, where)
    if place is None:
        await ctx.reply(ctx.t("mod-place-unknown", typed=where[:60]))
        return
    already = place.id in await roles.moderated_places(ctx.db, person.id)
    if already == grant:
        await ctx.reply(ctx.t("mod-moderator-already" if grant else "mod-moderator-not",
                              name=person.first_name, place=place.name))
        return
    if grant:
        await roles.grant_moderator(ctx.db, person.id, place.id, ctx.person.id, ctx.now)
    else:
        await roles.revoke_moderator(ctx.db, person.id, place.id)
    key = "mod-moderator-you" if grant else "mod-unmoderator-you"
    await ctx.tell(person.id, lambda t: t(key, place=place.name))
    for hook in ctx.core.hooks.moderator_appointed if grant else ():  # requests that waited for a moderator are offered
        await hook(ctx.core, ctx.db, person.id, place.id, ctx.now)
    await audit.record(ctx.db, ctx.person.id, "moderator" if grant else "unmoderator", f"person:{person.id}",
                       place.id, ctx.now, place_id=place.id)
    await ctx.reply(ctx.t("mod-moderator-done" if grant else "mod-unmoderator-done",
                          name=person.first_name, place=place.name))


async def moderator_cmd(ctx: Context) -> None:
    await _set_moderator(ctx, True)


async def unmoderator_cmd(ctx: Context) -> None:
    await _set_moderator(ctx, False)


# ---- announcements and the audit log --------------------------------------------------------------


async def announce_cmd(ctx: Context) -> None:
    """/announce <text>: to every open circle of the moderator's neighbourhoods, through the outbox."""
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    text = (getattr(ctx.body, "args", "") or "").strip()
    limit = ctx.core.config.moderation.max_announcement
    if not text:
        await ctx.reply(ctx.t("mod-announce-usage"))
        return
    if len(text) > limit:
        await ctx.reply(ctx.t("answer-too-long", limit=limit))
        return
    if place_ids is None:
        circles = await ctx.db.fetchall("SELECT id FROM circles WHERE status = 'open' ORDER BY id")
    else:
        marks = ",".join("?" * len(place_ids))  # type: ignore[arg-type]
        circles = await ctx.db.fetchall(
            f"SELECT id FROM circles WHERE status = 'open' AND place_id IN ({marks}) ORDER BY id", tuple(place_ids)
        )
    entry = await audit.record(ctx.db, ctx.person.id, "announce", "", text, ctx.now,
                               place_id=place_ids[0] if place_ids and len(place_ids) == 1 else None)
    line = ctx.core.t_default("mod-announcement", name=ctx.person.first_name or "?", text=text)
    for (circle_id,) in circles:
        await ctx.core.post_to_circle(ctx.db, circle_id, line, ctx.now, dedupe_key=f"announce:{entry}:{circle_id}")
    await ctx.reply(ctx.t.plural("mod-announce-done", len(circles)))


async def audit_cmd(ctx: Context) -> None:
    """/audit: the last actions in the moderator's neighbourhoods (all of them for admins)."""
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    entries = await audit.latest(ctx.db, place_ids, 20)  # type: ignore[arg-type]
    if not entries:
        await ctx.reply(ctx.t("mod-audit-empty"))
        return
    known = ctx.core.content.catalogues.keys(ctx.t.lang)
    lines = [ctx.t("mod-audit-header")]
    for e in entries:
        actor = await _name(ctx, e.actor_id) if e.actor_id else str(ctx.t("mod-audit-bot"))
        action = ctx.t(f"audit-{e.action}") if f"audit-{e.action}" in known else e.action
        lines.append(ctx.t("mod-audit-line", when=ctx.t.short_date(from_iso(e.at)) + " " + e.at[11:16],
                           actor=actor, action=action, target=await _target(ctx, e.target), details=e.details))
    await ctx.reply(Localized.join(lines))


async def _target(ctx: Context, target: str) -> str:
    kind, _, ident = target.partition(":")
    if kind == "person" and ident.isdigit():
        return await _name(ctx, int(ident))
    return target


async def modhelp_cmd(ctx: Context) -> None:
    if await access.require_some_moderator_or_host(ctx) is False:
        return
    lines = [ctx.t("modhelp-header")]
    for entry in ctx.core.hooks.moderator_help:
        shown = entry.french_name if ctx.t.lang == "fr" else entry.name
        lines.append(Localized(f"/{shown} — ") + ctx.t(entry.help_key))
    await ctx.reply(Localized.join(lines))


def register(core, name: str, handler, aliases: tuple[str, ...], french: str, help_key: str | None,
             *, needs_member: bool = False, in_groups: bool = False) -> None:
    """A privileged command: open to non-members (an admin need not be a resident), listed in /modhelp.

    Anonymous: a stranger trying it is refused without a record being created for them; an admin
    writing for the first time gets theirs in ``access``."""
    core.router.command(Command(name, handler, aliases=aliases, needs_member=needs_member,
                                in_groups=in_groups, french_name=french, anonymous=True, staff=True))
    if help_key:
        core.hooks.moderator_help.append(ModeratorCommand(name, french, help_key))


def _privacy(core) -> None:
    """/mydata and /forget cover what moderation stores (reports, warnings, mutes, bans, audit, activity)."""
    core.hooks.person_data(report_store.export, report_store.erase)
    core.hooks.person_data(sanctions.export, sanctions.erase)
    core.hooks.person_data(audit.export, audit.erase)
    core.hooks.person_data(activity.export)


def install(core) -> None:
    _privacy(core)
    core.router.action("mod", mod_action, before_onboarding=True)  # role-checked: admins need not join
    register(core, "circles", circles_cmd, ("cercles",), "cercles", "modhelp-circles")
    register(core, "circle", circle_cmd, ("cercle",), "cercle", "modhelp-circle")
    register(core, "move", move_cmd, ("deplacer",), "deplacer", "modhelp-move")
    register(core, "merge", merge_cmd, ("fusionner",), "fusionner", "modhelp-merge")
    register(core, "split", split_cmd, ("scinder", "diviser"), "scinder", "modhelp-split")
    register(core, "host", host_cmd, ("animateur", "animer"), "animateur", "modhelp-host")
    register(core, "unhost", unhost_cmd, ("retirer_animateur", "retireranimateur"), "retirer_animateur",
             "modhelp-unhost")
    register(core, "moderator", moderator_cmd, ("moderateur",), "moderateur", "modhelp-moderator")
    register(core, "unmoderator", unmoderator_cmd, ("retirer_moderateur", "retirermoderateur"),
             "retirer_moderateur", "modhelp-unmoderator")
    register(core, "announce", announce_cmd, ("annonce", "annoncer"), "annonce", "modhelp-announce")
    register(core, "audit", audit_cmd, ("journal",), "journal", "modhelp-audit")
    register(core, "modhelp", modhelp_cmd, ("aidemoderation", "aide_moderation"), "aide_moderation", None)
