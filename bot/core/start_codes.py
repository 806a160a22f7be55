"""Start codes: what a join link carries into onboarding ("p-<place>" or "p-<place>--<poster token>"),
and the links that carry them (``join_links``: for posters, the public agenda page, and a neighbour
waiting for their circle who wants to bring others).

Telegram deep links (``t.me/<bot>?start=<code>``) allow only letters, digits, ``_`` and ``-``, at most
64 characters: the ``:`` of place ids is written ``__``. The same code typed after /start (on Matrix,
or read from a poster's text version) works the same way. Kept here, beside neither the onboarding
that reads it nor the posters that write it, so that both use one format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_LENGTH = 64
_TOKEN = re.compile(r"^[a-z0-9]{8}$")


def make(place_id: str, token: str = "") -> str:
    code = "p-" + place_id.replace(":", "__")
    return f"{code}--{token}" if token else code


def read(code: str, known_place: Callable[[str], object]) -> tuple[str | None, str]:
    """(place id, poster token) of a code; ``known_place(id)`` tells a real place, since a place id may
    itself hold "--". (None, "") when the code names no place."""
    if not code.startswith("p-"):
        return None, ""
    whole = code[2:].replace("__", ":")
    if known_place(whole):
        return whole, ""
    place_id, sep, token = code[2:].rpartition("--")
    place_id = place_id.replace("__", ":")
    if sep and _TOKEN.match(token) and known_place(place_id):
        return place_id, token
    return None, ""


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
    """The links to print or share, or None when the deployment has no public address for the bot."""
    code = make(place_id, token)
    bot = telegram_username(core)
    user = core.config.matrix.user_id
    if not bot and not user:
        return None
    return JoinLinks(code, f"@{bot}" if bot else "", f"https://t.me/{bot}?start={code}" if bot else "",
                     user, f"https://matrix.to/#/{user}" if user else "")
