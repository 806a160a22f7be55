"""Role and scope checks for privileged commands, and finding who or what a moderator means.

Every privileged handler asks here first. A refusal always says who can do it and changes nothing.
The check comes in two steps on purpose: a resident is refused before anything they typed is looked
up (so a refusal never reveals whether someone exists), then a moderator is checked against the
neighbourhood of what they would act on.
"""

from __future__ import annotations

import re

from bot.core import roles
from bot.core.interests import fold
from bot.core.places import Place
from bot.core.router import Context
from bot.storage import admins as admin_store
from bot.storage import circles as circle_store
from bot.storage import people
from bot.storage.circles import Circle
from bot.storage.people import Person

_ID = re.compile(r"^#?(\d{1,9})$")


def admins(ctx: Context) -> list[str]:
    return ctx.core.config.deployment.admins


def command_name(ctx: Context) -> str:
    body = ctx.event.body
    return getattr(body, "name", "")[:40]


async def is_admin(ctx: Context) -> bool:
    await _admin_first_contact(ctx)
    return ctx.person is not None and await roles.is_admin(ctx.db, admins(ctx), ctx.person.id)


async def _admin_first_contact(ctx: Context) -> None:
    """Privileged commands are anonymous (a stranger leaves no record); an admin named in the
    configuration who writes for the first time gets their record here, as any first contact would."""
    address = ctx.address
    if ctx.person is None and address.private and await _named_admin(ctx, f"{address.platform}:{address.user_id}"):
        lang = ctx.event.sender.language if ctx.event.sender.language in ("fr", "en") else ctx.t.lang
        ctx.person = await people.create(ctx.db, address.platform, address.user_id, address.chat_id,
                                         ctx.event.sender.first_name[:64], lang, ctx.now)


async def _named_admin(ctx: Context, account: str) -> bool:
    """Named in the configuration, or added with ``voisinage admin add``."""
    return account in admins(ctx) or await admin_store.any_of(ctx.db, [account])


async def scope(ctx: Context) -> list[str] | None:
    """The neighbourhoods this person moderates; None means all of them (an admin)."""
    if await is_admin(ctx):
        return None
    return await roles.moderated_places(ctx.db, ctx.person.id) if ctx.person else []


def in_scope(place_ids: list[str] | None, place_id: str | None) -> bool:
    return place_ids is None or (place_id is not None and place_id in place_ids)


def place_name(ctx: Context, place_id: str | None) -> str:
    place = ctx.core.content.places.get(place_id) if place_id else None
    return place.name if place else (place_id or "?")


async def require_admin(ctx: Context) -> bool:
    if await is_admin(ctx):
        return True
    await ctx.reply(ctx.t("mod-refused-admin", command=command_name(ctx)))
    return False


async def require_some_moderator(ctx: Context) -> list[str] | bool | None:
    """Any moderator (or admin): returns their scope, or False after a refusal."""
    place_ids = await scope(ctx)
    if place_ids is None or place_ids:
        return place_ids
    await ctx.reply(ctx.t("mod-refused-moderator", command=command_name(ctx)))
    return False


async def places_asked(ctx: Context) -> list[str] | bool | None:
    """The neighbourhoods a moderator's listing command is about: the one named in its argument
    (checked against their scope), else all of theirs (None: everywhere, for admins). False after a
    refusal or an unknown name, which the person has been told about."""
    place_ids = await require_some_moderator(ctx)
    if place_ids is False:
        return False
    wanted = split_args(ctx, 1)[0]
    if not wanted:
        return place_ids
    place = find_place(ctx, wanted)
    if place is None:
        await ctx.reply(ctx.t("mod-place-unknown", typed=wanted[:60]))
        return False
    if not await require_place(ctx, place_ids, place.id):  # type: ignore[arg-type]
        return False
    return [place.id]


