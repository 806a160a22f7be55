"""Start codes: what a join link carries into onboarding ("p-<place>" or "p-<place>--<poster token>").

Telegram deep links (``t.me/<bot>?start=<code>``) allow only letters, digits, ``_`` and ``-``, at most
64 characters: the ``:`` of place ids is written ``__``. The same code typed after /start (on Matrix,
or read from a poster's text version) works the same way. Kept here, beside neither the onboarding
that reads it nor the posters that write it, so that both use one format.
"""

from __future__ import annotations

import re
from collections.abc import Callable

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
