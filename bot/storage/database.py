"""The database: SQLite (embedded, the default) or PostgreSQL, behind one API, upgraded by numbered
migrations.

Why one connection and one lock: SQLite has a single writer anyway, and an asyncio task switch in the
middle of another task's transaction would otherwise mix their statements. Every change goes through
``transaction()``; a batch of incoming events shares one transaction (group commit), which is what
makes thousands of messages a second possible where one commit each would cap at ~4,000. PostgreSQL
keeps the same discipline per process (one asyncpg connection); several processes are its own business.

SQL is kept portable (``?`` placeholders, ``ON CONFLICT``, ``RETURNING``) and always parameterised;
what differs between the engines is asked of ``db.dialect`` (bot/storage/dialect.py). The engines
themselves are bot/storage/engine_sqlite.py and engine_postgresql.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot.storage.dialect import Dialect, postgresql_ddl
from bot.storage.engine_postgresql import PostgresqlEngine, is_url
from bot.storage.engine_sqlite import SqliteEngine

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+(\.postgresql)?\.sql$")
# A row: aiosqlite.Row or asyncpg.Record; both give row[0] and row["name"] (and keys()).
Row = Any
T = TypeVar("T")


class Engine(Protocol):
    """What ``Database`` needs of an engine (bot/storage/engine_*.py)."""

    name: str
    dialect: Dialect

    async def tables_of(self, sql: str, params: Sequence[Any]) -> frozenset[str] | None: ...
    async def close(self) -> None: ...
    async def schema_version(self) -> int: ...
    async def apply_migration(self, number: int, sql: str) -> None: ...
    async def begin(self) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def execute(self, sql: str, params: Sequence[Any]) -> int: ...
    async def insert(self, sql: str, params: Sequence[Any]) -> int: ...
    async def executemany(self, sql: str, rows: list[Sequence[Any]]) -> int: ...
    async def send_held(self, sql: str, rows: list[Sequence[Any]]) -> None: ...
    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]: ...
    async def tables(self) -> list[str]: ...
    async def columns(self, table: str) -> set[str]: ...


def migrations(engine: str = "sqlite") -> list[tuple[int, str, str]]:
    """(number, file name, SQL) for every migration of ``engine``, in order.

    One numbered list for both engines. On PostgreSQL a file's column types are translated
    (``dialect.postgresql_ddl``), and where the SQL itself must differ a ``NNN_name.postgresql.sql``
    beside ``NNN_name.sql`` replaces it.

    Number ranges keep features apart: 001–009 foundation, 010–019 activities and outbox,
    020–029 check-ins, 030–039 moderation, 040–049 Telegram, 050–059 Matrix, 061–064 inbox and
    outbox guarantees (issue 13).
    """
    plain: dict[int, tuple[str, str]] = {}
    special: dict[int, tuple[str, str]] = {}
    for entry in resources.files("bot.storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if not match:
            continue
        number, text = int(match.group(1)), entry.read_text(encoding="utf-8")
        into = special if match.group(2) else plain
        if number in into:
            raise RuntimeError(f"two migrations share the number {number}: {into[number][0]}, {entry.name}")
        into[number] = (entry.name, text)
    if stray := set(special) - set(plain):
        raise RuntimeError(f"PostgreSQL migrations without their SQLite file: {sorted(stray)}")
    found = []
    for number, (name, text) in sorted(plain.items()):
        if engine == "postgresql":
            name, text = special[number] if number in special else (name, postgresql_ddl(text))
        found.append((number, name, text))
    return found


class Database:
    def __init__(self, engine: Engine) -> None:
        self._conn = engine
        self.engine = engine.name  # "sqlite" | "postgresql"
        self.dialect = engine.dialect
        self._lock = asyncio.Lock()
        self._depth = 0
        self._owner: asyncio.Task | None = None
        self._waiting = 0
        # Writes held back inside the current transaction, per table: runs of (statement, rows).
        self._held: dict[str, list[tuple[str, list[Sequence[Any]]]]] = {}
        # What to undo in memory if the current transaction is rolled back (see on_rollback).
        self._undo: list[Callable[[], None]] = []

    @classmethod
    async def open(cls, database: str | Path, *, password_env: str | None = None) -> Database:
        """Open (creating if needed) and bring the schema up to date: a ``postgresql://`` URL (its
        password from the environment variable ``password_env``), else an SQLite file (``sqlite:PATH``
        or a plain path)."""
        if is_url(database):
            engine: Engine = await PostgresqlEngine.connect(str(database), password_env)
        else:
            path = str(database)
            engine = await SqliteEngine.connect(path.removeprefix("sqlite:"))
        db = cls(engine)
        try:
            await db.migrate()
        except BaseException:
            await engine.close()
            raise
        return db

    @property
    def raw(self) -> Engine:
        """The engine underneath, for the few operations that are one engine's own (backup, copy)."""
        return self._conn

    async def close(self) -> None:
        await self._conn.close()

    async def migrate(self) -> int:
        """Apply every migration above the schema's version, each in its own transaction."""
        current = await self._conn.schema_version()
        for number, name, sql in migrations(self.engine):
            if number <= current:
                continue
            log.info("applying migration %s", name)
            await self._conn.apply_migration(number, sql)
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
            await self._conn.begin()
            self._depth = 1
            self._owner = asyncio.current_task()
            try:
                yield self
                await self._release_held(None)
            except BaseException:
                self._held.clear()
                await self._conn.rollback()
                self._run_undo()
                raise
            else:
                await self._conn.commit()
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
        SQLite's authorizer reports it: directly, or through a trigger or a view; on PostgreSQL before the
        next statement whatever it touches), or before COMMIT; a
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
        touched = None if sql is None else await self._conn.tables_of(sql, params)
        for table in [t for t in self._held if touched is None or t in touched]:
            for statement, rows in self._held.pop(table):
                await self._conn.send_held(statement, rows)

    # Each awaited call is a hop to the database (~0.1 ms): every method below makes exactly one,
    # after sending the held writes it may need to see.

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns how many rows it changed."""
        await self._release_held(sql, params)
        return await self._conn.execute(sql, params)

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one INSERT into a table with an ``id``; returns the new row's id."""
        await self._release_held(sql, params)
        return await self._conn.insert(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement for many rows; returns how many rows changed in all."""
        rows = list(rows)
        if not rows:
            return 0
        await self._release_held(sql, rows[0])
        return await self._conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        await self._release_held(sql, params)
        return await self._conn.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return next(iter(rows), None)

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return row[0] if row else None

    async def tables(self) -> list[str]:
        return await self._conn.tables()

    async def columns(self, table: str) -> set[str]:
        """The column names of ``table`` (empty if there is no such table)."""
        return await self._conn.columns(table)
