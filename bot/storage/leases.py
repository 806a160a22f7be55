"""Leases: a named piece of work held by one worker until a moment, taken over once that moment passed.

Several ``voisinage run`` processes (workers) share one database. What only one of them may do at a
time (poll Telegram, sync Matrix, change circle rooms) is leased here: the holder renews its lease well
before it expires; a worker that dies stops renewing, and another takes the lease once it has expired.
Each worker also holds "worker:<its id>" while it lives: its claims on inbox events and outbox items
count only while that lease does.

Acquiring, renewing and taking over are one conditional UPSERT, atomic on SQLite and PostgreSQL alike:
the row is written only when it is free, ours already, or expired.

Times are wall-clock (the leases are about processes being alive, which the core's clock, moved by
tests, knows nothing of) and stored as ISO 8601 UTC text with milliseconds, all written by ``stamp``,
so comparing them as text compares the moments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.storage.database import Database

WORKER_PREFIX = "worker:"
TURN_PREFIX = "turn:"


def stamp(moment: datetime) -> str:
    """The one text form of a lease time: fixed width, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires_at: datetime
    acquired_at: datetime


async def acquire(db: Database, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take ``name`` for ``ttl`` (or renew it, when ``holder`` has it already); True when ``holder`` has
    it now. Someone else's lease is taken only once it has expired."""
    rows = await db.fetchall_alone(
        "INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, "
        "acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at "
        "ELSE excluded.acquired_at END "
        "WHERE leases.holder = excluded.holder OR leases.expires_at < ? RETURNING holder",
        (name, holder, stamp(now + ttl), stamp(now), stamp(now)),
    )
    return bool(rows) and rows[0][0] == holder


async def release(db: Database, name: str, holder: str) -> bool:
    """Give ``name`` back at once (a clean stop: the next worker need not wait for the expiry)."""
    return await db.execute_alone("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder)) > 0


async def holder_of(db: Database, name: str, now: datetime) -> str | None:
    """Who holds ``name`` now (None: nobody, or its holder let it expire)."""
    return await db.scalar("SELECT holder FROM leases WHERE name = ? AND expires_at >= ?", (name, stamp(now)))


async def alive_workers(db: Database, now: datetime) -> list[str]:
    """The workers whose "worker:" lease has not expired."""
    rows = await db.fetchall_alone(
        "SELECT holder FROM leases WHERE name LIKE ? AND expires_at >= ? ORDER BY acquired_at",
        (WORKER_PREFIX + "%", stamp(now)),
    )
    return [r[0] for r in rows]


async def all_leases(db: Database) -> list[Lease]:
    """Every lease, expired or not (``voisinage status``); not the claim turns (``take_turn``'s rows,
    which hold no one and no time)."""
    rows = await db.fetchall_alone(
        "SELECT name, holder, expires_at, acquired_at FROM leases WHERE name NOT LIKE ? ORDER BY name",
        (TURN_PREFIX + "%",),
    )
    return [Lease(r[0], r[1], datetime.fromisoformat(r[2]), datetime.fromisoformat(r[3])) for r in rows]


async def forget_expired(db: Database, now: datetime, older_than: timedelta = timedelta(days=1)) -> int:
    """Leases of workers long gone: each start adds a "worker:" row, removed here a day after."""
    return await db.execute_alone("DELETE FROM leases WHERE expires_at < ?", (stamp(now - older_than),))


async def take_turn(db: Database, name: str) -> None:
    """Inside a transaction: wait for, and hold until it ends, the turn called ``name``. On PostgreSQL
    the UPSERT locks the turn's row, so two workers' claims (inbox, outbox) run one after the other and
    each sees what the other claimed; on SQLite ``BEGIN IMMEDIATE`` already lets one writer in at a
    time, so nothing is needed there."""
    if db.engine != "postgresql":
        return
    await db.execute(
        "INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES (?, '', '', '') "
        "ON CONFLICT (name) DO UPDATE SET holder = leases.holder",
        (TURN_PREFIX + name,),
    )
