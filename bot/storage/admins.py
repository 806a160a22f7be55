"""Admins added from the command line (``voisinage admin add``), beside those of the configuration."""

from __future__ import annotations

from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database


async def add(db: Database, account: str, now: datetime) -> bool:
    """Returns whether it was new."""
    return await db.execute(
        "INSERT INTO admins (account, added_at) VALUES (?, ?) ON CONFLICT (account) DO NOTHING", (account, to_iso(now))
    ) > 0


async def remove(db: Database, account: str) -> bool:
    return await db.execute("DELETE FROM admins WHERE account = ?", (account,)) > 0


async def listed(db: Database) -> list[tuple[str, str]]:
    """(account, added at), oldest first."""
    return [(r[0], r[1]) for r in await db.fetchall("SELECT account, added_at FROM admins ORDER BY added_at, account")]


async def any_of(db: Database, accounts: list[str]) -> bool:
    """Whether one of these accounts ("platform:user") was added with ``voisinage admin add``."""
    if not accounts:
        return False
    marks = ",".join("?" * len(accounts))
    return bool(await db.scalar(f"SELECT 1 FROM admins WHERE account IN ({marks})", accounts))


async def accounts(db: Database) -> list[str]:
    return [r[0] for r in await db.fetchall("SELECT account FROM admins")]
