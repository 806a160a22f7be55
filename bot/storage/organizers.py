"""Organizers: who may post activities, for which neighbourhoods, and whether a moderator trusts them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database, Row

KINDS = ("shop", "artisan", "association", "public")


@dataclass(frozen=True)
class Organizer:
    id: int
    person_id: int
    name: str
    kind: str
    contact: str
    status: str
    trusted: bool
    places: tuple[str, ...]

    @property
    def approved(self) -> bool:
        return self.status == "approved"


async def _organizer(db: Database, row: Row) -> Organizer:
    places = await db.fetchall(
        "SELECT place_id FROM organizer_places WHERE organizer_id = ? ORDER BY rowid", (row["id"],)
    )
    return Organizer(row["id"], row["person_id"], row["name"], row["kind"], row["contact"], row["status"],
                     bool(row["trusted"]), tuple(r[0] for r in places))


async def get(db: Database, organizer_id: int) -> Organizer | None:
    row = await db.fetchone("SELECT * FROM organizers WHERE id = ?", (organizer_id,))
    return await _organizer(db, row) if row else None


async def of_person(db: Database, person_id: int) -> Organizer | None:
    row = await db.fetchone("SELECT * FROM organizers WHERE person_id = ?", (person_id,))
    return await _organizer(db, row) if row else None


async def apply(db: Database, person_id: int, name: str, kind: str, contact: str, places: list[str],
                now: datetime) -> int:
    """A new application, or a fresh one replacing a rejected or pending one (status back to pending)."""
    await db.execute(
        "INSERT INTO organizers (person_id, name, kind, contact, status, created_at) VALUES (?, ?, ?, ?, 'pending', ?) "
        "ON CONFLICT (person_id) DO UPDATE SET name = excluded.name, kind = excluded.kind, "
        "contact = excluded.contact, status = 'pending', trusted = 0, created_at = excluded.created_at",
        (person_id, name, kind, contact, to_iso(now)),
    )
    organizer_id = int(await db.scalar("SELECT id FROM organizers WHERE person_id = ?", (person_id,)))
    await db.execute("DELETE FROM organizer_places WHERE organizer_id = ?", (organizer_id,))
    await db.executemany(
        "INSERT INTO organizer_places (organizer_id, place_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(organizer_id, place_id) for place_id in places],
    )
    return organizer_id


async def decide(db: Database, organizer_id: int, status: str, trusted: bool, moderator_id: int) -> bool:
    """Approve or reject a pending application; False when it was already decided (a second moderator)."""
    changed = await db.execute(
        "UPDATE organizers SET status = ?, trusted = ?, decided_by = ? WHERE id = ? AND status = 'pending'",
        (status, int(trusted), moderator_id, organizer_id),
    )
    return changed == 1


async def set_trusted(db: Database, organizer_id: int, trusted: bool) -> None:
    await db.execute("UPDATE organizers SET trusted = ? WHERE id = ?", (int(trusted), organizer_id))


async def export(db: Database, person_id: int) -> dict:
    row = await db.fetchone("SELECT * FROM organizers WHERE person_id = ?", (person_id,))
    if row is None:
        return {}
    organizer = await _organizer(db, row)
    return {"organizer": {**dict(row), "places": list(organizer.places)}}
