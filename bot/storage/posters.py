"""Posters and cards (/affiche): one record per (neighbourhood, maker), whose token is in the join link.

Only a count of neighbours who joined through each poster is kept, never who: the token travels in the
onboarding conversation (deleted when onboarding ends) and ``count_join`` adds one to the poster.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.clock import to_iso
from bot.storage.database import Database, Row

TOKEN_LENGTH = 8
TOKEN = re.compile(rf"^[a-z0-9]{{{TOKEN_LENGTH}}}$")
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Poster:
    id: int
    token: str
    place_id: str
    person_id: int | None
    organizer_id: int | None
    label: str
    joins: int


def _poster(row: Row) -> Poster:
    return Poster(row["id"], row["token"], row["place_id"], row["person_id"], row["organizer_id"], row["label"],
                  row["joins"])


async def _find(db: Database, place_id: str, person_id: int | None, label: str) -> Poster | None:
    if person_id is None:
        row = await db.fetchone("SELECT * FROM posters WHERE place_id = ? AND person_id IS NULL AND label = ? "
                                "ORDER BY id LIMIT 1", (place_id, label))
    else:
        row = await db.fetchone("SELECT * FROM posters WHERE place_id = ? AND person_id = ? AND label = ? "
                                "ORDER BY id LIMIT 1", (place_id, person_id, label))
    return _poster(row) if row else None


async def obtain(db: Database, place_id: str, person_id: int | None, organizer_id: int | None, label: str,
                 now: datetime) -> Poster:
    """The maker's poster for this neighbourhood: the same one (same link, same count) when asked again,
    so a shop that reprints its poster keeps counting the neighbours it brought."""
    found = await _find(db, place_id, person_id, label)
    if found is not None:
        return found
    while True:
        token = "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))
        if not await db.scalar("SELECT 1 FROM posters WHERE token = ?", (token,)):
            break
    await db.execute(
        "INSERT INTO posters (token, place_id, person_id, organizer_id, label, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (token, place_id, person_id, organizer_id, label, to_iso(now)),
    )
    found = await _find(db, place_id, person_id, label)
    assert found is not None
    return found


async def by_token(db: Database, token: str) -> Poster | None:
    row = await db.fetchone("SELECT * FROM posters WHERE token = ?", (token,))
    return _poster(row) if row else None


async def count_join(db: Database, token: str, place_id: str) -> bool:
    """One more neighbour joined through this poster (only if they joined its neighbourhood)."""
    changed = await db.execute("UPDATE posters SET joins = joins + 1 WHERE token = ? AND place_id = ?",
                               (token, place_id))
    return changed > 0


async def in_places(db: Database, place_ids: list[str] | None, limit: int = 20) -> list[Poster]:
    """Posters of these neighbourhoods (None: all), the ones that brought most neighbours first."""
    if place_ids is not None and not place_ids:
        return []
    where, params = ("", ()) if place_ids is None else (
        f"WHERE place_id IN ({','.join('?' * len(place_ids))})", tuple(place_ids))
    rows = await db.fetchall(f"SELECT * FROM posters {where} ORDER BY joins DESC, id LIMIT ?", (*params, limit))
    return [_poster(r) for r in rows]


async def export(db: Database, person_id: int) -> dict[str, Any]:
    rows = await db.fetchall("SELECT place_id, label, created_at, joins FROM posters WHERE person_id = ?",
                             (person_id,))
    return {"posters": [dict(r) for r in rows]} if rows else {}


async def erase(db: Database, person_id: int) -> None:
    """The printed posters stay on the walls and their links keep working: only who asked is forgotten."""
    await db.execute("UPDATE posters SET person_id = NULL WHERE person_id = ?", (person_id,))
