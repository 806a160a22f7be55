"""Suite-wide: both database engines (tests/engines.py: the ``engine`` and ``database`` fixtures), and
the order tests are handed to workers: the tests marked ``slow`` (minutes of real rate limits) are collected first,
so that with several workers (pytest-xdist) one of them starts on them at once and the others share
everything else; the whole suite then lasts about as long as the slowest test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage.database import Database
from tests.engines import SERVER, engines_for, new_database


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engines", default="",
        help="database engines for tests that take `database`: sqlite,postgresql (default: both for modules "
             "marked both_engines, SQLite for the others)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_engines: run on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker("both_engines") is not None
        metafunc.parametrize("engine", engines_for(metafunc.config, marked), indirect=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    SERVER.stop()


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
async def database(engine: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database of ``engine``: a file path (SQLite) or a URL (PostgreSQL)."""
    target = await new_database(engine, tmp_path)
    yield target
    if engine == "postgresql":
        await SERVER.drop(target)


@pytest.fixture
async def db(database: str) -> AsyncIterator[Database]:
    """That database, opened (and migrated): for storage tests that speak SQL to one engine at a time."""
    opened = await Database.open(database)
    yield opened
    await opened.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept otherwise
