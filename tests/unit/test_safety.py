"""The pure rules that protect circles: links, words, newcomers, flooding — and that none ever raises."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.moderation.safety import FloodMeter, WordList, has_link, is_newcomer, judge, over_limit, words_of

WORDS = WordList.parse("# comment\nconnard\nnique ta mère\n\n   \n")
NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)


def test_links_in_the_forms_people_paste_them() -> None:
    for text in ("voir https://example.org/x", "www.leboncoin.fr", "rejoins t.me/+abc", "HTTP://X.Y",
                 "mon-site.fr demain", "matrix.to/#/#room:server"):
        assert has_link(text), text
    for text in ("rendez-vous à 15h.", "c'est fini. merci", "3.14", "un e-mail", "Mme. Dupont"):
        assert not has_link(text), text


def test_words_match_whole_words_without_case_or_accents() -> None:
    assert WORDS.found_in("Quel CONNARD celui-là")
    assert WORDS.found_in("nique   ta MERE !!")
    assert WORDS.found_in("c.o.n.n.a.r.d") is False  # letters apart are not the word (kept simple)
    assert not WORDS.found_in("un concert connardise")
    assert not WORDS.found_in("")
    assert not WordList().found_in("connard")


def test_words_of_is_padded_plain_words() -> None:
    assert words_of("Élodie, où es-tu ?") == " elodie ou es tu "


def test_newcomer_window() -> None:
    assert is_newcomer(NOW - timedelta(hours=23), NOW, 24)
    assert not is_newcomer(NOW - timedelta(hours=24), NOW, 24)
    assert not is_newcomer(NOW, NOW, 0)
    assert not is_newcomer(None, NOW, 24)


def test_flooding_is_more_than_n_in_the_window() -> None:
    times: deque[float] = deque()
    assert [over_limit(times, t, 3, 10) for t in (0, 1, 2)] == [False] * 3
    assert over_limit(times, 3, 3, 10)
    assert not over_limit(deque([0.0, 1.0, 2.0]), 15, 3, 10)  # the old ones left the window


def test_flood_meter_per_person() -> None:
    meter = FloodMeter(2, 5)
    assert not meter.hit(1, 0) and not meter.hit(1, 1)
    assert not meter.hit(2, 1)
    assert meter.hit(1, 2)
    meter.forget(1)
    assert not meter.hit(1, 3)


def test_verdict_order() -> None:
    def v(text: str, **kw: bool) -> str:
        args = {"muted": False, "flooding": False, "newcomer": False, **kw}
        return judge(text, words=WORDS, **args).reason

    assert v("connard www.x.com", muted=True, flooding=True) == "muted"
    assert v("connard", flooding=True) == "flood"
    assert v("connard www.x.com", newcomer=True) == "word"
    assert v("www.x.com", newcomer=True) == "link"
    assert v("www.x.com") == ""
    assert judge("bonjour", muted=False, flooding=False, newcomer=True, words=WORDS).relay


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=3000))
def test_rules_never_raise_on_any_text(text: str) -> None:
    assert isinstance(has_link(text), bool)
    assert isinstance(WORDS.found_in(text), bool)
    assert words_of(text).startswith(" ")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=200),
       st.integers(1, 20), st.integers(1, 600))
def test_flood_history_stays_bounded(times: list[float], limit: int, window: int) -> None:
    history: deque[float] = deque()
    for t in sorted(times):
        over_limit(history, t, limit, window)
        assert len(history) <= limit + 1
