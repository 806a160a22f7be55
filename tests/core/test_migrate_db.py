"""``voisinage migrate-db``: a deployment's SQLite data copied into PostgreSQL, row for row, and the
core carries on from the copy."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.assemble import build_core
from bot.cli import main
from bot.operations.migrate_db import MigrateError, migrate
from bot.storage.database import Database
from tests.core.activity_helpers import make_moderator, make_organizer, type_event
from tests.core.conftest import Neighbours
from tests.core.test_checkins import make_host, quiet_alice
from tests.engines import SERVER

IGNORED = {"seq"}  # PostgreSQL's insertion-order column (migration 103), not in SQLite


async def populate(hood: Neighbours) -> None:
    """Onboarded neighbours in a circle, a moderator, an organizer and a published event, a check-in."""
    for user in ("alice", "bob"):
        await hood.join(user)
    await make_host(hood, "bob")
    await make_moderator(hood, "mo")
    await make_organizer(hood, mod="mo")
    await type_event(hood)
    await quiet_alice(hood, 11)
    await hood.say("alice", "Coucou le cercle !")


def sqlite_rows(path: Path, table: str) -> tuple[list[str], list[tuple]]:
    with sqlite3.connect(path) as conn:
        cursor = conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
        return [d[0] for d in cursor.description], cursor.fetchall()


async def test_a_populated_deployment_is_copied_row_for_row_and_runs_on_the_copy(
    hood: Neighbours, database: str
) -> None:
    await populate(hood)
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM checkins") >= 1
    target = await SERVER.fresh(migrated=False)
    printed: list[str] = []
    counts = await migrate(f"sqlite:{database}", target, say=printed.append)
    assert f"people: {counts['people']}" in printed and counts["people"] == 4 and counts["events"] == 1

    copy = await Database.open(target)
    try:
        for table in await hood.core.db.tables():
            columns, rows = sqlite_rows(Path(database), table)
            order = "id" if "id" in columns else ", ".join(columns)
            got = await copy.fetchall(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
            with sqlite3.connect(database) as conn:
                want = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}").fetchall()
            assert [tuple(r) for r in got] == want, table
            assert len(want) == len(rows)
        # The sequences continue after the copied ids: a new person does not take anyone's id.
        highest = await copy.scalar("SELECT MAX(id) FROM people")
        newcomer = await copy.insert("INSERT INTO people (first_name, created_at) VALUES ('Zoé', 'x')")
        assert newcomer == highest + 1
        await copy.execute("DELETE FROM people WHERE id = ?", (newcomer,))
    finally:
        await copy.close()

    # The core runs on the copy: Alice's circle, her answers, the event are all there.
    await hood.core.db.close()
    hood.core = build_core(hood.core.config, await Database.open(target), hood.core.content, hood.clock)
    hood.core.attach(hood.platform)
    out = await hood.say("alice", "/profil")
    assert out and "Oups" not in out[-1].text
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM events WHERE status = 'published'") == 1
    await hood.core.db.close()
    hood.core.db = await Database.open(database)  # for the fixture's close


async def test_a_target_with_data_is_refused_unless_replaced(hood: Neighbours, database: str) -> None:
    await hood.join("alice")
    target = await SERVER.fresh()
    await migrate(f"sqlite:{database}", target, say=lambda _: None)
    with pytest.raises(MigrateError, match="already has data"):
        await migrate(f"sqlite:{database}", target, say=lambda _: None)
    counts = await migrate(f"sqlite:{database}", target, replace=True, say=lambda _: None)
    assert counts["people"] == 1


def test_the_command_prints_counts_and_refuses_a_second_copy(tmp_path: Path, capsys) -> None:
    source = tmp_path / "old.sqlite3"

    async def prepare() -> str:
        db = await Database.open(source)
        await db.execute("INSERT INTO people (first_name, created_at) VALUES ('Ana', 'x')")
        await db.close()
        return await SERVER.fresh(migrated=False)

    target = asyncio.run(prepare())
    assert main(["migrate-db", "--from", f"sqlite:{source}", "--to", target]) == 0
    out = capsys.readouterr().out
    assert "people: 1" in out and "Copied" in out
    assert main(["migrate-db", "--from", f"sqlite:{source}", "--to", target]) == 2
    assert "already has data (people)" in capsys.readouterr().err
