"""Telegram, through the real python-telegram-bot 22.8: see ``adapter.py``.

Start and stop (what ``voisinage run`` does)::

    adapter = await telegram.start(core, config)        # getMe, command menus, attached to the core
    tasks = [asyncio.create_task(adapter.run(core)),     # getUpdates (or webhook) -> durable inbox
             asyncio.create_task(core.run_delivery("telegram"))]
    ...
    await adapter.close()

``base_url`` points the bot at another Bot API server: a local ``telegram-bot-api``, or the emulator
in the tests.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)
from telegram.error import InvalidToken, NetworkError, TelegramError

from adapters.base import StartFailed
from adapters.telegram import adoption
from adapters.telegram.adapter import Settings, TelegramAdapter
from adapters.telegram.limits import TelegramRates
from adapters.telegram.render import plain
from bot.core import start_codes
from bot.core.i18n import LANGUAGES
from bot.core.interests import fold
from bot.core.router import Command

if TYPE_CHECKING:
    from bot.core.app import Core
    from bot.core.config import Config

__all__ = ["Settings", "TelegramAdapter", "TelegramRates", "deep_link", "menus", "start"]

log = logging.getLogger(__name__)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


async def start(
    core: Core,
    config: Config,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    settings: Settings | None = None,
) -> TelegramAdapter:
    """Connect the bot (token from the environment), set its menus, attach it to the core."""
    tg = config.telegram
    if not tg.token:
        raise ValueError(f"Telegram needs its bot token in the environment variable {tg.token_env}")
    base_url = base_url or tg.api_base_url
    base_file_url = base_file_url or base_url.removesuffix("/bot") + "/file/bot"
    bot = Bot(tg.token, base_url=base_url, base_file_url=base_file_url)
    settings = settings or Settings(
        mode=tg.mode, poll_timeout=tg.poll_timeout, webhook_url=tg.webhook_url, webhook_port=tg.webhook_port,
        webhook_secret=os.environ.get(tg.webhook_secret_env, ""), sends_in_flight=tg.sends_in_flight,
    )
    adapter = TelegramAdapter(bot, core, settings)
    try:
        await adapter.open()
    except BaseException as exc:
        await adapter.close()
        if isinstance(exc, InvalidToken):
            raise StartFailed(f"Telegram refused the bot token in {tg.token_env} (check it with @BotFather)") from None
        if isinstance(exc, NetworkError):  # TimedOut is one too
            raise StartFailed(f"Telegram cannot be reached at {base_url.split('/bot')[0]} ({exc}); "
                              "check the network, then start again") from None
        if isinstance(exc, TelegramError):
            raise StartFailed(f"Telegram refused to start the bot ({exc})") from None
        raise
    adoption.install(core)
    core.attach(adapter)
    await set_menus(bot, core)
    return adapter


def _entry(command: Command, lang: str, core: Core) -> BotCommand | None:
    """A menu line: the command's name in that language and its one-line help, if Telegram accepts it."""
    name = fold(command.shown_name(lang)).replace("-", "_").replace(" ", "_")
    key = command.help_key or ("telegram-help-adopt" if command.name == "adopt" else None)
    if not key or not _COMMAND_NAME.match(name):
        return None
    description = plain(core.translator(lang)(key)).strip()[:256]
    return BotCommand(name, description) if description else None


def menus(core: Core, lang: str) -> dict[str, list[BotCommand]]:
    """The command menus of one language: private chats, circle groups, and groups' administrators."""
    listed = core.router.listed()
    adopt = core.router.find("adopt")
    scopes = {
        "private": listed,
        "groups": [c for c in listed if c.in_groups],
        "admins": [c for c in listed if c.in_groups] + ([adopt] if adopt else []),
    }
    return {scope: [e for c in commands if (e := _entry(c, lang, core))] for scope, commands in scopes.items()}


async def set_menus(bot: Bot, core: Core) -> None:
    """``setMyCommands`` per language (fr, en) and per scope; the deployment's language is the default."""
    scopes: dict[str, BotCommandScope] = {
        "private": BotCommandScopeAllPrivateChats(),
        "groups": BotCommandScopeAllGroupChats(),
        "admins": BotCommandScopeAllChatAdministrators(),
    }
    default = core.config.deployment.language
    try:
        for lang in (*LANGUAGES, ""):
            for scope, commands in menus(core, lang or default).items():
                await bot.set_my_commands(commands, scope=scopes[scope], language_code=lang or None)
    except TelegramError as exc:  # the menu is a comfort, not a reason to stay down
        log.warning("could not set the command menus: %s", exc)


def deep_link(bot_username: str, place_id: str, poster_token: str = "") -> str:
    """``t.me/<bot>?start=p-<place>[--<poster>]``: opens the bot with the neighbourhood already chosen.

    Deep-link codes allow only letters, digits, ``_`` and ``-``: the ``:`` of place ids is written ``__``
    (``bot.core.start_codes``, which onboarding reads back).
    """
    return f"https://t.me/{bot_username}?start={start_codes.make(place_id, poster_token)}"
