"""``voisinage admin add|list|remove``: who may do everything, without editing TOML by guesswork."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.core.config import Config
from bot.storage import admins as admin_store
from bot.storage.database import Database

# What an account looks like on each platform: a Telegram user id is a number (ask @userinfobot),
# a Matrix id is @name:server, a console neighbour is a plain name.
_ACCOUNT = {
    "telegram": re.compile(r"^\d{1,15}$"),
    "matrix": re.compile(r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:\d{1,5})?$"),
    "console": re.compile(r"^[\w.-]{1,64}$"),
}
EXAMPLES = "telegram:123456789, matrix:@anne:example.org, console:alice"


class AccountError(ValueError):
    """An account written the wrong way, said so that the person can fix it."""


def parse_account(text: str) -> str:
    """"telegram:123" → the same, checked; anything else raises ``AccountError`` with an example."""
    platform, sep, user = text.strip().partition(":")
    pattern = _ACCOUNT.get(platform.lower())
    if not sep or pattern is None:
        raise AccountError(f"{text!r} does not say its platform (one of {', '.join(_ACCOUNT)}). Examples: {EXAMPLES}")
    if not pattern.match(user):
        raise AccountError(f"{text!r} is not a {platform.lower()} account. Examples: {EXAMPLES}")
    return f"{platform.lower()}:{user}"


async def add(db: Database, account: str) -> bool:
    async with db.transaction():
        return await admin_store.add(db, parse_account(account), datetime.now(UTC))


async def remove(db: Database, account: str) -> bool:
    async with db.transaction():
        return await admin_store.remove(db, parse_account(account))


async def everyone(db: Database | None, config: Config) -> list[tuple[str, str]]:
    """Every admin with where they come from: the configuration, or the database (with the date)."""
    found = [(account, "configuration") for account in config.deployment.admins]
    if db is not None:
        found += [(account, f"added {added[:10]}") for account, added in await admin_store.listed(db)]
    return found
