"""Who answered what to an event: going, maybe, or waiting for a place to free up."""

from __future__ import annotations

from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database


async def status_of(db: Database, event_id: int, person_id: int) -> str | None:
    return await db.scalar("SELECT status FROM rsvps WHERE event_id = ? AND person_id = ?", (event_id, person_id))


async def counts(db: Database, event_id: int) -> dict[str, int]:
    rows = await db.fetchall("SELECT status, COUNT(*) FROM rsvps WHERE event_id = ? GROUP BY status", (event_id,))
    found = {r[0]: r[1] for r in rows}
    return {s: found.get(s, 0) for s in ("going", "maybe", "waiting")}


async def put(db: Database, event_id: int, person_id: int, status: str, now: datetime) -> None:
    """Record an answer; a new status goes to the end of the line (its position orders the waiting list)."""
    position = int(await db.scalar("SELECT COALESCE(MAX(position), 0) + 1 FROM rsvps WHERE event_id = ?", (event_id,)))
    await db.execute(
        "INSERT INTO rsvps (event_id, person_id, status, position, answered_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (event_id, person_id) DO UPDATE SET status = excluded.status, position = excluded.position, "
        "answered_at = excluded.answered_at",
        (event_id, person_id, status, position, to_iso(now)),
    )


async def remove(db: Database, event_id: int, person_id: int) -> str | None:
    """Withdraw an answer; returns what it was."""
    before = await status_of(db, event_id, person_id)
    await db.execute("DELETE FROM rsvps WHERE event_id = ? AND person_id = ?", (event_id, person_id))
    return before


async def first_waiting(db: Database, event_id: int) -> int | None:
    return await db.scalar(
        "SELECT person_id FROM rsvps WHERE event_id = ? AND status = 'waiting' ORDER BY position LIMIT 1", (event_id,)
    )


async def people_with(db: Database, event_id: int, statuses: tuple[str, ...]) -> list[int]:
    marks = ", ".join("?" for _ in statuses)
    rows = await db.fetchall(
        f"SELECT person_id FROM rsvps WHERE event_id = ? AND status IN ({marks}) ORDER BY position",
        (event_id, *statuses),
    )
    return [r[0] for r in rows]


async def export(db: Database, person_id: int) -> dict:
    rows = await db.fetchall("SELECT event_id, status, answered_at FROM rsvps WHERE person_id = ?", (person_id,))
    return {"event_answers": [dict(r) for r in rows]}
