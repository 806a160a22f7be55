"""The SQLite engine under ``Database``: one aiosqlite connection in WAL mode.

SQLite's authorizer tells which tables a statement touches (``tables_of``), which lets ``write_later``
hold writes on one table while statements on others run."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.dialect import SQLITE

# What SQLite's authorizer reports as touching a table (its first argument is the table's name).
_TABLE_ACTIONS = frozenset({sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})
# Distinct statement texts whose tables are remembered (statements built with a varying number of
# placeholders would otherwise grow the memory without end).
_TABLES_REMEMBERED = 2048


class SqliteEngine:
    name = "sqlite"
    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        # The tables each statement text touches, as SQLite itself reported them (see ``tables_of``).
        self._touches: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._heard: set[str] | None = None

    @classmethod
    async def connect(cls, path: str | Path) -> SqliteEngine:
        connecting = aiosqlite.connect(str(path), isolation_level=None)
        # aiosqlite's worker thread is not a daemon: a connection someone forgot to close would keep
        # the process alive after its work is done. Committed data is safe in WAL either way.
        worker = getattr(connecting, "_thread", None)
        if worker is not None:
            worker.daemon = True
        conn = await connecting
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        engine = cls(conn)
        await conn.set_authorizer(engine._authorize)
        return engine

    def _authorize(self, action: int, arg1: str | None, *_: object) -> int:
        """SQLite's authorizer, called while it compiles a statement (in aiosqlite's thread): it names
        every table the statement reads or writes, including through triggers and views. It never
        refuses anything; it only listens when ``tables_of`` asks."""
        if self._heard is not None and action in _TABLE_ACTIONS and arg1:
            self._heard.add(arg1)
        return sqlite3.SQLITE_OK

    async def tables_of(self, sql: str, params: Sequence[Any]) -> frozenset[str] | None:
        """The tables a statement touches: SQLite compiles it once under EXPLAIN (which runs nothing)
        while the authorizer listens; the answer is remembered per statement text."""
        known = self._touches.get(sql)
        if known is not None:
            self._touches.move_to_end(sql)
            return known
        self._heard = set()
        try:
            await self._conn.execute(f"EXPLAIN {sql}", params)
            known = frozenset(self._heard)
        finally:
            self._heard = None
        self._touches[sql] = known
        if len(self._touches) > _TABLES_REMEMBERED:
            self._touches.popitem(last=False)
        return known

    async def close(self) -> None:
        await self._conn.close()

    async def schema_version(self) -> int:
        return int((await self.fetchall("PRAGMA user_version", ()))[0][0])

    async def apply_migration(self, number: int, sql: str) -> None:
        await self._conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")

    async def begin(self) -> None:
        await self._conn.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        await self._conn.execute("COMMIT")

    async def rollback(self) -> None:
        await self._conn.execute("ROLLBACK")

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def insert(self, sql: str, params: Sequence[Any]) -> int:
        row = await self._conn.execute_insert(sql, params)
        return int(row[0]) if row and row[0] is not None else 0

    async def executemany(self, sql: str, rows: list[Sequence[Any]]) -> int:
        cursor = await self._conn.executemany(sql, rows)
        return cursor.rowcount

    async def send_held(self, sql: str, rows: list[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def tables(self) -> list[str]:
        rows = await self.fetchall("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'", ())
        return [r[0] for r in rows]

    async def columns(self, table: str) -> set[str]:
        return {r[1] for r in await self.fetchall(f"PRAGMA table_info({table})", ())}
