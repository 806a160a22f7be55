"""Circles, their members and their rooms on each platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database


@dataclass(frozen=True)
class Circle:
    id: int
    place_id: str
    number: int
    status: str


@dataclass(frozen=True)
class Room:
    circle_id: int
    platform: str
    chat_id: str


async def get(db: Database, circle_id: int) -> Circle | None:
    row = await db.fetchone("SELECT id, place_id, number, status FROM circles WHERE id = ?", (circle_id,))
    return Circle(**dict(row)) if row else None


async def open_in_place(db: Database, place_id: str) -> list[Circle]:
    rows = await db.fetchall(
        "SELECT id, place_id, number, status FROM circles WHERE place_id = ? AND status = 'open' ORDER BY number",
        (place_id,),
    )
    return [Circle(**dict(r)) for r in rows]


async def create(db: Database, place_id: str, now: datetime) -> Circle:
    number = await db.scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM circles WHERE place_id = ?", (place_id,))
    circle_id = await db.insert(
        "INSERT INTO circles (place_id, number, created_at) VALUES (?, ?, ?)", (place_id, number, to_iso(now))
    )
    return Circle(circle_id, place_id, int(number), "open")


async def add_member(db: Database, circle_id: int, person_id: int, now: datetime, role: str = "member") -> None:
    await db.execute(
        "INSERT INTO circle_members (circle_id, person_id, role, joined_at) VALUES (?, ?, ?, ?)",
        (circle_id, person_id, role, to_iso(now)),
    )


async def remove_member(db: Database, person_id: int) -> int | None:
    """Take a person out of their circle; returns the circle they were in."""
    circle_id = await db.scalar("SELECT circle_id FROM circle_members WHERE person_id = ?", (person_id,))
    await db.execute("DELETE FROM circle_members WHERE person_id = ?", (person_id,))
    return circle_id


async def circle_of(db: Database, person_id: int) -> Circle | None:
    row = await db.fetchone(
        "SELECT c.id, c.place_id, c.number, c.status FROM circles c "
        "JOIN circle_members m ON m.circle_id = c.id WHERE m.person_id = ?",
        (person_id,),
    )
    return Circle(**dict(row)) if row else None


async def member_ids(db: Database, circle_id: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT person_id FROM circle_members WHERE circle_id = ? ORDER BY joined_at, person_id", (circle_id,)
    )
    return [r[0] for r in rows]


async def move_members(db: Database, from_circle: int, to_circle: int) -> None:
    await db.execute("UPDATE circle_members SET circle_id = ? WHERE circle_id = ?", (to_circle, from_circle))


async def set_status(db: Database, circle_id: int, status: str) -> None:
    await db.execute("UPDATE circles SET status = ? WHERE id = ?", (status, circle_id))


async def rooms(db: Database, circle_id: int) -> list[Room]:
    rows = await db.fetchall("SELECT circle_id, platform, chat_id FROM circle_rooms WHERE circle_id = ?", (circle_id,))
    return [Room(**dict(r)) for r in rows]


async def room_on(db: Database, circle_id: int, platform: str) -> Room | None:
    row = await db.fetchone(
        "SELECT circle_id, platform, chat_id FROM circle_rooms WHERE circle_id = ? AND platform = ?",
        (circle_id, platform),
    )
    return Room(**dict(row)) if row else None


async def room_by_chat(db: Database, platform: str, chat_id: str) -> Room | None:
    row = await db.fetchone(
        "SELECT circle_id, platform, chat_id FROM circle_rooms WHERE platform = ? AND chat_id = ?",
        (platform, chat_id),
    )
    return Room(**dict(row)) if row else None


async def set_room(db: Database, circle_id: int, platform: str, chat_id: str) -> None:
    await db.execute(
        "INSERT INTO circle_rooms (circle_id, platform, chat_id) VALUES (?, ?, ?) "
        "ON CONFLICT (circle_id, platform) DO UPDATE SET chat_id = excluded.chat_id",
        (circle_id, platform, chat_id),
    )


async def move_member(db: Database, person_id: int, to_circle: int) -> None:
    """One member changes circle, keeping their role and joining date (a moderator's split or move)."""
    await db.execute("UPDATE circle_members SET circle_id = ? WHERE person_id = ?", (to_circle, person_id))


# ---- neighbours waiting for their place's first circle --------------------------------------------

async def add_wait(db: Database, person_id: int, place_id: str, now: datetime) -> None:
    await db.execute(
        "INSERT INTO circle_waits (person_id, place_id, since) VALUES (?, ?, ?) "
        "ON CONFLICT (person_id) DO UPDATE SET place_id = excluded.place_id",
        (person_id, place_id, to_iso(now)),
    )


async def waiting(db: Database, place_id: str) -> list[int]:
    """Who waits in a place, the longest waiting first."""
    rows = await db.fetchall("SELECT person_id FROM circle_waits WHERE place_id = ? ORDER BY since, person_id",
                             (place_id,))
    return [r[0] for r in rows]


async def waiting_places(db: Database) -> list[tuple[str, int, datetime]]:
    """(place, how many wait, since when the longest) for every place where someone waits."""
    rows = await db.fetchall("SELECT place_id, COUNT(*), MIN(since) FROM circle_waits GROUP BY place_id")
    return [(r[0], int(r[1]), datetime.fromisoformat(r[2])) for r in rows]


async def drop_wait(db: Database, person_id: int) -> None:
    await db.execute("DELETE FROM circle_waits WHERE person_id = ?", (person_id,))
