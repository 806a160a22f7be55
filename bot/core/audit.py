"""The audit log: every moderator action (and what the bot decides on its own, such as a flood mute).

Other features write here too (approving organizers and events): ``record(db, actor_id, action,
target, details, now, place_id=...)`` inside their own transaction. Targets are ids such as
"person:12", "circle:3", "event:9": names are looked up when the log is shown, so a person who used
/forget is not named in it afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database

MAX_DETAILS = 200


@dataclass(frozen=True)
class Entry:
    id: int
    at: str
    actor_id: int | None
    action: str
    target: str
    details: str
    place_id: str | None


async def record(
    db: Database,
    actor_id: int | None,
    action: str,
    target: str,
    details: str,
    now: datetime,
    *,
    place_id: str | None = None,
) -> int:
    """Write one action. ``actor_id`` None means the bot itself; ``place_id`` scopes who sees it."""
    return await db.insert(
        "INSERT INTO audit (at, actor_id, action, target, details, place_id) VALUES (?, ?, ?, ?, ?, ?)",
        (to_iso(now), actor_id, action[:40], target[:60], details[:MAX_DETAILS], place_id),
    )


async def latest(db: Database, place_ids: list[str] | None, limit: int = 20) -> list[Entry]:
    """The last actions, newest first; ``place_ids`` None means every neighbourhood (admins)."""
    if place_ids is None:
        rows = await db.fetchall("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
    elif not place_ids:
        return []
    else:
        marks = ",".join("?" * len(place_ids))
        rows = await db.fetchall(
            f"SELECT * FROM audit WHERE place_id IN ({marks}) ORDER BY id DESC LIMIT ?", (*place_ids, limit)
        )
    return [Entry(**dict(r)) for r in rows]


async def export(db: Database, person_id: int) -> dict[str, object]:
    rows = await db.fetchall(
        "SELECT at, action, target, details FROM audit WHERE actor_id = ? OR target = ? ORDER BY id",
        (person_id, f"person:{person_id}"),
    )
    return {"audit": [dict(r) for r in rows]}


async def erase(db: Database, person_id: int) -> None:
    """The actions stay (what was done matters), but no longer point to the forgotten person."""
    await db.execute("UPDATE audit SET actor_id = NULL WHERE actor_id = ?", (person_id,))
    await db.execute(
        "UPDATE audit SET target = 'person:forgotten', details = '' WHERE target = ?", (f"person:{person_id}",)
    )
