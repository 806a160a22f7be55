"""The bot's signs of life, written by the running process and read from any shell (status, health)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.clock import from_iso, to_iso
from bot.storage.database import Database

# The running process writes its heartbeat this often (``bot.operations.heartbeat``); twice that
# without one means it is not running.
HEARTBEAT_SECONDS = 30


def alive(heartbeat: datetime, now: datetime) -> bool:
    """Whether a heartbeat written at ``heartbeat`` still says a process runs."""
    return now - heartbeat < timedelta(seconds=2 * HEARTBEAT_SECONDS)


async def mark(db: Database, key: str, value: str, now: datetime) -> None:
    await db.execute_alone(
        "INSERT INTO runtime (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, to_iso(now)),
    )


async def read(db: Database) -> dict[str, tuple[str, datetime]]:
    """Every sign of life: key → (value, when)."""
    rows = await db.fetchall_alone("SELECT key, value, updated_at FROM runtime")
    return {r[0]: (r[1], from_iso(r[2])) for r in rows}
