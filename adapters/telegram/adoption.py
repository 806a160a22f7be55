"""Telegram groups for circles: ``/adopt`` (``/adopter``), the pool, and strangers at the door.

A Telegram bot cannot create a group. A moderator creates one, adds the bot as administrator and
sends ``/adopt [neighbourhood]`` in it. The bot checks its own rights there and says exactly which are
missing; with all of them the group joins its neighbourhood's pool and is given at once to a circle
that waits for one (its waiting invitations are made due now), or later, to the next circle that needs
one (``give_groups`` runs again from the adapter's housekeeping loop).

Someone who joins a circle group without being a member of that circle (a forwarded link, a link used
by someone else) is a stranger: recorded here, removed by the adapter (ban then unban, so an invitation
later still works), and the neighbourhood's moderators are told.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adapters.telegram import store
from bot.circles import membership
from bot.core import roles
from bot.core.chat import Incoming, JoinedIn
from bot.core.i18n import Localized, Translator
from bot.core.places import Place
from bot.core.router import Command, Context
from bot.storage import circles as circle_store
from bot.storage import people
from bot.storage.database import Database
from bot.storage.people import Person

if TYPE_CHECKING:
    from bot.core.app import Core

log = logging.getLogger(__name__)

# What the bot needs in a circle group, in the order they are listed to the moderator.
# Being an administrator is what lets it see every message (privacy mode stops at admins).
REQUIRED_RIGHTS: tuple[tuple[str, str], ...] = (
    ("status", "telegram-right-admin"),
    ("can_invite_users", "telegram-right-invite"),
    ("can_delete_messages", "telegram-right-delete"),
    ("can_restrict_members", "telegram-right-ban"),
)


def missing_rights(member: Any) -> list[str]:
    """Catalogue keys of the rights the bot lacks, given its ``ChatMember`` in the group. Pure."""
    status = getattr(member, "status", "left")
    if status == "creator":
        return []
    if status != "administrator":
        return [key for _, key in REQUIRED_RIGHTS]
    return [key for right, key in REQUIRED_RIGHTS[1:] if not getattr(member, right, False)]


def describe_missing(t: Translator, keys: Sequence[str]) -> Localized:
    return Localized.join([Localized("• ") + t(key) for key in keys])


# ---- /adopt -----------------------------------------------------------------------------------------


async def adopt(ctx: Context) -> None:
    """``/adopt [neighbourhood]`` in a group, by a moderator of that neighbourhood.

    The bot's rights in the group are asked from Telegram (up to 10 s) after this transaction commits,
    as deferred work (``check_rights``): the write transaction never waits on the network."""
    address = ctx.address
    if address.private or address.platform != store.PLATFORM:
        await ctx.reply(ctx.t("telegram-adopt-in-group"))
        return
    if ctx.person is None:
        await ctx.reply(ctx.t("telegram-adopt-who"))
        return
    place = await _place_for(ctx)
    if place is None:
        return
    if not await roles.is_moderator(ctx.db, ctx.core.config.deployment.admins, ctx.person.id, place.id):
        await ctx.reply(ctx.t("telegram-adopt-not-moderator", place=place.name))
        return
    await ctx.core.queue_work(ctx.db, store.PLATFORM, address.chat_id, ADOPT_WORK,
                              {"event": ctx.event.to_json(), "place_id": place.id}, ctx.now)


ADOPT_WORK = "telegram-adopt"


async def check_rights(core: Core, order: dict) -> Callable[[Database], Awaitable[None]]:
    """Deferred work of ``/adopt``: read the bot's rights in the group (network, no transaction open),
    then, in the step returned (one transaction), say what is missing or adopt the group. Who asked is
    looked up again there: they may have been forgotten, or lost their role, meanwhile."""
    event = Incoming.from_json(order["event"])
    adapter = core.transports.get(store.PLATFORM)
    try:
        member, title = await adapter.bot_member(event.address.chat_id)  # type: ignore[union-attr]
    except Exception as exc:  # the rights could not be read now: say so, change nothing
        log.warning("rights check in %s failed: %s", event.address.chat_id, exc)
        member, title = None, ""

    async def answer(db: Database) -> None:
        person = await people.by_identity(db, store.PLATFORM, event.address.user_id)
        place = core.content.places.get(order["place_id"])
        if person is None or place is None:
            return
        ctx = Context(core, db, event, person, core.translator(person.language), core.clock.now())
        if not await roles.is_moderator(db, core.config.deployment.admins, person.id, place.id):
            await ctx.reply(ctx.t("telegram-adopt-not-moderator", place=place.name))
        elif member is None:
            await ctx.reply(ctx.t("telegram-adopt-check-failed"))
        elif missing := missing_rights(member):
            await ctx.reply(ctx.t("telegram-adopt-missing", missing=describe_missing(ctx.t, missing)))
        else:
            await _accept(ctx, place, title)

    return answer


async def _place_for(ctx: Context) -> Place | None:
    """The neighbourhood named after the command, or the only one the moderator looks after."""
    places = ctx.core.content.places
    typed = ctx.event.body.args.strip() if hasattr(ctx.event.body, "args") else ""
    if typed:
        match = places.match(typed[:100])
        if match.outcome == "found":
            return match.places[0]
        await ctx.reply(ctx.t("telegram-adopt-which-place", typed=typed[:100], examples=", ".join(places.examples(3))))
        return None
    mine = await roles.moderated_places(ctx.db, ctx.person.id)
    if len(mine) == 1 and places.get(mine[0]):
        return places.get(mine[0])
    await ctx.reply(ctx.t("telegram-adopt-name-place", examples=", ".join(places.examples(1))))
    return None


async def _accept(ctx: Context, place: Place, title: str) -> None:
    chat_id = ctx.address.chat_id
    existing = await store.group(ctx.db, chat_id)
    if existing is not None and existing.circle_id is not None:
        circle = await circle_store.get(ctx.db, existing.circle_id)
        number = circle.number if circle else "?"
        await ctx.reply(ctx.t("telegram-adopt-already", place=place.name, number=number))
        return
    room = await circle_store.room_by_chat(ctx.db, store.PLATFORM, chat_id)
    if room is not None:
        await ctx.reply(ctx.t("telegram-adopt-already", place=place.name, number="?"))
        return
    await store.adopt(ctx.db, chat_id, place.id, title, ctx.person.id, ctx.now)
    given = await give_groups(ctx.core, ctx.now, place_id=place.id)
    if chat_id in given:
        return  # the group was given a circle: its welcome line says so
    await ctx.reply(ctx.t("telegram-adopt-pooled", place=place.name))


async def give_groups(core: Core, now: datetime, place_id: str | None = None) -> dict[str, int]:
    """Give free pool groups to circles whose Telegram invitations wait for one; returns chat → circle.

    Runs in the caller's transaction. The waiting invitations become due now and the group is told
    which circle it now is, so the moderator who adopted it sees it worked.
    """
    given: dict[str, int] = {}
    for circle_id, item_ids in (await store.waiting_invites(core.db)).items():
        circle = await circle_store.get(core.db, circle_id)
        if circle is None or circle.status != "open" or (place_id and circle.place_id != place_id):
            continue
        free = [g for g in await store.free_groups(core.db, circle.place_id) if g not in given]
        if not free:
            continue
        await store.give(core.db, free[0], circle_id)
        await store.due_now(core.db, item_ids, now)
        given[free[0]] = circle_id
        t = core.t_default
        name = membership.place_label(core, circle.place_id)
        await core.queue_message(core.db, store.PLATFORM, free[0], t("telegram-group-given", place=name,
                                                                          number=circle.number), (), now)
    return given


# ---- strangers ---------------------------------------------------------------------------------------


async def on_group_event(core: Core, event: Incoming, person: Person | None, circle_id: int, now: datetime) -> None:
    """A group hook: a join into a circle group by someone who is not of that circle is a stranger's."""
    if event.address.platform != store.PLATFORM or not isinstance(event.body, JoinedIn):
        return
    if event.body.invite:
        await store.use_invite(core.db, event.body.invite, event.address.user_id, now)
    if person is not None and await _belongs(core, person, circle_id):
        return
    stranger_id = await store.add_stranger(
        core.db, event.address.chat_id, event.address.user_id, event.sender.first_name, circle_id, now
    )
    await _tell_moderators(core, circle_id, event.sender.first_name, stranger_id, now)
    waker = getattr(core.transports.get(store.PLATFORM), "wake_housekeeping", None)
    if waker:
        waker()


