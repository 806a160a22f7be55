"""Migrations upgrade an old database in place; the inbox deduplicates; WAL is on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.core.chat import Address, Incoming, Sender, TextIn
from bot.core.clock import FakeClock
from bot.storage import inbox
from bot.storage.database import Database, migrations
from bot.storage.dialect import POSTGRESQL, numbered, postgresql_ddl
from tests.engines import SERVER, new_database

pytestmark = pytest.mark.both_engines


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


async def test_opening_twice_applies_nothing_twice(engine: str, tmp_path: Path, caplog) -> None:
    """It had no assertion (it passed whatever opening did). The second open applies no migration and
    keeps what the first one wrote, including the random salt migration 061 draws once."""
    caplog.set_level("INFO", logger="bot.storage.database")
    target = await new_database(engine, tmp_path, "db.sqlite3", migrated=False)
    caplog.clear()  # the session's PostgreSQL template may have been migrated just now
    db = await Database.open(target)
    try:
        first = [r.getMessage() for r in caplog.records if r.getMessage().startswith("applying migration")]
        salt = await db.scalar("SELECT value FROM instance WHERE key = 'salt'")
        await db.execute_alone("INSERT INTO people (first_name, language, created_at) VALUES ('Ana', 'fr', 'x')")
    finally:
        await db.close()
    assert len(first) == len(migrations())
    caplog.clear()
    db = await Database.open(target)
    try:
        assert [r for r in caplog.records if r.getMessage().startswith("applying migration")] == []
        assert await db.raw.schema_version() == migrations()[-1][0]
        assert await db.scalar("SELECT value FROM instance WHERE key = 'salt'") == salt
        assert await db.scalar("SELECT first_name FROM people") == "Ana"
    finally:
        await db.close()


async def test_inbox_keeps_one_copy_of_each_platform_event(database: str) -> None:
    db = await Database.open(database)
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


async def test_a_failed_transaction_leaves_nothing(database: str) -> None:
    db = await Database.open(database)
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


async def test_both_engines_answer_alike(database: str, engine: str) -> None:
    """The contract other modules rely on: ``engine``, new ids from ``insert``, rows by index and by
    name, counts of changed rows (executemany included), a JSON array parameter, ``?`` inside a literal."""
    db = await Database.open(database)
    try:
        assert db.engine == engine
        first = await db.insert("INSERT INTO people (first_name, created_at) VALUES (?, 'x')", ("Ana",))
        second = await db.insert("INSERT INTO people (first_name, created_at) VALUES (?, 'x')", ("Bo?",))
        assert second == first + 1
        row = await db.fetchone("SELECT id, first_name FROM people WHERE first_name = 'Bo?' AND id = ?", (second,))
        assert (row[0], row["first_name"]) == (second, "Bo?")
        assert await db.executemany("UPDATE people SET language = ? WHERE id = ?", [("en", first), ("en", 99)]) == 1
        assert await db.execute("UPDATE people SET checkins = 1") == 2
        ids = await db.fetchall(f"SELECT id FROM people WHERE id IN ({db.dialect.json_values(int)}) ORDER BY id",
                                (f"[{first}, {second}]",))
        assert [r[0] for r in ids] == [first, second]
        assert "people" in await db.tables() and "first_name" in await db.columns("people")
    finally:
        await db.close()


async def test_a_transaction_is_joined_by_its_own_task_and_awaited_by_others(database: str) -> None:
    db = await Database.open(database)
    seen: list[str] = []

    async def other() -> None:
        async with db.transaction():
            seen.append(str(await db.scalar("SELECT COUNT(*) FROM cursors")))

    try:
        async with db.transaction():
            await db.execute("INSERT INTO cursors (platform, value) VALUES ('a', '1')")
            waiting = asyncio.ensure_future(other())
            await asyncio.sleep(0.01)
            assert db.others_waiting() and seen == []
            async with db.transaction():  # nested, same task: joins
                await db.execute("INSERT INTO cursors (platform, value) VALUES ('b', '1')")
        await waiting
        assert seen == ["2"]
    finally:
        await db.close()


def test_placeholders_are_numbered_outside_literals_and_comments() -> None:
    sql = "SELECT '?', \"a?\" FROM t -- why?\nWHERE a = ? AND b = 'it''s ?' AND c IN (?, ?) /* ? */"
    assert numbered(sql) == (
        "SELECT '?', \"a?\" FROM t -- why?\nWHERE a = $1 AND b = 'it''s ?' AND c IN ($2, $3) /* ? */"
    )


def test_migrations_get_postgresql_types_or_their_own_file() -> None:
    assert postgresql_ddl("id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, r REAL, b BLOB") == (
        "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT, r DOUBLE PRECISION, b BYTEA"
    )
    # person_id INTEGER PRIMARY KEY is a key given by the caller, not a number the database hands out.
    assert postgresql_ddl("person_id INTEGER PRIMARY KEY") == "person_id BIGINT PRIMARY KEY"
    names = {n: name for n, name, _ in migrations("postgresql")}
    assert names[61] == "061_inbox_outbox_ids.postgresql.sql" and names[1] == "001_foundation.sql"
    assert [n for n, _, _ in migrations("postgresql")] == [n for n, _, _ in migrations()]
    assert "AUTOINCREMENT" not in "".join(sql for _, _, sql in migrations("postgresql"))
    assert POSTGRESQL.insertion_order == "seq"


async def test_a_postgresql_password_comes_from_the_environment(monkeypatch) -> None:
    SERVER.start()
    monkeypatch.delenv("VOISINAGE_TEST_PW", raising=False)
    with pytest.raises(RuntimeError, match="VOISINAGE_TEST_PW"):
        await Database.open(SERVER.url("postgres"), password_env="VOISINAGE_TEST_PW")
