"""``voisinage status`` with several workers: which are alive, who holds which lease."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.storage import leases
from bot.storage.database import Database
from tests.cli.test_operations import voisinage


async def _two_workers(path: Path) -> None:
    db = await Database.open(path)
    # Leases of 10 minutes: 15 s (the workers' own) could expire before `voisinage status`, a new Python
    # process, has started and read them on a loaded machine.
    now, ttl = datetime.now(UTC), timedelta(minutes=10)
    try:
        await leases.acquire(db, "worker:host-a:11:aaaaaa", "host-a:11:aaaaaa", now, ttl)
        await leases.acquire(db, "worker:host-b:22:bbbbbb", "host-b:22:bbbbbb", now, ttl)
        await leases.acquire(db, "worker:host-c:33:cccccc", "host-c:33:cccccc", now - timedelta(hours=1), ttl)
        await leases.acquire(db, "intake:telegram", "host-b:22:bbbbbb", now, ttl)
    finally:
        await db.close()


def test_status_shows_the_workers_alive_and_who_holds_the_intake(tmp_path: Path) -> None:
    db = tmp_path / "v.sqlite3"
    asyncio.run(_two_workers(db))
    shown = voisinage("status", "--database", str(db), cwd=tmp_path).stdout
    assert "Workers alive: 2" in shown, shown
    assert "host-a:11:aaaaaa" in shown and "host-c:33:cccccc" not in shown  # c's lease expired: dead
    assert "intake:telegram: held by host-b:22:bbbbbb" in shown
