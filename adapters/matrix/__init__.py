"""Matrix, through matrix-nio: see ``adapter.py`` (a plain account that syncs) and ``appservice.py``
(``[matrix] mode = "appservice"``: the homeserver pushes to the bot, which is not rate limited).

Start and stop (what ``voisinage run`` does)::

    adapter = await matrix.start(core, config)          # logs in, attaches to the core
    tasks = [asyncio.create_task(adapter.run(core)),     # the sync loop (or the pushes) -> durable inbox
             asyncio.create_task(core.run_delivery(adapter.platform))]
    ...
    for task in tasks: task.cancel()
    await adapter.close()                                # closes nio's aiohttp session
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.base import StartFailed
from adapters.matrix.adapter import MatrixAdapter
from adapters.matrix.errors import NETWORK_ERRORS

if TYPE_CHECKING:
    from bot.core.app import Core
    from bot.core.config import Config

__all__ = ["MatrixAdapter", "crypto_store", "start"]


def crypto_store(config: Config) -> str:
    """The bot's end-to-end keys, next to the database (backed up with it, kept across restarts)."""
    return config.deployment.database + ".matrix-crypto"


async def start(core: Core, config: Config) -> MatrixAdapter:
    """Log the bot in from the configuration (token or password from the environment) and attach it.
    In appservice mode, no login: the as_token is checked and the push endpoint is set up."""
    if config.matrix.appservice:
        from adapters.matrix.appservice import AppserviceAdapter

        adapter: MatrixAdapter = AppserviceAdapter.from_config(config.matrix)
        if not config.matrix.appservice_port:
            adapter.register_routes(core)  # before the [web] server starts
    else:
        adapter = MatrixAdapter.from_config(config.matrix, store_path=crypto_store(config))
    try:
        await adapter.connect(core)
    except BaseException as exc:
        await adapter.close()
        if isinstance(exc, NETWORK_ERRORS):
            raise StartFailed(f"Matrix: {config.matrix.homeserver} cannot be reached ({exc!r}); "
                              "check the address and the network") from None
        raise
    core.attach(adapter)
    return adapter
