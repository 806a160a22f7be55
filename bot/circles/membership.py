"""Joining, leaving and talking in a circle — the decisions of ``bot.circles.placement`` applied to storage.

Everything here runs inside the caller's transaction, and everything it says goes through the outbox,
so a crash between "placed in a circle" and "invited to its room" cannot leave one without the other.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from bot.circles.placement import CircleView, Newcomer, choose_circle, plan_merges
from bot.core import roles
from bot.core.chat import LeftIn, TextIn
from bot.core.clock import to_iso
from bot.core.hooks import RoomEvent
from bot.core.i18n import Localized
from bot.storage import circles as circle_store
from bot.storage import people
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


async def place(core, db: Database, person: Person, now: datetime) -> int:
    """Put a person in the best open circle of their neighbourhood (or a new one), invite them to its
    rooms, introduce them to the circle and welcome them. Returns the circle id."""
    assert person.place_id is not None
    newcomer = Newcomer(frozenset(person.interests), frozenset(person.offers), frozenset(person.wants))
    best = choose_circle(newcomer, await circle_views(db, person.place_id), core.config.circles)
    circle = await circle_store.get(db, best.id) if best else await circle_store.create(db, person.place_id, now)
    assert circle is not None
    others = await circle_store.member_ids(db, circle.id)
    await circle_store.add_member(db, circle.id, person.id, now)
    await welcome(core, db, person, circle.id, others, now)  # queued first: read before the invitation
    await core.queue_invite(db, circle.id, person.id, now)
    if await roles.is_moderator(db, core.config.deployment.admins, person.id, person.place_id):
        await core.queue_room_power(db, circle.id, person.id, roles.ROOM_POWER, now)
    if others:
        await core.post_to_circle(db, circle.id, await introduction(core, person), now)
    return circle.id


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
    await core.tell(db, person.id, lambda _t: text, None, now)


def place_label(core, place_id: str) -> str:
    place = core.content.places.get(place_id)
    return place.name if place else place_id


async def leave(
    core, db: Database, person: Person, now: datetime, *, announce: bool = True, from_rooms: bool = True,
    ban: bool = False,
) -> int | None:
    """Take a person out of their circle and its rooms (``from_rooms=False`` when they already left the
    room themselves) and tell the circle, without saying why."""
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