async def require_some_moderator_or_host(ctx: Context) -> bool:
    """Any moderator, admin or circle host; otherwise refused before anything typed is looked up."""
    if await scope(ctx) != [] or await is_host_anywhere(ctx):
        return True
    await ctx.reply(ctx.t("mod-refused-host-any", command=command_name(ctx)))
    return False


async def require_place(ctx: Context, place_ids: list[str] | None, place_id: str | None) -> bool:
    """A moderator acting outside their neighbourhoods is told whose job it is."""
    if in_scope(place_ids, place_id):
        return True
    await ctx.reply(ctx.t("mod-refused-place", command=command_name(ctx), place=place_name(ctx, place_id)))
    return False


async def require_host_or_moderator(ctx: Context, circle: Circle) -> bool:
    """Circle details are for that circle's host too, not only for moderators."""
    if ctx.person is not None:
        if await roles.is_moderator(ctx.db, admins(ctx), ctx.person.id, circle.place_id):
            return True
        if await roles.is_host(ctx.db, ctx.person.id, circle.id):
            return True
    await ctx.reply(ctx.t("mod-refused-host", command=command_name(ctx), place=place_name(ctx, circle.place_id)))
    return False


async def is_host_anywhere(ctx: Context) -> bool:
    if ctx.person is None:
        return False
    return bool(await ctx.db.scalar(
        "SELECT 1 FROM circle_members WHERE person_id = ? AND role = 'host'", (ctx.person.id,)
    ))


# ---- finding what is meant ----------------------------------------------------------------------


def split_args(ctx: Context, count: int) -> list[str]:
    """The first ``count - 1`` words and the rest, for "/ban #12 spams the circle"."""
    args = getattr(ctx.event.body, "args", "") or ""
    parts = args.strip().split(None, count - 1)
    return parts + [""] * (count - len(parts))


def as_id(text: str) -> int | None:
    match = _ID.match(text.strip())
    return int(match.group(1)) if match else None


async def find_person(ctx: Context, ref: str, place_ids: list[str] | None) -> Person | None:
    """"#12", "12" or a first name unique among the members a moderator sees. Replies when not found."""
    ref = ref.strip()[:64]
    if not ref:
        await ctx.reply(ctx.t("mod-person-missing"))
        return None
    number = as_id(ref)
    if number is not None:
        person = await people.get(ctx.db, number)
        if person is None or not person.onboarded:
            await ctx.reply(ctx.t("mod-person-unknown", ref=ref))
            return None
        return person
    return await _by_name(ctx, ref, place_ids)


async def _by_name(ctx: Context, name: str, place_ids: list[str] | None) -> Person | None:
    rows = await ctx.db.fetchall("SELECT id, first_name, place_id FROM people WHERE onboarded_at IS NOT NULL")
    wanted = fold(name)
    found = [r for r in rows if fold(r["first_name"]) == wanted and in_scope(place_ids, r["place_id"])]
    if not found:
        await ctx.reply(ctx.t("mod-person-unknown", ref=name))
        return None
    if len(found) > 1:
        listed = ", ".join(f"{r['first_name']} (#{r['id']}, {place_name(ctx, r['place_id'])})" for r in found[:8])
        await ctx.reply(ctx.t("mod-person-ambiguous", ref=name, people=listed))
        return None
    return await people.get(ctx.db, found[0]["id"])


async def find_circle(ctx: Context, ref: str) -> Circle | None:
    number = as_id(ref)
    circle = await circle_store.get(ctx.db, number) if number is not None else None
    if circle is None:
        await ctx.reply(ctx.t("mod-circle-unknown", ref=ref.strip()[:20] or "?"))
    return circle


def find_place(ctx: Context, text: str) -> Place | None:
    """A neighbourhood by id or by what a person would type ("belleville", "75020 belleville")."""
    text = text.strip()[:100]
    if not text:
        return None
    places = ctx.core.content.places
    exact = places.get(text)
    if exact is not None:
        return exact
    match = places.match(text)
    return match.places[0] if match.outcome == "found" else None
