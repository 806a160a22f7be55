"""Migrations upgrade an old database in place; the inbox deduplicates; WAL is on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.core.chat import Address, Incoming, Sender, TextIn
from bot.core.clock import FakeClock
from bot.storage import inbox
from bot.storage.database import Database, migrations


def test_migrations_are_numbered_without_gaps_in_meaning() -> None:
    numbers = [n for n, _, _ in migrations()]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1


async def test_an_old_database_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    first = migrations()[0]
    with sqlite3.connect(path) as conn:  # a database as the first release left it
        conn.executescript(first[2])
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO people (first_name, language, created_at) VALUES ('Ana', 'fr', '2026-01-01')")
    db = await Database.open(path)
    try:
        assert await db.scalar("PRAGMA user_version") == migrations()[-1][0]
        assert await db.scalar("SELECT first_name FROM people") == "Ana"
        assert "roles" in await db.tables()
        assert await db.scalar("PRAGMA journal_mode") == "wal"
    finally:
        await db.close()


async def test_opening_twice_applies_nothing_twice(tmp_path: Path, caplog) -> None:
    """It had no assertion (it passed whatever opening did). The second open applies no migration and
    keeps what the first one wrote, including the random salt migration 061 draws once."""
    caplog.set_level("INFO", logger="bot.storage.database")
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        first = [r.getMessage() for r in caplog.records if r.getMessage().startswith("applying migration")]
        salt = await db.scalar("SELECT value FROM instance WHERE key = 'salt'")
        await db.execute_alone("INSERT INTO people (first_name, language, created_at) VALUES ('Ana', 'fr', 'x')")
    finally:
        await db.close()
    assert len(first) == len(migrations())
    caplog.clear()
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        assert [r for r in caplog.records if r.getMessage().startswith("applying migration")] == []
        assert await db.scalar("PRAGMA user_version") == migrations()[-1][0]
        assert await db.scalar("SELECT value FROM instance WHERE key = 'salt'") == salt
        assert await db.scalar("SELECT first_name FROM people") == "Ana"
    finally:
        await db.close()


async def test_inbox_keeps_one_copy_of_each_platform_event(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    clock = FakeClock()
    event = Incoming(Address("telegram", "1", "1"), TextIn("salut"), Sender("Ana"), external_id="42")
    try:
        assert await inbox.accept(db, "telegram", [event, event], "43", clock.now()) == 1
        assert await inbox.accept(db, "telegram", [event], "43", clock.now()) == 0
        assert await inbox.get_cursor(db, "telegram") == "43"
        pending = await inbox.pending(db)
        assert [e for _, e in pending] == [event]
        async with db.transaction():
            await inbox.finish(db, [pending[0][0]])
        assert await inbox.pending(db) == []
        assert await db.scalar("SELECT event FROM inbox") == ""  # content blanked once handled
    finally:
        await db.close()


async def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        try:
            async with db.transaction():
                await db.execute("INSERT INTO cursors (platform, value) VALUES ('x', '1')")
                raise RuntimeError("crash")
        except RuntimeError:
            pass
        assert await db.scalar("SELECT COUNT(*) FROM cursors") == 0
    finally:
        await db.close()
