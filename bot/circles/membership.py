"""Joining, leaving and talking in a circle — the decisions of ``bot.circles.placement`` applied to storage.

Everything here runs inside the caller's transaction, and everything it says goes through the outbox,
so a crash between "placed in a circle" and "invited to its room" cannot leave one without the other.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from bot.circles.placement import (
    OPEN_AFTER_WAIT,
    WAIT_DAYS,
    CircleView,
    Newcomer,
    decide,
    plan_merges,
    ready_to_open,
    split_with,
)
from bot.core import roles
from bot.core.chat import LeftIn, TextIn
from bot.core.clock import to_iso
from bot.core.hooks import RoomEvent
from bot.core.i18n import Localized
from bot.storage import circles as circle_store
from bot.storage import outbox, people
from bot.storage.database import Database
from bot.storage.people import Person

MAX_RELAY = 3000  # a mirrored message longer than this is cut, with a note


async def circle_views(db: Database, place_id: str) -> list[CircleView]:
    """The open circles of a neighbourhood with what their members like, offer and want."""
    rows = await db.fetchall(
        "SELECT c.id, p.interests, p.offers, p.wants FROM circles c "
        "LEFT JOIN circle_members m ON m.circle_id = c.id LEFT JOIN people p ON p.id = m.person_id "
        "WHERE c.place_id = ? AND c.status = 'open' ORDER BY c.id",
        (place_id,),
    )
    views: dict[int, CircleView] = {}
    for circle_id, interests, offers, wants in rows:
        view = views.setdefault(circle_id, CircleView(circle_id, 0, Counter(), Counter(), Counter()))
        if interests is not None:
            view.add(Newcomer(frozenset(interests.split()), frozenset(offers.split()), frozenset(wants.split())))
    return list(views.values())


async def place(core, db: Database, person: Person, now: datetime) -> int | None:
    """Put a person in a circle of their neighbourhood following ``placement.decide``: join the best
    one, open one with the neighbours waiting, split a full one, or wait (told why). Returns the
    circle id, or None while they wait."""
    assert person.place_id is not None
    await circle_store.drop_wait(db, person.id)
    newcomer = Newcomer(frozenset(person.interests), frozenset(person.offers), frozenset(person.wants))
    waiting = await circle_store.waiting(db, person.place_id)
    decision = decide(newcomer, await circle_views(db, person.place_id), len(waiting), core.config.circles)
    if decision.action == "wait":
        await circle_store.add_wait(db, person.id, person.place_id, now)
        await tell_waiting(core, db, person.place_id, [*waiting, person.id], now)
        return None
    if decision.action == "open":
        return await open_circle(core, db, person.place_id, [*waiting, person.id], now)
    assert decision.circle is not None
    if decision.action == "split":
        return await split_full(core, db, decision.circle.id, person, now)
    return await join(core, db, decision.circle.id, person, now)


async def join(core, db: Database, circle_id: int, person: Person, now: datetime) -> int:
    """Add one person to a circle: invited to its rooms, introduced to the circle, welcomed."""
    others = await circle_store.member_ids(db, circle_id)
    await circle_store.add_member(db, circle_id, person.id, now)
    await welcome(core, db, person, circle_id, others, now)  # queued first: read before the invitation
    await core.queue_invite(db, circle_id, person.id, now)
    if await roles.is_moderator(db, core.config.deployment.admins, person.id, person.place_id):
        await core.queue_room_power(db, circle_id, person.id, roles.ROOM_POWER, now)
    if others:
        await core.post_to_circle(db, circle_id, await introduction(core, person), now)
    return circle_id


async def tell_waiting(core, db: Database, place_id: str, waiting: list[int], now: datetime) -> None:
    """The newcomer (the last of ``waiting``) hears how many wait and how many are still needed. The
    others are not interrupted (they may be answering a question): they hear when the circle opens."""
    open_with = core.config.circles.open_with
    await core.tell(db, waiting[-1], lambda t: t.plural(
        "circle-waiting", len(waiting), place=place_label(core, place_id), needed=open_with - len(waiting),
        open_with=open_with, days=WAIT_DAYS, minimum=OPEN_AFTER_WAIT), None, now)


async def open_circle(core, db: Database, place_id: str, person_ids: list[int], now: datetime) -> int:
    """A new circle with the neighbours who waited for it: all invited together, each welcomed with
    the others' names, so nobody ever sits alone in its room."""
    circle = await circle_store.create(db, place_id, now)
    members = [p for p in [await people.get(db, pid) for pid in person_ids] if p is not None]
    for person in members:
        await circle_store.drop_wait(db, person.id)
        await circle_store.add_member(db, circle.id, person.id, now)
    for person in members:  # each welcome queued before its invitation: read first
        await welcome(core, db, person, circle.id, [m.id for m in members if m.id != person.id], now)
        await core.queue_invite(db, circle.id, person.id, now)
        if await roles.is_moderator(db, core.config.deployment.admins, person.id, place_id):
            await core.queue_room_power(db, circle.id, person.id, roles.ROOM_POWER, now)
    return circle.id


