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


async def is_waiting(db: Database, person_id: int) -> bool:
    return bool(await db.scalar("SELECT 1 FROM circle_waits WHERE person_id = ?", (person_id,)))


async def drop_wait(db: Database, person_id: int) -> None:
    await db.execute("DELETE FROM circle_waits WHERE person_id = ?", (person_id,))


@dataclass(frozen=True)
class LongWait:
    """A neighbour still waiting for their place's first circle, past the promised delay."""

    person_id: int
    place_id: str
    since: str
    told_at: str | None


# Who still waits where they live, outside any circle: a wait left behind by a change of place or a
# placement is never news for anyone.
_STILL_WAITING = ("FROM circle_waits w JOIN people p ON p.id = w.person_id AND p.place_id = w.place_id "
                  "WHERE NOT EXISTS (SELECT 1 FROM circle_members m WHERE m.person_id = w.person_id) ")


async def wait_of(db: Database, person_id: int) -> LongWait | None:
    """The person's wait, if they still wait for the circle of the place they live in."""
    row = await db.fetchone(
        f"SELECT w.person_id, w.place_id, w.since, w.told_at {_STILL_WAITING} AND w.person_id = ?", (person_id,))
    return LongWait(**dict(row)) if row else None


async def long_waits(db: Database, waited_since: datetime, told_before: datetime, limit: int) -> list[LongWait]:
    """Up to ``limit`` waits begun before ``waited_since`` whose news is due (never told, or told before
    ``told_before``); the longest first. Only these rows are read, however many people wait."""
    rows = await db.fetchall(
        f"SELECT w.person_id, w.place_id, w.since, w.told_at {_STILL_WAITING} AND w.since <= ? "
        "AND (w.told_at IS NULL OR w.told_at <= ?) ORDER BY w.since, w.person_id LIMIT ?",
        (to_iso(waited_since), to_iso(told_before), limit),
    )
    return [LongWait(**dict(r)) for r in rows]


async def long_wait_counts(db: Database, waited_since: datetime) -> dict[str, tuple[int, str]]:
    """Per place: how many wait since before ``waited_since``, and since when the longest."""
    rows = await db.fetchall(
        f"SELECT w.place_id, COUNT(*), MIN(w.since) {_STILL_WAITING} AND w.since <= ? GROUP BY w.place_id",
        (to_iso(waited_since),),
    )
    return {r[0]: (int(r[1]), r[2]) for r in rows}


async def waiting_count(db: Database, place_id: str) -> int:
    """How many still wait in a place."""
    return int(await db.scalar(f"SELECT COUNT(*) {_STILL_WAITING} AND w.place_id = ?", (place_id,)))


async def waiting_since(db: Database, place_id: str) -> list[LongWait]:
    """Everyone still waiting in a place, the longest first (a moderator's view)."""
    rows = await db.fetchall(
        f"SELECT w.person_id, w.place_id, w.since, w.told_at {_STILL_WAITING} AND w.place_id = ? "
        "ORDER BY w.since, w.person_id", (place_id,))
    return [LongWait(**dict(r)) for r in rows]


async def set_wait_told(db: Database, person_id: int, now: datetime) -> None:
    await db.execute("UPDATE circle_waits SET told_at = ? WHERE person_id = ?", (to_iso(now), person_id))


async def wait_notices(db: Database) -> dict[str, str]:
    """When each place's moderators were last told that its neighbours wait (place → time)."""
    return {r[0]: r[1] for r in await db.fetchall("SELECT place_id, told_at FROM circle_wait_notices")}


async def set_wait_notice(db: Database, place_id: str, now: datetime) -> None:
    await db.execute(
        "INSERT INTO circle_wait_notices (place_id, told_at) VALUES (?, ?) "
        "ON CONFLICT (place_id) DO UPDATE SET told_at = excluded.told_at",
        (place_id, to_iso(now)),
    )


async def drop_wait_notices(db: Database, keep: list[str]) -> None:
    """Forget the notices of places nobody waits in any more (but ``keep``): a new wait there, months
    later, is news again."""
    notices = await wait_notices(db)
    for place_id in set(notices) - set(keep):
        await db.execute("DELETE FROM circle_wait_notices WHERE place_id = ?", (place_id,))


async def open_sizes(db: Database, place_ids: list[str]) -> dict[str, list[int]]:
    """The sizes of the open circles of these places (place → sizes)."""
    if not place_ids:
        return {}
    marks = ", ".join("?" for _ in place_ids)
    rows = await db.fetchall(
        "SELECT c.place_id, COUNT(m.person_id) FROM circles c LEFT JOIN circle_members m ON m.circle_id = c.id "
        f"WHERE c.status = 'open' AND c.place_id IN ({marks}) GROUP BY c.id, c.place_id",
        tuple(place_ids),
    )
    sizes: dict[str, list[int]] = {}
    for place_id, size in rows:
        sizes.setdefault(place_id, []).append(int(size))
    return sizes
