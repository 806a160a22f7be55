"""Every sentence exists in both languages, with the same placeholders, and none is written in code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.core.config import CONTENT_DIR
from bot.core.i18n import Catalogues, Localized

ROOT = Path(__file__).resolve().parents[2]
catalogues = Catalogues(CONTENT_DIR / "locales")
PLACEHOLDER = re.compile(r"{(\w+)}")


def test_both_languages_have_the_same_keys() -> None:
    assert catalogues.keys("fr") == catalogues.keys("en")


def test_placeholders_agree_between_languages() -> None:
    for key in catalogues.keys("fr"):
        fr = catalogues.lookup("fr", key) if key in catalogues._by_lang["fr"].singular else ""
        en = catalogues.lookup("en", key) if key in catalogues._by_lang["en"].singular else ""
        assert set(PLACEHOLDER.findall(fr)) == set(PLACEHOLDER.findall(en)), key


def _keys_used_in_code() -> set[str]:
    """Literal keys passed to t(...) / ctx.t(...) / t.plural(...) anywhere in bot/ and adapters/."""
    used = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("adapters/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                name in ("t", "plural", "t_default")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                used.add(first.value)
    return used


def test_every_key_used_in_code_exists() -> None:
    missing = sorted(k for k in _keys_used_in_code() if k not in catalogues.keys("fr"))
    assert missing == []


def test_handlers_never_reply_with_a_literal_sentence() -> None:
    """reply/tell/queue_message/post_to_circle must get catalogue sentences, not string literals."""
    offenders = []
    for path in ROOT.glob("bot/**/*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "reply":
                for arg in node.args[:1]:
                    if isinstance(arg, ast.Constant | ast.JoinedStr):
                        offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_values_are_escaped_but_catalogue_markup_is_kept() -> None:
    t = catalogues.translator("fr")
    text = t("relay-message", name="<script>", text="a & b")
    assert isinstance(text, Localized)
    assert text == "<b>&lt;script&gt;</b> : a &amp; b"


def test_plural_follows_each_language() -> None:
    fr, en = catalogues.translator("fr"), catalogues.translator("en")
    assert fr.plural("circle-merged-in", 1).startswith("1 voisin rejoint")
    assert fr.plural("circle-merged-in", 0).startswith("0 voisin rejoint")  # French: 0 is singular
    assert en.plural("circle-merged-in", 0).startswith("0 neighbours join")


def test_dates_read_the_french_way() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 12, 12, 15, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert catalogues.translator("fr").datetime(moment) == "samedi 12 décembre à 15:00"
    assert catalogues.translator("en").datetime(moment) == "Saturday 12 December at 15:00"


def test_unknown_language_falls_back_to_french() -> None:
    assert catalogues.translator("de").lang == "fr"