async def open_waiting_circles(core, db: Database, now: datetime) -> list[int]:
    """The daily pass: a small place whose neighbours waited ``WAIT_DAYS`` opens its circle with three."""
    opened = []
    for place_id, count, oldest in await circle_store.waiting_places(db):
        if await circle_store.open_in_place(db, place_id):  # a circle exists: the waiting join it
            for person_id in await circle_store.waiting(db, place_id):
                person = await people.get(db, person_id)
                if person is not None and person.place_id == place_id:
                    await place(core, db, person, now)
        elif ready_to_open(count, oldest, now, core.config.circles):
            opened.append(await open_circle(core, db, place_id, await circle_store.waiting(db, place_id), now))
    return opened


async def split_full(core, db: Database, circle_id: int, person: Person, now: datetime) -> int:
    """Every circle is full: this one and the newcomer become two circles in one step. Those who move
    leave the old rooms and are invited to the new ones; both circles are told. Returns the newcomer's
    circle."""
    circle = await circle_store.get(db, circle_id)
    assert circle is not None
    members = []
    for member_id in await circle_store.member_ids(db, circle_id):
        member = await people.get(db, member_id)
        members.append((member_id, frozenset(member.interests) if member else frozenset()))
    _, moving = split_with(members, (person.id, frozenset(person.interests)))
    new = await circle_store.create(db, circle.place_id, now)
    moved = [m for m in moving if m != person.id]
    t = core.t_default
    await core.post_to_circle(db, circle_id, t.plural("circle-split-away", len(moved), number=new.number), now)
    for member_id in moved:
        await circle_store.move_member(db, member_id, new.id)
        await core.queue_room_removal(db, circle_id, member_id, now)
        await core.queue_invite(db, new.id, member_id, now)
        if await roles.is_host(db, member_id, new.id) or await roles.is_moderator(
                db, core.config.deployment.admins, member_id, circle.place_id):
            await core.queue_room_power(db, new.id, member_id, roles.ROOM_POWER, now)
        await core.tell(db, member_id, lambda tr: tr("circle-split-moved", place=place_label(core, new.place_id),
                                                     number=new.number), None, now)
    return await join(core, db, new.id if person.id in moving else circle_id, person, now)


async def introduction(core, person: Person) -> Localized:
    """What the circle reads about a newcomer: first name, what they like, what help they offer."""
    t = core.t_default
    interests = ", ".join(core.content.interests.labels(person.interests, t.lang))
    offers = ", ".join(core.content.help_kinds.labels(person.offers, t.lang))
    parts = [t("circle-introduce", name=person.first_name or t("someone"))]
    if interests:
        parts.append(t("circle-introduce-likes", interests=interests))
    if offers:
        parts.append(t("circle-introduce-offers", offers=offers))
    parts.append(t("circle-introduce-hello"))
    return Localized.join(parts, " ")


async def welcome(core, db: Database, person: Person, circle_id: int, others: list[int], now: datetime) -> None:
    t = core.translator(person.language)
    circle = await circle_store.get(db, circle_id)
    assert circle is not None
    # The circle named as its room is (the room's name is in the deployment's language).
    room = core.t_default("circle-room-name", place=place_label(core, circle.place_id), number=circle.number)
    names = []
    for other_id in others[:12]:
        other = await people.get(db, other_id)
        if other:
            names.append(other.first_name or t("someone"))
    text = t("circle-welcome", room=room, names=", ".join(names)) if names else t("circle-welcome-first", room=room)
    await core.tell(db, person.id, lambda _t: text, None, now, delivery_class=outbox.ANSWER)  # ends onboarding


