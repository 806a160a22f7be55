"""``voisinage migrate-db``: a deployment's SQLite database copied into PostgreSQL.

The source is read in one SQLite read transaction (WAL: a snapshot, the running bot keeps writing
meanwhile; what it writes after the snapshot is not copied, so stop the bot for the switch). The target
is written in one PostgreSQL transaction: all of it, or nothing. Tables go in foreign-key order (a
table after those it refers to), a column referring to its own table (a person's contact) is filled in
a second step, and identity sequences are moved past the highest id copied so new rows never reuse one.

SQLite's dynamic typing is settled here, once: each value is given the type of its PostgreSQL column
(an integer kept in a TEXT column becomes text), which asyncpg's binary COPY insists on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.storage.database import Database

# Rows a fresh schema already holds (the instance's salt, migration 061): replaced by the source's, so
# keys the platforms already saw (Matrix transaction ids) keep their salt.
_WRITTEN_BY_MIGRATIONS = {"instance"}
_TEXT = {"text", "character varying", "character"}
_INTEGER = {"bigint", "integer", "smallint"}


class MigrateError(Exception):
    """A copy refused before anything was written (a target with data, a missing source)."""


def _source_path(source: str) -> Path:
    path = Path(source.removeprefix("sqlite:")).expanduser()
    if not path.exists():
        raise MigrateError(f"no SQLite database at {path}")
    return path


def _foreign_key_order(conn: sqlite3.Connection, tables: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Tables so that each comes after those it refers to, and each table's self-referring columns."""
    refers: dict[str, set[str]] = {}
    own: dict[str, list[str]] = {}
    for table in tables:
        keys = conn.execute(f"PRAGMA foreign_key_list({table})").fetchall()
        refers[table] = {k[2] for k in keys if k[2] != table and k[2] in tables}
        own[table] = [k[3] for k in keys if k[2] == table]
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = sorted(t for t in tables if t not in ordered and refers[t] <= set(ordered))
        if not ready:
            raise MigrateError(f"foreign keys form a cycle among {sorted(set(tables) - set(ordered))}")
        ordered.extend(ready)
    return ordered, own


def _converter(pg_type: str) -> Callable[[Any], Any]:
    if pg_type in _TEXT:
        return lambda v: v if v is None or isinstance(v, str) else str(v)
    if pg_type in _INTEGER:
        return lambda v: v if v is None else int(v)
    if pg_type == "double precision":
        return lambda v: v if v is None else float(v)
    return lambda v: v


def read_snapshot(path: Path) -> tuple[list[str], dict[str, list[str]], dict[str, tuple[list[str], list[tuple]]]]:
    """Every table of the SQLite database, read in one transaction: (order, self-references, rows)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("BEGIN")
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        order, own = _foreign_key_order(conn, tables)
        data = {}
        for table in order:
            cursor = conn.execute(f"SELECT * FROM {table} ORDER BY rowid")  # names from sqlite_master
            data[table] = ([d[0] for d in cursor.description], cursor.fetchall())
        conn.execute("COMMIT")
        return order, own, data
    finally:
        conn.close()


async def migrate(source: str, target: str, *, replace: bool = False, password_env: str | None = None,
                  say: Callable[[str], None] = print) -> dict[str, int]:
    """Copy ``source`` (``sqlite:PATH``) into ``target`` (``postgresql://…``); returns rows per table."""
    path = _source_path(source)
    await (await Database.open(path)).close()  # brings the source's schema up to date first
    if not target.startswith(("postgresql://", "postgres://")):
        raise MigrateError(f"the target must be a postgresql:// URL, not {target}")
    order, own, data = read_snapshot(path)
    db = await Database.open(target, password_env=password_env)
    try:
        conn = db.raw.connection
        present = set(await db.tables())
        missing = [t for t in order if t not in present]
        if missing:
            raise MigrateError(f"the target has no table {', '.join(missing)} (is it this version's schema?)")
        if not replace:
            full = [t for t in order if t not in _WRITTEN_BY_MIGRATIONS
                    and await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {t})")]
            if full:
                raise MigrateError(f"the target already has data ({', '.join(full)}); --replace to overwrite it")
        counts: dict[str, int] = {}
        async with conn.transaction():
            await conn.execute(f"TRUNCATE {', '.join(order)} RESTART IDENTITY CASCADE")
            for table in order:
                counts[table] = await _copy_table(conn, table, *data[table], own[table])
            await _reset_sequences(conn, order)
        for table in order:
            say(f"{table}: {counts[table]}")
        return counts
    finally:
        await db.close()


async def _copy_table(conn: Any, table: str, columns: list[str], rows: list[tuple], own: list[str]) -> int:
    types = {r[0]: r[1] for r in await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1", table)}
    convert = [_converter(types[c]) for c in columns]
    later = [columns.index(c) for c in own]
    records = [tuple(None if i in later else f(v) for i, (f, v) in enumerate(zip(convert, row, strict=True)))
               for row in rows]
    if records:
        await conn.copy_records_to_table(table, records=records, columns=columns)
    for i in later:  # self-references, once every row they may point at is there
        key = columns.index("id")
        pairs = [(int(row[i]), int(row[key])) for row in rows if row[i] is not None]
        await conn.executemany(f"UPDATE {table} SET {columns[i]} = $1 WHERE id = $2", pairs)
    return len(records)


async def _reset_sequences(conn: Any, tables: list[str]) -> None:
    """Identity columns continue after the highest value copied (else the next insert reuses id 1)."""
    for table in tables:
        for (column,) in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = $1 AND is_identity = 'YES'", table):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
            )
