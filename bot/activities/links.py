"""The links that open the bot with a neighbourhood already chosen, for what is printed or published
outside the bot (posters, the public agenda page): a Telegram deep link carrying the start code
(``bot.core.start_codes``), and the Matrix account to write to (matrix.to cannot carry a first message,
so Matrix people type the code the poster shows).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import start_codes


@dataclass(frozen=True)
class JoinLinks:
    """Where a poster sends people: ``main`` is what the QR code holds (Telegram's deep link carries the
    neighbourhood and the poster; matrix.to cannot carry a first message, so Matrix people type the code)."""

    code: str
    telegram_bot: str  # "@name" or ""
    telegram: str
    matrix_user: str
    matrix: str

    @property
    def main(self) -> str:
        return self.telegram or self.matrix


def telegram_username(core) -> str:
    """The running Telegram adapter knows the bot's name (getMe); the command line reads the config."""
    transport = getattr(core, "transports", {}).get("telegram")
    name = getattr(transport, "username", "") or core.config.telegram.username
    return name.lstrip("@")


def join_links(core, place_id: str, token: str = "") -> JoinLinks | None:
    """The links to print, or None when the deployment has no public address for the bot."""
    code = start_codes.make(place_id, token)
    bot = telegram_username(core)
    user = core.config.matrix.user_id
    if not bot and not user:
        return None
    return JoinLinks(code, f"@{bot}" if bot else "", f"https://t.me/{bot}?start={code}" if bot else "",
                     user, f"https://matrix.to/#/{user}" if user else "")
