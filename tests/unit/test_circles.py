"""Placement, merging and splitting decisions, as pure functions."""

from __future__ import annotations

from collections import Counter

from bot.circles.placement import CircleView, Newcomer, choose_circle, plan_merges, plan_split
from bot.core.config import Circles

RULES = Circles(target_min=6, target_max=8, hard_max=12, merge_below=3)


def view(circle_id: int, size: int, **kw: list[str]) -> CircleView:
    return CircleView(circle_id, size, *(Counter(kw.get(k, [])) for k in ("interests", "offers", "wants")))


def test_no_circle_means_open_a_new_one() -> None:
    assert choose_circle(Newcomer(), [], RULES) is None


def test_full_circles_are_not_candidates() -> None:
    assert choose_circle(Newcomer(), [view(1, 8), view(2, 12)], RULES) is None


def test_circles_under_target_fill_first() -> None:
    chosen = choose_circle(Newcomer(frozenset({"music"})), [view(1, 6, interests=["music"]), view(2, 2)], RULES)
    assert chosen is not None and chosen.id == 2


def test_reciprocity_beats_shared_interests() -> None:
    """Someone who would welcome help with errands goes where someone offers it."""
    person = Newcomer(interests=frozenset({"music"}), wants=frozenset({"errands"}))
    circles = [view(1, 4, interests=["music", "music"]), view(2, 4, offers=["errands"])]
    assert choose_circle(person, circles, RULES).id == 2


def test_shared_interests_decide_between_equal_circles() -> None:
    person = Newcomer(interests=frozenset({"gardening"}))
    circles = [view(1, 4, interests=["music"]), view(2, 4, interests=["gardening"])]
    assert choose_circle(person, circles, RULES).id == 2


def test_ties_go_to_the_smaller_then_older_circle() -> None:
    assert choose_circle(Newcomer(), [view(3, 5), view(1, 4), view(2, 4)], RULES).id == 1


def test_small_circles_merge_into_the_smallest_that_fits() -> None:
    merges = plan_merges({1: 2, 2: 7, 3: 5}, {1: 2, 2: 7, 3: 5}, RULES)
    assert merges == [(1, 3)]


def test_a_merge_never_passes_hard_max() -> None:
    assert plan_merges({1: 2, 2: 11}, {1: 2, 2: 11}, RULES) == []


def test_two_small_circles_merge_together_once() -> None:
    merges = plan_merges({1: 1, 2: 2}, {1: 4, 2: 5}, RULES)
    assert merges == [(1, 2)]


def test_split_keeps_shared_interests_together_and_halves() -> None:
    members = [(i, frozenset({"music"})) for i in range(7)] + [(10 + i, frozenset({"walks"})) for i in range(7)]
    a, b = plan_split(members)
    assert len(a) == 7 and len(b) == 7
    assert set(a) == set(range(7))
