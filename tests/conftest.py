"""Both database engines (tests/engines.py): the ``engine`` and ``database`` fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
