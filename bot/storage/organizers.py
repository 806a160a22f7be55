"""Organizers: who may post activities, for which neighbourhoods, and whether a moderator trusts them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database, Row

KINDS = ("shop", "artisan", "association", "public")


@dataclass(frozen=True)
class Organizer:
    """``places``: where the organizer is approved (where its events may go); ``requested``: every place
    the application lists, each decided by that place's moderators; ``trusted``: trusted in every place
    it is approved in (a place whose moderators did not trust it keeps its events in the queue)."""

    id: int
    person_id: int
    name: str
    kind: str
    contact: str
    status: str
    trusted: bool
    places: tuple[str, ...]
    requested: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return self.status == "approved"


async def _organizer(db: Database, row: Row) -> Organizer:
    places = await db.fetchall(
        "SELECT place_id, status, trusted FROM organizer_places WHERE organizer_id = ? "
        f"ORDER BY {db.dialect.insertion_order}", (row["id"],)
    )
    approved = [r for r in places if r["status"] == "approved"]
    return Organizer(row["id"], row["person_id"], row["name"], row["kind"], row["contact"], row["status"],
                     bool(approved) and all(r["trusted"] for r in approved), tuple(r[0] for r in approved),
                     tuple(r[0] for r in places), tuple(r[0] for r in places if r["status"] == "pending"))


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


async def decide(db: Database, organizer_id: int, status: str, trusted: bool, moderator_id: int,
                 places: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Approve or reject an application in ``places`` (None: every place listed) where it is still
    pending; returns the places decided now (empty when a moderator was quicker)."""
    marks = ", ".join("?" * len(places)) if places is not None else ""
    where = f" AND place_id IN ({marks})" if places is not None else ""
    rows = await db.fetchall(
        "UPDATE organizer_places SET status = ?, trusted = ?, decided_by = ? "
        f"WHERE organizer_id = ? AND status = 'pending'{where} RETURNING place_id",
        (status, int(trusted), moderator_id, organizer_id, *(places or ())),
    )
    if rows:
        await _summarise(db, organizer_id, moderator_id)
    return [r[0] for r in rows]


async def _summarise(db: Database, organizer_id: int, moderator_id: int | None) -> None:
    """organizers.status: approved somewhere → approved; all refused → rejected; else pending."""
    await db.execute(
        "UPDATE organizers SET "
        "status = CASE WHEN EXISTS (SELECT 1 FROM organizer_places p WHERE p.organizer_id = organizers.id "
        " AND p.status = 'approved') THEN 'approved' "
        " WHEN EXISTS (SELECT 1 FROM organizer_places p WHERE p.organizer_id = organizers.id "
        " AND p.status = 'pending') THEN 'pending' ELSE 'rejected' END, "
        "trusted = CASE WHEN EXISTS (SELECT 1 FROM organizer_places p WHERE p.organizer_id = organizers.id "
        " AND p.status = 'approved' AND p.trusted = 0) THEN 0 ELSE 1 END, "
        "decided_by = COALESCE(?, decided_by) WHERE id = ?",
        (moderator_id, organizer_id),
    )


async def set_trusted(db: Database, organizer_id: int, trusted: bool,
                      places: list[str] | tuple[str, ...] | None = None) -> None:
    """Trust (or not) in ``places`` where approved (None: everywhere it is approved)."""
    marks = ", ".join("?" * len(places)) if places is not None else ""
    where = f" AND place_id IN ({marks})" if places is not None else ""
    await db.execute(
        f"UPDATE organizer_places SET trusted = ? WHERE organizer_id = ? AND status = 'approved'{where}",
        (int(trusted), organizer_id, *(places or ())),
    )
    await _summarise(db, organizer_id, None)


async def export(db: Database, person_id: int) -> dict:
    row = await db.fetchone("SELECT * FROM organizers WHERE person_id = ?", (person_id,))
    if row is None:
        return {}
    organizer = await _organizer(db, row)
    return {"organizer": {**dict(row), "places": list(organizer.places)}}
