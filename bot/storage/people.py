"""People and their platform identities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database, Row


@dataclass(frozen=True)
class Person:
    id: int
    first_name: str
    language: str
    consent_at: str | None
    place_id: str | None
    interests: tuple[str, ...]
    offers: tuple[str, ...]
    wants: tuple[str, ...]
    checkins: bool
    contact_person_id: int | None
    contact_confirmed_at: str | None
    onboarded_at: str | None
    last_active_at: str | None
    created_at: str
    circle_id: int | None = None  # their circle, when the query that loaded them joined it

    @property
    def onboarded(self) -> bool:
        return self.onboarded_at is not None


@dataclass(frozen=True)
class Identity:
    platform: str
    user_id: str
    person_id: int
    private_chat_id: str
    unreachable_at: str | None


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def from_row(row: Row) -> Person:
    return Person(
        id=row["id"],
        first_name=row["first_name"],
        language=row["language"],
        consent_at=row["consent_at"],
        place_id=row["place_id"],
        interests=_split(row["interests"]),
        offers=_split(row["offers"]),
        wants=_split(row["wants"]),
        checkins=bool(row["checkins"]),
        contact_person_id=row["contact_person_id"],
        contact_confirmed_at=row["contact_confirmed_at"],
        onboarded_at=row["onboarded_at"],
        last_active_at=row["last_active_at"],
        created_at=row["created_at"],
        circle_id=row["circle_id"] if "circle_id" in row.keys() else None,  # noqa: SIM118 - sqlite3.Row
    )


async def get(db: Database, person_id: int) -> Person | None:
    row = await db.fetchone("SELECT * FROM people WHERE id = ?", (person_id,))
    return from_row(row) if row else None


async def by_identity(db: Database, platform: str, user_id: str) -> Person | None:
    row = await db.fetchone(
        "SELECT p.*, m.circle_id AS circle_id FROM people p JOIN identities i ON i.person_id = p.id "
        "LEFT JOIN circle_members m ON m.person_id = p.id WHERE i.platform = ? AND i.user_id = ?",
        (platform, user_id),
    )
    return from_row(row) if row else None


async def create(
    db: Database, platform: str, user_id: str, private_chat_id: str, first_name: str, language: str, now: datetime
) -> Person:
    person_id = await db.insert(
        "INSERT INTO people (first_name, language, created_at, last_active_at) VALUES (?, ?, ?, ?)",
        (first_name, language, to_iso(now), to_iso(now)),
    )
    await db.execute(
        "INSERT INTO identities (platform, user_id, person_id, private_chat_id) VALUES (?, ?, ?, ?)",
        (platform, user_id, person_id, private_chat_id),
    )
    person = await get(db, person_id)
    assert person is not None
    return person


_EDITABLE = {
    "first_name",
    "language",
    "consent_at",
    "place_id",
    "checkins",
    "contact_person_id",
    "contact_confirmed_at",
    "onboarded_at",
}
_LISTS = {"interests", "offers", "wants"}


async def update(db: Database, person_id: int, **changes: object) -> None:
    """Change some fields. Column names come from the fixed sets above, never from input."""
    for column, value in changes.items():
        if column in _LISTS:
            value = " ".join(value)  # type: ignore[arg-type]
        elif column not in _EDITABLE:
            raise ValueError(f"not an editable field: {column}")
        await db.execute(f"UPDATE people SET {column} = ? WHERE id = ?", (value, person_id))


async def identities(db: Database, person_id: int) -> list[Identity]:
    rows = await db.fetchall("SELECT * FROM identities WHERE person_id = ? ORDER BY platform", (person_id,))
    return [Identity(**dict(row)) for row in rows]


async def mark_unreachable(db: Database, platform: str, private_chat_id: str, now: datetime) -> None:
    await db.execute(
        "UPDATE identities SET unreachable_at = ? WHERE platform = ? AND private_chat_id = ?",
        (to_iso(now), platform, private_chat_id),
    )


async def seen_in_private(db: Database, platform: str, user_id: str, chat_id: str) -> None:
    """Someone wrote to the bot privately: that chat reaches them (again), even if it is a new one
    (a new Matrix DM) or they had blocked the bot and came back."""
    await db.execute(
        "UPDATE identities SET private_chat_id = ?, unreachable_at = NULL WHERE platform = ? AND user_id = ? "
        "AND (private_chat_id != ? OR unreachable_at IS NOT NULL)",
        (chat_id, platform, user_id, chat_id),
    )


async def touch_many(db: Database, seen: dict[int, datetime]) -> None:
    """Record last activity for many people at once (flushed per batch of incoming events)."""
    await db.executemany(
        "UPDATE people SET last_active_at = ? WHERE id = ?",
        [(to_iso(moment), person_id) for person_id, moment in seen.items()],
    )


RoomKey = tuple[str, str, str]  # (platform, chat id, user id) of an event in a group
InRoom = tuple[int, list[tuple[str, str]], "Person | None"]


async def in_rooms(db: Database, keys: Sequence[RoomKey]) -> dict[RoomKey, InRoom]:
    """For events in groups: the circle whose room each chat is, that circle's rooms (platform, chat)
    and the sender with their own circle. Chats that are not circle rooms are absent from the result.

    One query for a whole batch of events, because this runs for every message neighbours write and
    each query is a hop to the database thread.
    """
    if not keys:
        return {}
    values = ", ".join("(?, ?, ?)" for _ in keys)
    d = db.dialect
    room_list = d.group_concat(f"r2.platform || {d.char(31)} || r2.chat_id", d.char(30))
    rows = await db.fetchall(
        f"WITH ev(platform, chat_id, user_id) AS (VALUES {values}) "  # only "(?, ?, ?)" placeholders
        "SELECT ev.platform AS ev_platform, ev.chat_id AS ev_chat, ev.user_id AS ev_user, "
        "r.circle_id AS room_circle, "
        f"(SELECT {room_list} FROM circle_rooms r2 "
        " WHERE r2.circle_id = r.circle_id) AS room_list, p.*, m.circle_id AS circle_id "
        "FROM ev JOIN circle_rooms r ON r.platform = ev.platform AND r.chat_id = ev.chat_id "
        "LEFT JOIN identities i ON i.platform = ev.platform AND i.user_id = ev.user_id "
        "LEFT JOIN people p ON p.id = i.person_id LEFT JOIN circle_members m ON m.person_id = p.id",
        [value for key in keys for value in key],
    )
    found: dict[RoomKey, InRoom] = {}
    for row in rows:
        rooms = [tuple(item.split("\x1f", 1)) for item in (row["room_list"] or "").split("\x1e") if item]
        person = from_row(row) if row["id"] is not None else None
        found[(row["ev_platform"], row["ev_chat"], row["ev_user"])] = (row["room_circle"], rooms, person)  # type: ignore[assignment]
    return found


async def in_room(db: Database, platform: str, chat_id: str, user_id: str) -> InRoom | None:
    """``in_rooms`` for one event; None when the chat is not a circle room."""
    return (await in_rooms(db, [(platform, chat_id, user_id)])).get((platform, chat_id, user_id))


async def delete(db: Database, person_id: int) -> None:
    """Erase a person: cascades to identities, circle membership and stored conversations."""
    await db.execute("DELETE FROM people WHERE id = ?", (person_id,))
