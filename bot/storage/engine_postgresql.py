"""The PostgreSQL engine under ``Database``: one asyncpg connection, the same one-writer-at-a-time
discipline as SQLite inside one process (several processes are PostgreSQL's business: row locks).

asyncpg is an optional dependency (the ``postgresql`` extra): it is imported only when a
``postgresql://`` database is opened."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Any

from bot.storage.dialect import POSTGRESQL, numbered, numbered_named

# Every migration takes this advisory lock: two workers starting together upgrade the schema once.
_MIGRATION_LOCK = 0x766F6973  # "vois"


def _count(status: str) -> int:
    """Rows changed, from a command tag such as ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1] if status else ""
    return int(last) if last.isdigit() else 0


def _bind(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> tuple[str, Sequence[Any]]:
    """asyncpg's numbered SQL and positional arguments, from ``?`` and a sequence or ``:name`` and a dict."""
    if isinstance(params, Mapping):
        query, names = numbered_named(sql)
        return query, [params[name] for name in names]
    return numbered(sql), params


def is_url(database: object) -> bool:
    return isinstance(database, str) and database.startswith(("postgresql://", "postgres://"))


class PostgresqlEngine:
    name = "postgresql"
    dialect = POSTGRESQL

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        # One operation at a time on the connection (asyncpg refuses a second one while the first runs;
        # aiosqlite queues them in its thread, and the code above relies on that).
        self._busy = asyncio.Lock()

    @classmethod
    async def connect(cls, url: str, password_env: str | None = None) -> PostgresqlEngine:
        """Connect to ``url``; the password, if any, comes from the environment variable named
        ``password_env`` (never from the configuration file)."""
        try:
            import asyncpg
        except ImportError:
            raise RuntimeError("PostgreSQL needs asyncpg: pip install 'voisinage[postgresql]'") from None
        password = os.environ.get(password_env) if password_env else None
        if password_env and password is None:
            raise RuntimeError(f"the database password variable {password_env} is not set")
        conn = await asyncpg.connect(url, password=password)
        return cls(conn)

    async def tables_of(self, sql: str, params: Sequence[Any]) -> frozenset[str] | None:
        """Unknown without parsing the SQL: None, and every held write is sent first (correct, at the
        cost of held writes waiting less long)."""
        return None

    async def close(self) -> None:
        await self._conn.close()

    async def schema_version(self) -> int:
        await self._conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        version = await self._conn.fetchval("SELECT max(version) FROM schema_version")
        return int(version or 0)

    async def apply_migration(self, number: int, sql: str) -> None:
        """One migration in one transaction, skipped if another process applied it meanwhile."""
        async with self._conn.transaction():
            await self._conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            if (await self._conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")) >= number:
                return
            await self._conn.execute(sql)
            await self._conn.execute("DELETE FROM schema_version")
            await self._conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)

    async def begin(self) -> None:
        async with self._busy:
            await self._conn.execute("BEGIN")

    async def commit(self) -> None:
        async with self._busy:
            await self._conn.execute("COMMIT")

    async def rollback(self) -> None:
        async with self._busy:
            await self._conn.execute("ROLLBACK")

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        query, args = _bind(sql, params)
        async with self._busy:
            return _count(await self._conn.execute(query, *args))

    async def insert(self, sql: str, params: Sequence[Any]) -> int:
        """The new row's id, through ``RETURNING id`` (added when the statement has no RETURNING)."""
        if "RETURNING" not in sql.upper():
            sql = f"{sql} RETURNING id"
        query, args = _bind(sql, params)
        async with self._busy:
            value = await self._conn.fetchval(query, *args)
        return int(value) if value is not None else 0

    async def executemany(self, sql: str, rows: list[Sequence[Any]]) -> int:
        """One statement per row (asyncpg's executemany does not say how many rows changed, and callers
        count: how many inbox events were new)."""
        changed = 0
        async with self._busy:
            for row in rows:
                query, args = _bind(sql, row)
                changed += _count(await self._conn.execute(query, *args))
        return changed

    async def send_held(self, sql: str, rows: list[Sequence[Any]]) -> None:
        async with self._busy:
            await self._conn.executemany(numbered(sql), rows)

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        query, args = _bind(sql, params)
        async with self._busy:
            return list(await self._conn.fetch(query, *args))

    async def tables(self) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename != 'schema_version'"
        )
        return [r[0] for r in rows]

    async def columns(self, table: str) -> set[str]:
        rows = await self._conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = $1", table,
        )
        return {r[0] for r in rows}

    @property
    def connection(self) -> Any:
        """The asyncpg connection, for what only PostgreSQL does (``voisinage migrate-db``'s copy)."""
        return self._conn
