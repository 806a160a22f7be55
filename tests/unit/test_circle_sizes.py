"""Nobody alone (issue 19), as pure decisions: every arrival count from 1 to 40 in one place, in random
orders and with random interests. Before: the 9th resident sat alone in circle 2, and 20 arrivals
gave circles of 8, 8 and 4."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.circles.placement import CircleView, Newcomer, decide, ready_to_open, split_with
from bot.core.config import load_config

RULES = load_config().circles  # the deployment default: open with 5, target 6–8, at most 12
TOPICS = ["jardin", "belote", "lecture", "cuisine", "marche", "musique"]


def arrive_all(interests: list[frozenset[str]]) -> tuple[list[list[int]], list[int], int]:
    """Apply ``decide`` to each arrival as ``bot.circles.membership.place`` does; returns the circles
    (member ids), who still waits, and the smallest circle ever seen."""
    circles: dict[int, list[int]] = {}
    waiting: list[int] = []
    smallest = RULES.hard_max
    for person, likes in enumerate(interests):
        views = [CircleView(cid, 0) for cid in circles]
        for view in views:
            for member in circles[view.id]:
                view.add(Newcomer(interests[member]))
        decision = decide(Newcomer(likes), views, len(waiting), RULES)
        if decision.action == "wait":
            waiting.append(person)
        elif decision.action == "open":
            circles[len(circles) + 1] = [*waiting, person]
            waiting = []
        elif decision.action == "join":
            circles[decision.circle.id].append(person)
        else:
            old = circles[decision.circle.id]
            stay, move = split_with([(m, interests[m]) for m in old], (person, likes))
            circles[decision.circle.id], circles[len(circles) + 1] = stay, move
        smallest = min([smallest, *(len(m) for m in circles.values())])
    return list(circles.values()), waiting, smallest


@settings(max_examples=300, deadline=None)
@given(st.lists(st.frozensets(st.sampled_from(TOPICS), max_size=3), min_size=1, max_size=40))
def test_every_circle_holds_five_to_twelve_whatever_the_order(interests: list[frozenset[str]]) -> None:
    circles, waiting, smallest = arrive_all(interests)
    sizes = sorted(len(c) for c in circles)
    if len(interests) >= RULES.open_with:
        assert waiting == [] and sizes and all(RULES.open_with <= n <= RULES.hard_max for n in sizes), sizes
        assert smallest >= RULES.open_with, "nobody ever alone or with one other person"
    else:
        assert circles == [] and len(waiting) == len(interests)
    assert sum(sizes) + len(waiting) == len(interests)
    assert sorted([*(p for c in circles for p in c), *waiting]) == list(range(len(interests))), "each once"


def test_every_count_from_one_to_forty() -> None:
    for count in range(1, 41):
        circles, waiting, _ = arrive_all([frozenset()] * count)
        sizes = sorted(len(c) for c in circles)
        if count >= 6:
            assert all(5 <= n <= 12 for n in sizes), (count, sizes)
        assert sum(sizes) + len(waiting) == count


def test_the_examples_of_the_issue() -> None:
    """The 9th resident joins the circle; 20 arrivals make circles of at least 5, not 8, 8 and 4."""
    assert sorted(len(c) for c in arrive_all([frozenset()] * 9)[0]) == [9]
    assert sorted(len(c) for c in arrive_all([frozenset()] * 13)[0]) == [6, 7]
    assert all(len(c) >= 5 for c in arrive_all([frozenset()] * 20)[0])


def test_a_small_place_opens_its_circle_with_three_after_the_wait() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert not ready_to_open(3, now - timedelta(days=13), now, RULES)
    assert ready_to_open(3, now - timedelta(days=14), now, RULES)
    assert not ready_to_open(2, now - timedelta(days=60), now, RULES), "never two alone in a room"
    assert ready_to_open(5, now, now, RULES)
