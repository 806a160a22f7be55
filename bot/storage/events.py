"""Events: what organizers offer, where and when, and where each one stands (pending, published …)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.core.clock import from_iso, to_iso
from bot.storage.database import Database, Row

LIVE = ("pending", "published")  # statuses that count towards the weekly cap and show to the organizer


@dataclass(frozen=True)
class Event:
    id: int
    organizer_id: int
    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    location: str
    description: str
    capacity: int | None
    interests: tuple[str, ...]
    status: str
    source: str
    sequence: int
    places: tuple[str, ...] = field(default=())
    updated_at: str = ""


@dataclass(frozen=True)
class Draft:
    """What an organizer typed (or a calendar file said), before it is stored."""

    title: str
    starts_at: datetime
    location: str
    description: str
    places: tuple[str, ...]
    interests: tuple[str, ...] = ()
    capacity: int | None = None
    ends_at: datetime | None = None


async def _event(db: Database, row: Row) -> Event:
    places = await db.fetchall(
        f"SELECT place_id FROM event_places WHERE event_id = ? ORDER BY {db.dialect.insertion_order}", (row["id"],)
    )
    return Event(
        id=row["id"], organizer_id=row["organizer_id"], uid=row["uid"], title=row["title"],
        starts_at=from_iso(row["starts_at"]), ends_at=from_iso(row["ends_at"]) if row["ends_at"] else None,
        location=row["location"], description=row["description"], capacity=row["capacity"],
        interests=tuple(row["interests"].split()), status=row["status"], source=row["source"],
        sequence=row["sequence"], places=tuple(r[0] for r in places), updated_at=row["updated_at"],
    )


async def get(db: Database, event_id: int) -> Event | None:
    row = await db.fetchone("SELECT * FROM events WHERE id = ?", (event_id,))
    return await _event(db, row) if row else None


async def by_uid(db: Database, organizer_id: int, uid: str) -> Event | None:
    row = await db.fetchone("SELECT * FROM events WHERE organizer_id = ? AND uid = ?", (organizer_id, uid))
    return await _event(db, row) if row else None


async def create(db: Database, organizer_id: int, draft: Draft, status: str, now: datetime, *, uid: str = "",
                 source: str = "typed") -> int:
    event_id = await db.insert(
        "INSERT INTO events (organizer_id, uid, title, starts_at, ends_at, location, description, capacity, "
        "interests, status, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (organizer_id, uid or f"pending-{to_iso(now)}-{organizer_id}", draft.title, to_iso(draft.starts_at),
         to_iso(draft.ends_at) if draft.ends_at else None, draft.location, draft.description, draft.capacity,
         " ".join(draft.interests), status, source, to_iso(now), to_iso(now)),
    )
    if not uid:  # our own events get a stable, globally unique UID once the id is known
        await db.execute("UPDATE events SET uid = ? WHERE id = ?", (f"event-{event_id}", event_id))
    await set_places(db, event_id, draft.places)
    return event_id


async def set_places(db: Database, event_id: int, places: tuple[str, ...] | list[str]) -> None:
    await db.execute("DELETE FROM event_places WHERE event_id = ?", (event_id,))
    await db.executemany("INSERT INTO event_places (event_id, place_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                         [(event_id, p) for p in places])


_FIELDS = {"title", "starts_at", "ends_at", "location", "description", "capacity", "interests"}


async def update(db: Database, event_id: int, now: datetime, **changes: object) -> None:
    """Change some fields and bump the sequence. Column names come from a fixed set, never from input."""
    for column, value in changes.items():
        if column not in _FIELDS:
            raise ValueError(f"not an editable event field: {column}")
        if isinstance(value, datetime):
            value = to_iso(value)
        elif isinstance(value, tuple | list):
            value = " ".join(value)
        await db.execute(f"UPDATE events SET {column} = ? WHERE id = ?", (value, event_id))
    if "starts_at" in changes:  # a new date deserves a new reminder
        await db.execute("UPDATE events SET reminded_at = NULL WHERE id = ?", (event_id,))
    await db.execute("UPDATE events SET sequence = sequence + 1, updated_at = ? WHERE id = ?", (to_iso(now), event_id))


async def set_status(db: Database, event_id: int, status: str, now: datetime, *, expected: str | None = None) -> bool:
    """Move an event on; with ``expected`` only from that status (so two moderators cannot both approve).
    A cancellation bumps the sequence, as an edit does: calendars subscribed to the neighbourhood's feed
    only apply a change whose SEQUENCE grew (RFC 5545)."""
    bump = ", sequence = sequence + 1" if status == "cancelled" else ""
    sql = f"UPDATE events SET status = ?, updated_at = ?{bump} WHERE id = ?"
    params: tuple = (status, to_iso(now), event_id)
    if expected is not None:
        sql += " AND status = ?"
        params += (expected,)
    return await db.execute(sql, params) == 1


async def mark(db: Database, event_id: int, column: str, now: datetime) -> bool:
    """Set announced_at or reminded_at once; False when it was already set (at most once)."""
    if column not in ("announced_at", "reminded_at"):
        raise ValueError(column)
    return await db.execute(f"UPDATE events SET {column} = ? WHERE id = ? AND {column} IS NULL",
                            (to_iso(now), event_id)) == 1


async def of_organizer(db: Database, organizer_id: int, since: datetime) -> list[Event]:
    rows = await db.fetchall(
        "SELECT * FROM events WHERE organizer_id = ? AND status IN ('pending', 'published') AND starts_at >= ? "
        "ORDER BY starts_at, id", (organizer_id, to_iso(since)),
    )
    return [await _event(db, r) for r in rows]


async def count_between(db: Database, organizer_id: int, start: datetime, end: datetime,
                        exclude: int | None = None) -> int:
    """Live events of an organizer starting in [start, end): the weekly cap counts these."""
    return int(await db.scalar(
        "SELECT COUNT(*) FROM events WHERE organizer_id = ? AND status IN ('pending', 'published') "
        "AND starts_at >= ? AND starts_at < ? AND id != ?",
        (organizer_id, to_iso(start), to_iso(end), exclude or 0),
    ))


async def published_in(db: Database, place_ids: list[str], start: datetime, end: datetime) -> list[Event]:
    """Published events of some neighbourhoods starting in [start, end), soonest first."""
    if not place_ids:
        return []
    marks = ", ".join("?" for _ in place_ids)
    rows = await db.fetchall(
        "SELECT DISTINCT e.* FROM events e JOIN event_places p ON p.event_id = e.id "
        f"WHERE e.status = 'published' AND e.starts_at >= ? AND e.starts_at < ? AND p.place_id IN ({marks}) "
        "ORDER BY e.starts_at, e.id",
        (to_iso(start), to_iso(end), *place_ids),
    )
    return [await _event(db, r) for r in rows]


async def to_remind(db: Database, start: datetime, end: datetime) -> list[int]:
    rows = await db.fetchall(
        "SELECT id FROM events WHERE status = 'published' AND reminded_at IS NULL AND starts_at >= ? AND starts_at < ?",
        (to_iso(start), to_iso(end)),
    )
    return [r[0] for r in rows]