def place_label(core, place_id: str) -> str:
    place = core.content.places.get(place_id)
    return place.name if place else place_id


async def leave(
    core, db: Database, person: Person, now: datetime, *, announce: bool = True, from_rooms: bool = True,
    ban: bool = False,
) -> int | None:
    """Take a person out of their circle and its rooms (``from_rooms=False`` when they already left the
    room themselves) and tell the circle, without saying why."""
    await circle_store.drop_wait(db, person.id)
    circle_id = await circle_store.remove_member(db, person.id)
    if circle_id is None:
        return None
    if from_rooms:
        await core.queue_room_removal(db, circle_id, person.id, now, ban=ban)
    if announce:
        t = core.t_default
        await core.post_to_circle(db, circle_id, t("circle-member-left", name=person.first_name or t("someone")), now)
    return circle_id


async def on_circle_event(core, room: RoomEvent) -> None:
    """A circle room event: mirror words to the circle's other rooms, follow who leaves. (Members
    joining by their invitation need nothing here: their activity is already recorded.)"""
    event, person, circle_id, now = room.event, room.person, room.circle_id, room.now
    if person is None or person.circle_id != circle_id:
        return  # not a member of this circle: the platform adapter decides what to do with strangers
    body = event.body
    if isinstance(body, TextIn) and body.text.strip():
        await relay(core, room, person, body.text)
    elif isinstance(body, LeftIn):
        await leave(core, core.db, person, now, from_rooms=False)


async def relay(core, room: RoomEvent, person: Person, text: str) -> None:
    """One neighbourhood is one conversation whatever the app: copy words to the circle's other rooms."""
    event = room.event
    t = core.t_default
    if len(text) > MAX_RELAY:
        text = text[:MAX_RELAY] + "…"
    line = t("relay-message", name=person.first_name or t("someone"), text=text)
    key = f"relay:{event.address.platform}:{event.external_id}"
    await core.post_to_circle(
        core.db,
        room.circle_id,
        line,
        room.now,
        skip_chat=(event.address.platform, event.address.chat_id),
        kind="relay",
        dedupe_key=key,
        rooms=room.rooms,
    )


async def merge_small_circles(core, db: Database, now: datetime, active_days: int = 30) -> list[tuple[int, int]]:
    """The periodic pass: circles with too few active members join another of their neighbourhood."""
    since = to_iso(now - timedelta(days=active_days))
    rows = await db.fetchall(
        "SELECT c.place_id, c.id, COUNT(m.person_id), "
        "SUM(CASE WHEN p.last_active_at >= ? THEN 1 ELSE 0 END) FROM circles c "
        "LEFT JOIN circle_members m ON m.circle_id = c.id LEFT JOIN people p ON p.id = m.person_id "
        "WHERE c.status = 'open' GROUP BY c.place_id, c.id",
        (since,),
    )
    by_place: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    for place_id, circle_id, total, active in rows:
        active_sizes, total_sizes = by_place.setdefault(place_id, ({}, {}))
        active_sizes[circle_id], total_sizes[circle_id] = int(active or 0), int(total)
    done = []
    for active_sizes, total_sizes in by_place.values():
        for source, target in plan_merges(active_sizes, total_sizes, core.config.circles):
            await merge(core, db, source, target, now)
            done.append((source, target))
    return done


async def merge(core, db: Database, source: int, target: int, now: datetime) -> None:
    """Members of ``source`` move into ``target`` and are invited to its rooms; both circles are told."""
    moved = await circle_store.member_ids(db, source)
    t = core.t_default
    await core.post_to_circle(db, source, t("circle-merged-away"), now)
    await circle_store.move_members(db, source, target)
    await circle_store.set_status(db, source, "merged")
    for person_id in moved:
        await core.queue_invite(db, target, person_id, now)
    await core.post_to_circle(db, target, t.plural("circle-merged-in", len(moved)), now)
