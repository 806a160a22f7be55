"""Small, local, stable circles of neighbours.

The decisions are pure functions over plain values (``CircleView``), so they are tested and
benchmarked without a database: which circle a newcomer joins, which circles to merge, how to split
one that grew too big. The storage side (``place_member`` …) applies a decision inside the caller's
transaction.

Stability matters more than optimality: people are never reshuffled to improve a score. A newcomer
joins the best open circle; circles change only when they become too small (merge) or too big (split).

Nobody alone (issue 19): nobody is ever alone, or with one other person, in a circle room. The rule:
- The first neighbours of a place *wait* (told so, with how many are still needed) until
  ``rules.open_with`` (5) of them are there; the fifth opens the circle with all of them. If the place
  stays small, after ``WAIT_DAYS`` the circle opens anyway as soon as ``OPEN_AFTER_WAIT`` (3) are
  waiting (``ready_to_open``).
- A newcomer then joins the best circle still under ``target_max`` (8); when every circle is at
  ``target_max``, one of the ``SPLIT_AMONG`` newest circles grows (the best fit) up to ``hard_max`` (12).
- When every circle is full, the newcomer and the best-fitting of the ``SPLIT_AMONG`` newest full
  circles (oldest friendships are left alone; ``circles`` come oldest first) split in one step into two
  circles of ``(hard_max + 1) // 2`` and the rest (7 and 6): the half with more of the old members keeps
  the circle and its rooms, the other half moves to a new circle (taken out of the old rooms, invited to
  the new ones).
So once five have arrived every circle of the place holds 5 to 12 members, whatever the arrival order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.core.config import Circles as CircleRules

OPEN_AFTER_WAIT = 3  # after WAIT_DAYS a circle opens with this many (rules.open_with before): never one alone
WAIT_DAYS = 14
SPLIT_AMONG = 8  # a split happens in one of the newest full circles, whose members know each other least


@dataclass(frozen=True)
class Newcomer:
    interests: frozenset[str] = frozenset()
    offers: frozenset[str] = frozenset()
    wants: frozenset[str] = frozenset()


@dataclass(eq=False)  # compared by identity: comparing Counters field by field is slow and never wanted
class CircleView:
    """What placement needs to know of a circle: its size and what its members like, offer and want."""

    id: int
    size: int
    interests: Counter[str] = field(default_factory=Counter)
    offers: Counter[str] = field(default_factory=Counter)
    wants: Counter[str] = field(default_factory=Counter)

    def add(self, person: Newcomer) -> None:
        self.size += 1
        for counter, words in ((self.interests, person.interests), (self.offers, person.offers),
                               (self.wants, person.wants)):
            for word in words:  # faster than Counter.update for a handful of words
                counter[word] = counter.get(word, 0) + 1


def fit(person: Newcomer, circle: CircleView, rules: CircleRules) -> float:
    """How well a newcomer fits a circle; higher is better.

    Reciprocity weighs most: someone who would welcome help with errands should land where someone
    offers it (and the other way round), because that is what turns neighbours into support. Shared
    interests come next. A circle still under its target size gets a bonus so circles fill up before
    new ones open; among equals the smaller circle wins, so sizes stay even.
    """
    interests, offers, wants = circle.interests.get, circle.offers.get, circle.wants.get  # no __missing__
    shared = helped = helping = 0
    for i in person.interests:
        shared += bool(interests(i))
    for w in person.wants:
        helped += bool(offers(w))
    for o in person.offers:
        helping += bool(wants(o))
    filling = 4.0 if circle.size < rules.target_min else 0.0
    return 3.0 * (helped + helping) + 2.0 * shared + filling - 0.1 * circle.size


def choose_circle(person: Newcomer, circles: Iterable[CircleView], rules: CircleRules,
                  below: int | None = None) -> CircleView | None:
    """The open circle (below ``target_max``, or ``below``) the newcomer fits best, or None."""
    best: CircleView | None = None
    best_score = float("-inf")
    cap = rules.target_max if below is None else below
    for circle in circles:
        if circle.size >= cap or circle.size == 0:
            continue
        score = fit(person, circle, rules)
        if score > best_score or (score == best_score and best is not None and circle.id < best.id):
            best, best_score = circle, score
    return best


@dataclass(frozen=True)
class Decision:
    """Where a newcomer goes: ``join`` ``circle``; ``wait`` for neighbours; ``open`` a circle with those
    waiting; ``split`` the full ``circle`` in two, the newcomer joining one half (``plan_split``)."""

    action: Literal["join", "wait", "open", "split"]
    circle: CircleView | None = None


def decide(person: Newcomer, circles: Sequence[CircleView], waiting: int, rules: CircleRules) -> Decision:
    """The rule of the module docstring for one newcomer; ``circles`` oldest first, ``waiting``: how many
    others wait in the place. Only the ``SPLIT_AMONG`` newest circles grow past ``target_max`` or split:
    older circles keep their size and their people, and a newcomer is placed in time that does not grow
    with the number of circles (their candidates: those under target, and the newest few)."""
    target_max, hard_max = rules.target_max, rules.hard_max
    best: CircleView | None = None
    score = float("-inf")
    for circle in circles:
        if 0 < circle.size < target_max:
            best, score = _better(person, circle, rules, best, score)
    if best is not None:
        return Decision("join", best)
    newest = circles[-SPLIT_AMONG:]
    for circle in newest:
        if target_max <= circle.size < hard_max:
            best, score = _better(person, circle, rules, best, score)
    if best is not None:
        return Decision("join", best)
    full = choose_circle(person, newest, rules, below=rules.hard_max + 1)
    if full is not None:
        return Decision("split", full)
    return Decision("open") if waiting + 1 >= rules.open_with else Decision("wait")


def _better(person: Newcomer, circle: CircleView, rules: CircleRules, best: CircleView | None,
            best_score: float) -> tuple[CircleView | None, float]:
    """The better of ``best`` and ``circle`` for the newcomer; ties go to the older circle."""
    score = fit(person, circle, rules)
    if score > best_score or (score == best_score and best is not None and circle.id < best.id):
        return circle, score
    return best, best_score


def ready_to_open(waiting: int, oldest: datetime, now: datetime, rules: CircleRules) -> bool:
    """A small place does not wait for ever: after ``WAIT_DAYS``, three waiting neighbours open a circle."""
    after_wait = min(OPEN_AFTER_WAIT, rules.open_with)
    return waiting >= rules.open_with or (waiting >= after_wait and now - oldest >= timedelta(days=WAIT_DAYS))


def split_with(members: Sequence[tuple[int, frozenset[str]]], newcomer: tuple[int, frozenset[str]]
               ) -> tuple[list[int], list[int]]:
    """A full circle and a newcomer in two halves: (who stays, who moves to a new circle). The half with
    more of the old members stays, so fewer people change rooms."""
    first, second = plan_split([*members, newcomer])
    old = {person_id for person_id, _ in members}
    if sum(p in old for p in first) >= sum(p in old for p in second):
        return first, second
    return second, first


def plan_merges(active_sizes: dict[int, int], total_sizes: dict[int, int], rules: CircleRules) -> list[tuple[int, int]]:
    """Circles of one neighbourhood with fewer than ``merge_below`` active members are merged into
    another (the smallest that can take all of them without passing ``hard_max``).

    Returns (from, into) pairs. A small circle with nowhere to go stays as it is: a circle of two is
    better than being moved into a crowd.
    """
    sizes = dict(total_sizes)
    merges: list[tuple[int, int]] = []
    small = sorted((c for c, n in active_sizes.items() if n < rules.merge_below), key=lambda c: (sizes[c], c))
    gone: set[int] = set()
    for circle in small:
        if circle in gone:
            continue
        targets = [c for c in sizes if c != circle and c not in gone and sizes[c] + sizes[circle] <= rules.hard_max]
        if not targets:
            continue
        into = min(targets, key=lambda c: (sizes[c], c))
        merges.append((circle, into))
        sizes[into] += sizes.pop(circle)
        gone.add(circle)
    return merges


def plan_split(members: Sequence[tuple[int, frozenset[str]]]) -> tuple[list[int], list[int]]:
    """Split an oversized circle in two halves that keep people with shared interests together.

    Greedy and deterministic: members are taken in their joining order; each goes to the half where
    they share the most interests, unless that half already holds its share.
    """
    half = (len(members) + 1) // 2
    groups: tuple[list[int], list[int]] = ([], [])
    seen: tuple[dict[str, int], dict[str, int]] = ({}, {})
    for person_id, interests in members:
        first, second = seen[0].get, seen[1].get
        score0 = score1 = 0
        for i in interests:
            score0 += first(i, 0)
            score1 += second(i, 0)
        preferred = 0 if score0 >= score1 else 1
        g = preferred if len(groups[preferred]) < half else 1 - preferred
        groups[g].append(person_id)
        for i in interests:
            seen[g][i] = seen[g].get(i, 0) + 1
    return groups
