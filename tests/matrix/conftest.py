"""Fixtures for tests against a real Synapse homeserver on 127.0.0.1.

- ``synapse``: one server (raised rate limits) for the whole session. It is a *sync* fixture so it
  does not depend on an event loop: pytest-asyncio 1.x gives every test its own loop by default.
- ``matrix_user``: an async factory, function-scoped; each call registers a fresh user and returns
  a logged-in ``nio.AsyncClient`` that is closed at teardown (an open aiohttp session keeps the
  process alive and warns about unclosed sessions).
"""

from __future__ import annotations

import importlib.util
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from nio import AsyncClient, AsyncClientConfig

from .synapse_server import SynapseServer

if importlib.util.find_spec("synapse") is None:  # pragma: no cover - depends on the environment
    # Deliberately not a skip: CI installs the ``test`` extra and must run these tests.
    raise ImportError("tests/matrix needs matrix-synapse in this interpreter: pip install -e '.[test]'")

MatrixUserFactory = Callable[..., Awaitable[AsyncClient]]

_user_counter = itertools.count()


def client_config() -> AsyncClientConfig:
    """nio config that gives up instead of retrying forever on 429s and timeouts (nio's default)."""
    return AsyncClientConfig(max_limit_exceeded=0, max_timeouts=2, request_timeout=30)


def unique_localpart(prefix: str = "user") -> str:
    """A localpart no other test (or earlier run on the same server) has used."""
    return f"{prefix}{next(_user_counter)}_{uuid.uuid4().hex[:8]}"


async def logged_in_client(server: SynapseServer, prefix: str = "user", admin: bool = False) -> AsyncClient:
    """Register a user on ``server`` and return an ``AsyncClient`` restored from its token."""
    user = await server.register_async(unique_localpart(prefix), admin=admin)
    client = AsyncClient(server.base_url, user.user_id, device_id=user.device_id, config=client_config())
    client.restore_login(user.user_id, user.device_id, user.access_token)
    return client


async def e2e_client(server: SynapseServer, store: Path, prefix: str = "user") -> AsyncClient:
    """A registered user as an end-to-end capable client (nio with its crypto store), keys uploaded."""
    user = await server.register_async(unique_localpart(prefix))
    store.mkdir(parents=True, exist_ok=True)
    config = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=2, request_timeout=30, encryption_enabled=True,
                               store_sync_tokens=False)
    client = AsyncClient(server.base_url, user.user_id, device_id=user.device_id, store_path=str(store),
                         config=config)
    client.restore_login(user.user_id, user.device_id, user.access_token)
    assert client.olm is not None, "matrix-nio[e2e] is needed"
    await client.keys_upload()
    return client


@pytest.fixture(scope="session")
def synapse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """One Synapse for the session, with raised rate limits so tests never stall. A test that needs
    Synapse's default limits (what a bot meets on a homeserver whose admin did nothing) asks for it:
    ``@pytest.mark.parametrize("synapse", ["default limits"], indirect=True)`` (its own server)."""
    limits = getattr(request, "param", "raised limits")
    if limits not in ("raised limits", "default limits"):
        raise ValueError(f"synapse: unknown limits {limits!r}")
    server = SynapseServer(Path(tmp_path_factory.mktemp("synapse")), raised_rate_limits=limits == "raised limits")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture
async def matrix_user(synapse: SynapseServer) -> AsyncIterator[MatrixUserFactory]:
    """Factory: ``await matrix_user("alice", admin=False)`` -> a logged-in, fresh ``AsyncClient``."""
    clients: list[AsyncClient] = []

    async def make(prefix: str = "user", admin: bool = False) -> AsyncClient:
        client = await logged_in_client(synapse, prefix, admin)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            await client.close()


# ----------------------------------------------------------------------------- the bot itself


@pytest.fixture(scope="session")
def bot_config():
    from dataclasses import replace

    from bot.core.config import load_config

    config = load_config()
    return replace(config, circles=replace(config.circles, open_with=1))  # see tests/core/conftest.py


@pytest.fixture(scope="session")
def bot_content(bot_config):
    """Loading France's communes takes a moment: once per session."""
    from bot.core.app import Content

    return Content.load(bot_config)


@pytest_asyncio.fixture
async def bot(synapse: SynapseServer, bot_config, bot_content, tmp_path: Path):
    """The real Core and MatrixAdapter on a fresh SQLite file, running as ``voisinage run`` does."""
    from .harness import Bot

    account = await synapse.register_async(unique_localpart("bot"))
    running = Bot(synapse, account, bot_config, bot_content, tmp_path / "bot.sqlite3")
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture
async def resident(matrix_user: MatrixUserFactory):
    """Factory: ``await resident("alice")`` -> a ``Resident`` (a real nio client) with a first sync done."""
    from .harness import Resident

    async def make(prefix: str = "resident") -> Resident:
        person = Resident(await matrix_user(prefix))
        await person.sync()
        return person

    return make


@pytest_asyncio.fixture
async def e2e_resident(synapse: SynapseServer, tmp_path: Path):
    """Factory: ``await e2e_resident("alice")`` -> a ``Resident`` whose app encrypts, as Element X does."""
    from .harness import Resident

    clients: list[AsyncClient] = []

    async def make(prefix: str = "resident") -> Resident:
        client = await e2e_client(synapse, tmp_path / f"{prefix}-{len(clients)}-store", prefix)
        clients.append(client)
        person = Resident(client)
        await person.sync()
        return person

    try:
        yield make
    finally:
        for client in clients:
            await client.close()
