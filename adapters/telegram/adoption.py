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

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adapters.telegram import store
from bot.circles import place_label
from bot.core import roles
from bot.core.chat import Incoming, JoinedIn, TextIn
from bot.core.hooks import RoomEvent
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

# Longest message relayed between private chats while a circle waits for its group.
MAX_WAITING_RELAY = 1000
# Local hours when moderators may be asked to make a group (once a day, by the outbox's dedupe key).
ASK_FROM, ASK_UNTIL = 9, 20

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
        name = place_label(core, circle.place_id)
        await core.queue_message(core.db, store.PLATFORM, free[0], t("telegram-group-given", place=name,
                                                                          number=circle.number), (), now)
    return given


# ---- groups on demand -------------------------------------------------------------------------------


async def ask_for_groups(core: Core, now: datetime, bot_username: str) -> int:
    """Circles still waiting for a group once the pool is empty: their neighbourhood's moderators (or
    the admins, where it has none) get the steps once a day, and each waiting resident is told once,
    plainly, that the circle exists and its group is on its way. Returns how many circles wait."""
    waiting = await store.waiting_invites(core.db)
    by_place: dict[str, list[int]] = {}
    for circle_id, item_ids in waiting.items():
        circle = await circle_store.get(core.db, circle_id)
        if circle is None or circle.status != "open":
            continue
        by_place.setdefault(circle.place_id, []).append(circle.number)
        for person_id in await _waiting_people(core, item_ids):
            await _tell_group_coming(core, person_id, circle.place_id, circle.number, now)
    local = now.astimezone(core.config.deployment.zone)
    if ASK_FROM <= local.hour < ASK_UNTIL:  # volunteers are not woken up for it
        for place_id, numbers in sorted(by_place.items()):
            await _ask_moderators(core, place_id, len(numbers), now, bot_username)
    return sum(len(n) for n in by_place.values())


async def _waiting_people(core: Core, item_ids: list[int]) -> list[int]:
    rows = await core.db.fetchall(
        f"SELECT payload FROM outbox WHERE id IN ({','.join('?' * len(item_ids))})", item_ids
    )
    return sorted({int(json.loads(r[0])["person_id"]) for r in rows})


async def _tell_group_coming(core: Core, person_id: int, place_id: str, number: int, now: datetime) -> None:
    place = place_label(core, place_id)
    await core.tell(
        core.db, person_id, lambda t: t("telegram-group-coming", place=place, number=number), None, now,
        dedupe_key=f"telegram-group-coming:{place_id}:{number}:{person_id}",
    )


async def _ask_moderators(core: Core, place_id: str, circles: int, now: datetime, bot: str) -> None:
    """Once a day per neighbourhood (the outbox keeps one message per person and local day)."""
    who = await roles.moderators_of(core.db, place_id) or await roles.admin_ids(core.db, core.config.deployment.admins)
    if not who:
        log.warning("circles of %s wait for a Telegram group and nobody moderates it", place_id)
        return
    place = core.content.places.get(place_id)
    name = place.name if place else place_id
    day = now.astimezone(core.config.deployment.zone).date().isoformat()
    for person_id in who:
        await core.tell(
            core.db, person_id,
            lambda t: t.plural("telegram-need-group", circles, place=name, bot=bot,
                               rights=describe_missing(t, [key for _, key in REQUIRED_RIGHTS[1:]])),
            None, now, dedupe_key=f"telegram-need-group:{place_id}:{day}:{person_id}",
        )


async def relay_while_waiting(ctx: Context) -> bool:
    """Private words of a Telegram member whose circle has no group yet go to the circle's other
    members (their private chats, and the circle's rooms on other platforms), with the author's name:
    the circle works before its group exists. Once the group is adopted, members get its link."""
    if ctx.address.platform != store.PLATFORM or ctx.person is None or not isinstance(ctx.body, TextIn):
        return False
    text = ctx.body.text.strip()
    circle = await circle_store.circle_of(ctx.db, ctx.person.id)
    if not text or circle is None or await circle_store.room_on(ctx.db, circle.id, store.PLATFORM) is not None:
        return False
    reached = await _relay_privately(ctx.core, circle.id, ctx.person, text, ctx.event.external_id, ctx.now)
    reached += await ctx.core.post_to_circle(
        ctx.db, circle.id, _line(ctx.core.t_default, ctx.person, text), ctx.now, kind="relay",
        dedupe_key=f"telegram-waiting:{ctx.event.external_id}",
    )
    await ctx.reply(ctx.t.plural("telegram-waiting-relayed", reached) if reached else ctx.t("telegram-waiting-alone"))
    return True


async def _relay_privately(core: Core, circle_id: int, author: Person, text: str, source: str, now: datetime) -> int:
    """To each other member on Telegram (the circle has no group there yet), in the room's language."""
    reached = 0
    for member_id in await circle_store.member_ids(core.db, circle_id):
        if member_id == author.id:
            continue
        for identity in await people.identities(core.db, member_id):
            if identity.platform != store.PLATFORM or identity.unreachable_at:
                continue
            reached += await core.queue_message(
                core.db, store.PLATFORM, identity.private_chat_id, _line(core.t_default, author, text), (), now,
                dedupe_key=f"telegram-waiting:{source}:{member_id}", kind="relay",
            )
    return reached


def _line(t: Translator, author: Person, text: str) -> Localized:
    return t("relay-message", name=author.first_name or t("someone"), text=text[:MAX_WAITING_RELAY])


# ---- strangers ---------------------------------------------------------------------------------------


async def on_group_event(core: Core, room: RoomEvent) -> None:
    """A group hook: a join into a circle group by someone who is not of that circle is a stranger's;
    words written in the circle's room on another platform reach its Telegram members still waiting
    for their group."""
    event, person, circle_id, now = room.event, room.person, room.circle_id, room.now
    if event.address.platform != store.PLATFORM:
        await _room_words_to_waiting(core, room)
        return
    if not isinstance(event.body, JoinedIn):
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


async def _room_words_to_waiting(core: Core, room: RoomEvent) -> None:
    body = room.event.body
    if room.person is None or room.person.circle_id != room.circle_id or not isinstance(body, TextIn):
        return
    if not body.text.strip() or any(platform == store.PLATFORM for platform, _ in room.rooms):
        return
    await _relay_privately(core, room.circle_id, room.person, body.text.strip(), room.event.external_id, room.now)


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
    place = place_label(core, circle.place_id)
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
    if on_group_event not in core.hooks.group:
        core.hooks.on_room_event(on_group_event)
    if relay_while_waiting not in core.hooks.private_words:
        core.hooks.private_words.append(relay_while_waiting)
    core.hooks.deferred[ADOPT_WORK] = check_rights
