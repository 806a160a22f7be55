"""Start codes: what a join link carries into onboarding, written by posters and read back by onboarding."""

from __future__ import annotations

from bot.core import start_codes

PLACES = {"nb:belleville", "nb:pere-lachaise", "x:a--b"}


def read(code: str) -> tuple[str | None, str]:
    return start_codes.read(code, PLACES.__contains__)


def test_a_place_alone_and_a_place_with_its_poster_read_back() -> None:
    for place in PLACES:
        assert read(start_codes.make(place)) == (place, "")
        assert read(start_codes.make(place, "ab12cd34")) == (place, "ab12cd34")
    assert start_codes.make("nb:belleville", "ab12cd34") == "p-nb__belleville--ab12cd34"


def test_codes_fit_telegram_deep_links() -> None:
    """Telegram allows A-Z, a-z, 0-9, _ and - only, at most 64 characters."""
    code = start_codes.make("nb:pere-lachaise", "ab12cd34")
    assert len(code) <= start_codes.MAX_LENGTH and all(c.isalnum() or c in "_-" for c in code)


def test_anything_else_names_no_place_and_no_poster() -> None:
    for code in ("", "hello", "p-", "p-nb__atlantide", "p-nb__atlantide--ab12cd34", "p-nb__belleville--AB",
                 "p-nb__belleville--toolongtoken", "q-nb__belleville"):
        assert read(code) == (None, ""), code