async def _belongs(core: Core, person: Person, circle_id: int) -> bool:
    circle = await circle_store.circle_of(core.db, person.id)
    if circle is not None and circle.id == circle_id:
        return True
    place = await circle_store.get(core.db, circle_id)
    admins = core.config.deployment.admins
    return await roles.is_moderator(core.db, admins, person.id, place.place_id if place else None)


async def _tell_moderators(core: Core, circle_id: int, name: str, stranger_id: int, now: datetime) -> None:
    circle = await circle_store.get(core.db, circle_id)
    if circle is None:
        return
    place = membership.place_label(core, circle.place_id)
    who = set(await roles.moderators_of(core.db, circle.place_id))
    who |= set(await roles.admin_ids(core.db, core.config.deployment.admins))
    for person_id in sorted(who):
        await core.tell(
            core.db, person_id,
            lambda t: t("telegram-stranger-removed", name=name or t("someone"), place=place, number=circle.number),
            None, now, dedupe_key=f"telegram-stranger:{stranger_id}:{person_id}",
        )


def install(core: Core) -> None:
    """Called by ``adapters.telegram.start``: the command and the hook exist only with Telegram on."""
    if core.router.find("adopt") is None:
        core.router.command(Command("adopt", adopt, aliases=("adopter",), help_key=None, needs_member=False,
                                    in_groups=True, french_name="adopter"))
    if on_group_event not in core.group_hooks:
        core.group_hooks.append(on_group_event)
    core.deferred[ADOPT_WORK] = check_rights
