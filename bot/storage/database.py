"""One SQLite database in WAL mode, reached through aiosqlite, upgraded by numbered migrations.

Why one connection and one lock: SQLite has a single writer anyway, and an asyncio task switch in the
middle of another task's transaction would otherwise mix their statements. Every change goes through
``transaction()``; a batch of incoming events shares one transaction (group commit), which is what
makes thousands of messages a second possible where one commit each would cap at ~4,000.

SQL is kept portable (no SQLite-only upsert tricks beyond ``ON CONFLICT``) and always parameterised.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
Row = aiosqlite.Row
T = TypeVar("T")
# What SQLite's authorizer reports as touching a table (its first argument is the table's name).
_TABLE_ACTIONS = frozenset({sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})
# Distinct statement texts whose tables are remembered (statements built with a varying number of
# placeholders would otherwise grow the memory without end).
_TABLES_REMEMBERED = 2048


def migrations() -> list[tuple[int, str, str]]:
    """(number, file name, SQL) for every file in ``bot/storage/migrations``, in order.

    Number ranges keep features apart: 001–009 foundation, 010–019 activities and outbox,
    020–029 check-ins, 030–039 moderation, 040–049 Telegram, 050–059 Matrix, 061–064 inbox and
    outbox guarantees (issue 13).
    """
    found = []
    for entry in resources.files("bot.storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"two migrations share a number: {numbers}")
    return found


class Database:
    # Which SQL engine serves this database ("sqlite" or "postgresql"): the few statements that differ
    # (``FOR UPDATE SKIP LOCKED``, row-locked claim turns) ask it.
    engine = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._depth = 0
        self._owner: asyncio.Task | None = None
        self._waiting = 0
        # Writes held back inside the current transaction, per table: runs of (statement, rows).
        self._held: dict[str, list[tuple[str, list[Sequence[Any]]]]] = {}
        # The tables each statement text touches, as SQLite itself reported them (see ``_tables_of``).
        self._touches: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._heard: set[str] | None = None
        # What to undo in memory if the current transaction is rolled back (see on_rollback).
        self._undo: list[Callable[[], None]] = []

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open (creating if needed) and bring the schema up to date."""
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
        db = cls(conn)
        await conn.set_authorizer(db._authorize)
        await db.migrate()
        return db

    def _authorize(self, action: int, arg1: str | None, *_: object) -> int:
        """SQLite's authorizer, called while it compiles a statement (in aiosqlite's thread): it names
        every table the statement reads or writes, including through triggers and views. It never
        refuses anything; it only listens when ``_tables_of`` asks."""
        if self._heard is not None and action in _TABLE_ACTIONS and arg1:
            self._heard.add(arg1)
        return sqlite3.SQLITE_OK

    async def _tables_of(self, sql: str, params: Sequence[Any]) -> frozenset[str]:
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

    async def migrate(self) -> int:
        """Apply every migration above ``PRAGMA user_version``, each in its own transaction."""
        current = (await self.fetchone("PRAGMA user_version"))[0]
        for number, name, sql in migrations():
            if number <= current:
                continue
            log.info("applying migration %s", name)
            await self._conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
            current = number
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """All-or-nothing. Nested use inside the same task joins the outer transaction; another task
        waits for the lock (joining across tasks would let one task commit or end the other's work)."""
        if self._in_own_transaction():
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        async with self._turn():
            await self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            self._owner = asyncio.current_task()
            try:
                yield self
                await self._release_held(None)
            except BaseException:
                self._held.clear()
                await self._conn.execute("ROLLBACK")
                self._run_undo()
                raise
            else:
                await self._conn.execute("COMMIT")
            finally:
                self._undo.clear()
                self._depth = 0
                self._owner = None

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Keep in-memory state (a cache, a counter) consistent with what was committed: ``undo`` runs
        if the caller's transaction is rolled back, and is forgotten when it commits. Outside a
        transaction every statement commits at once: nothing to undo."""
        if self._in_own_transaction():
            self._undo.append(undo)

    def _run_undo(self) -> None:
        undo, self._undo = self._undo, []
        for step in reversed(undo):  # newest first: each puts back what was there before it
            try:
                step()
            except Exception:
                log.exception("undoing in-memory state after a rollback failed")

    async def execute_alone(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement that is a whole transaction by itself (SQLite's autocommit): one hop to the
        database thread instead of three (BEGIN, statement, COMMIT). Inside the caller's own
        transaction it simply joins it."""
        return await self._alone(self.execute, sql, params)

    async def fetchall_alone(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """``execute_alone`` for a statement that returns rows (``UPDATE … RETURNING``), or a read that
        must not see another task's transaction half-way."""
        return await self._alone(self.fetchall, sql, params)

    async def _alone(self, run: Callable[[str, Sequence[Any]], Awaitable[T]], sql: str, params: Sequence[Any]) -> T:
        if self._in_own_transaction():
            return await run(sql, params)
        async with self._turn():
            return await run(sql, params)

    def _in_own_transaction(self) -> bool:
        return bool(self._depth) and self._owner is asyncio.current_task()

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    def others_waiting(self) -> bool:
        """Whether another task waits for the database: a long transaction (a batch of incoming events)
        commits early then, so a message about to go out is not held behind the whole batch."""
        return self._waiting > 0

    async def write_later(self, table: str, sql: str, params: Sequence[Any] = ()) -> None:
        """A write on ``table`` whose outcome nobody waits for (an answer queued in the outbox, offered
        choices forgotten). Inside the caller's transaction it is held, and the held writes on that
        table go in one ``executemany`` just before the next statement that touches the table (as
        SQLite's authorizer reports it: directly, or through a trigger or a view), or before COMMIT; a
        ROLLBACK drops them with the rest. Handling a batch of 100 messages thus costs one trip for 100
        answers instead of 100 trips. Outside a transaction it runs at once.

        Writes on different tables may be reordered between themselves: use it only for tables that
        no trigger or foreign key ties to others."""
        if not self._in_own_transaction():
            await self.execute_alone(sql, params)
            return
        runs = self._held.setdefault(table, [])
        if runs and runs[-1][0] == sql:
            runs[-1][1].append(params)
        else:
            runs.append((sql, [params]))

    async def _release_held(self, sql: str | None, params: Sequence[Any] = ()) -> None:
        """Send the held writes a statement may depend on (every held write when ``sql`` is None)."""
        if not self._held or not self._in_own_transaction():
            return
        touched = None if sql is None else await self._tables_of(sql, params)
        for table in [t for t in self._held if touched is None or t in touched]:
            for statement, rows in self._held.pop(table):
                await self._conn.executemany(statement, rows)

    # Each awaited call is a hop to aiosqlite's thread (~0.1 ms): every method below makes exactly one,
    # after sending the held writes it may need to see.

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns how many rows it changed."""
        await self._release_held(sql, params)
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one INSERT; returns the new row's id."""
        await self._release_held(sql, params)
        row = await self._conn.execute_insert(sql, params)
        return int(row[0]) if row and row[0] is not None else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement for many rows; returns how many rows changed in all."""
        rows = list(rows)
        if not rows:
            return 0
        await self._release_held(sql, rows[0])
        cursor = await self._conn.executemany(sql, rows)
        return cursor.rowcount

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        await self._release_held(sql, params)
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        await self._release_held(sql, params)
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return row[0] if row else None

    async def tables(self) -> list[str]:
        rows = await self.fetchall("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        return [r[0] for r in rows]
