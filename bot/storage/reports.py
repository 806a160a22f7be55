"""Reports of a message or a person: only the reported text and ids, deleted after a retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database

MAX_TEXT = 1000
STATUSES = ("open", "warned", "removed", "banned", "dismissed")


@dataclass(frozen=True)
class Report:
    id: int
    place_id: str
    circle_id: int | None
    reporter_id: int | None
    reported_id: int | None
    text: str
    status: str
    handled_by: int | None
    handled_at: str | None
    created_at: str


async def add(
    db: Database, place_id: str, circle_id: int | None, reporter_id: int, reported_id: int, text: str, now: datetime
) -> int:
    return await db.insert(
        "INSERT INTO reports (place_id, circle_id, reporter_id, reported_id, text, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (place_id, circle_id, reporter_id, reported_id, text[:MAX_TEXT], to_iso(now)),
    )


async def get(db: Database, report_id: int) -> Report | None:
    row = await db.fetchone("SELECT * FROM reports WHERE id = ?", (report_id,))
    return Report(**dict(row)) if row else None


async def open_in(db: Database, place_ids: list[str] | None, limit: int = 10) -> list[Report]:
    """Open reports, oldest first; ``place_ids`` None means every neighbourhood."""
    if place_ids is None:
        rows = await db.fetchall("SELECT * FROM reports WHERE status = 'open' ORDER BY id LIMIT ?", (limit,))
    elif not place_ids:
        return []
    else:
        marks = ",".join("?" * len(place_ids))
        rows = await db.fetchall(
            f"SELECT * FROM reports WHERE status = 'open' AND place_id IN ({marks}) ORDER BY id LIMIT ?",
            (*place_ids, limit),
        )
    return [Report(**dict(r)) for r in rows]


async def already_open(db: Database, reporter_id: int, reported_id: int) -> bool:
    """One open report per reporter and person is enough: a second one would only add noise."""
    return bool(await db.scalar(
        "SELECT 1 FROM reports WHERE reporter_id = ? AND reported_id = ? AND status = 'open'",
        (reporter_id, reported_id),
    ))


async def close(db: Database, report_id: int, status: str, handled_by: int, now: datetime) -> bool:
    """Mark handled; False if someone else handled it first (two moderators pressing at once)."""
    if status not in STATUSES:
        raise ValueError(status)
    changed = await db.execute(
        "UPDATE reports SET status = ?, handled_by = ?, handled_at = ? WHERE id = ? AND status = 'open'",
        (status, handled_by, to_iso(now), report_id),
    )
    return changed == 1


async def delete_older_than(db: Database, before: datetime) -> int:
    return await db.execute("DELETE FROM reports WHERE created_at < ?", (to_iso(before),))


async def export(db: Database, person_id: int) -> dict[str, object]:
    """What a person may see: reports they made, and reports about them without who made them."""
    made = await db.fetchall(
        "SELECT id, text, status, created_at FROM reports WHERE reporter_id = ? ORDER BY id", (person_id,)
    )
    about = await db.fetchall(
        "SELECT id, text, status, created_at FROM reports WHERE reported_id = ? ORDER BY id", (person_id,)
    )
    return {"reports_made": [dict(r) for r in made], "reports_about_me": [dict(r) for r in about]}


async def erase(db: Database, person_id: int) -> None:
    await db.execute("DELETE FROM reports WHERE reported_id = ?", (person_id,))
    await db.execute("UPDATE reports SET reporter_id = NULL WHERE reporter_id = ?", (person_id,))
    await db.execute("UPDATE reports SET handled_by = NULL WHERE handled_by = ?", (person_id,))
