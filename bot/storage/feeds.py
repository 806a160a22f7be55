"""Calendar feeds organizers registered, and members who prefer a weekly digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database


@dataclass(frozen=True)
class Feed:
    id: int
    organizer_id: int
    url: str


async def register(db: Database, organizer_id: int, url: str, now: datetime) -> int:
    """Register (or re-request) a feed; the import runs in the background pass."""
    await db.execute(
        "INSERT INTO feeds (organizer_id, url, requested_at) VALUES (?, ?, ?) "
        "ON CONFLICT (organizer_id, url) DO UPDATE SET requested_at = excluded.requested_at",
        (organizer_id, url, to_iso(now)),
    )
    return int(await db.scalar("SELECT id FROM feeds WHERE organizer_id = ? AND url = ?", (organizer_id, url)))


async def due(db: Database, refresh_before: datetime) -> list[Feed]:
    """Feeds with an import asked for, or not refreshed since ``refresh_before``."""
    rows = await db.fetchall(
        "SELECT id, organizer_id, url FROM feeds WHERE requested_at IS NOT NULL "
        "OR last_run_at IS NULL OR last_run_at < ? ORDER BY id",
        (to_iso(refresh_before),),
    )
    return [Feed(**dict(r)) for r in rows]


async def done(db: Database, feed_id: int, result: str, now: datetime) -> None:
    await db.execute("UPDATE feeds SET requested_at = NULL, last_run_at = ?, last_result = ? WHERE id = ?",
                     (to_iso(now), result[:500], feed_id))


async def remove(db: Database, feed_id: int) -> None:
    """A one-off import (a file sent in the chat) is forgotten once run."""
    await db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))


async def requested(db: Database, feed_id: int) -> bool:
    return bool(await db.scalar("SELECT requested_at IS NOT NULL FROM feeds WHERE id = ?", (feed_id,)))


async def wants_digest(db: Database, person_id: int) -> bool:
    return bool(await db.scalar("SELECT 1 FROM digest_members WHERE person_id = ?", (person_id,)))


async def set_digest(db: Database, person_id: int, on: bool, now: datetime) -> None:
    if on:
        await db.execute("INSERT INTO digest_members (person_id, chosen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                         (person_id, to_iso(now)))
    else:
        await db.execute("DELETE FROM digest_members WHERE person_id = ?", (person_id,))
