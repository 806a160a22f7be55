"""Pacing deliveries to what a platform accepts, so a fan-out of thousands never meets a wall of 429s.

Three tools, one place:
- ``Pacer`` spaces sends evenly to a platform's overall rate (``Capabilities.messages_per_second``), a
  token bucket of capacity one: Telegram counts over a sliding second, and a bucket that saved up a
  burst would send 30 at once and then 30 more within the same second. A small margin below the
  declared rate absorbs timer jitter. Clock and sleep are injectable so a benchmark can scale time.
- ``ChatLimits`` keeps sliding windows per chat and overall (Telegram: 1 a second per private chat,
  20 a minute per group, ~30 a second overall) and the stalls a 429 imposes on one chat, so the outbox
  worker can skip a chat that must wait and go on with the others.
- ``backoff`` is how long to wait before trying again after the n-th transient failure.
- ``ClassTurns`` decides which delivery class goes next (answers, care, bulk): the highest waiting
  class first, with a share kept for each lower one so bulk is never starved.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

MARGIN = 0.97


class Pacer:
    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep, margin: float = MARGIN) -> None:
        self.interval = 1.0 / (per_second * margin) if per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    async def wait(self) -> None:
        """Return when the next send is allowed; never lets a backlog turn into a burst."""
        if not self.interval:
            return
        now = self._clock()
        slot = max(self._next, now)
        self._next = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)


def backoff(attempt: int, cap: float = 600.0) -> float:
    """1, 2, 4 … seconds up to ``cap``: transient trouble is retried patiently, never hammered."""
    return float(min(cap, 2 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class Rates:
    """How many sends a platform allows, each limit a sliding window (0: no limit)."""

    overall: int
    overall_window: float
    private: int
    private_window: float
    group: int
    group_window: float
    margin: float = 0.0  # seconds added to every window: our clock stamps a send before the platform does

    @classmethod
    def unlimited(cls) -> Rates:
        return cls(overall=0, overall_window=1.0, private=0, private_window=1.0, group=0, group_window=1.0)


class Window:
    """At most ``limit`` events in any ``span`` seconds."""

    def __init__(self, limit: int, span: float) -> None:
        self.limit, self.span = limit, span
        self.stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        if self.limit <= 0:
            return 0.0
        while self.stamps and self.stamps[0] <= now - self.span:
            self.stamps.popleft()
        return self.stamps[0] + self.span - now if len(self.stamps) >= self.limit else 0.0

    def add(self, now: float) -> None:
        if self.limit > 0:
            self.stamps.append(now)


class ChatLimits:
    """Per-chat and overall windows, and 429 stalls. ``is_group`` tells a group chat from a private one
    (each platform has its own way to say it)."""

    def __init__(self, rates: Rates, is_group: Callable[[str], bool],
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.rates = rates
        self.is_group = is_group
        self.clock = clock
        self.sleep = sleep  # injectable, with the clock, so a benchmark can scale time
        self._overall = Window(rates.overall, rates.overall_window + rates.margin)
        self._chats: dict[str, Window] = {}
        self._stalled: dict[str, float] = {}

    def _chat(self, chat_id: str) -> Window:
        window = self._chats.get(chat_id)
        if window is None:
            r = self.rates
            limit, span = (r.group, r.group_window) if self.is_group(chat_id) else (r.private, r.private_window)
            window = self._chats[chat_id] = Window(limit, span + r.margin)
        return window

    def ready_in(self, chat_id: str) -> float:
        """Seconds before this chat may receive a message (its own window, or a 429 stall)."""
        now = self.clock()
        stalled = self._stalled.get(chat_id, 0.0) - now
        if stalled <= 0:
            self._stalled.pop(chat_id, None)
        return max(stalled, self._chat(chat_id).wait(now), 0.0)

    async def acquire(self, chat_id: str) -> None:
        """Wait for a slot in this chat and overall, then take it."""
        while True:
            now = self.clock()
            wait = max(self.ready_in(chat_id), self._overall.wait(now))
            if wait <= 0:
                self._overall.add(now)
                self._chat(chat_id).add(now)
                return
            await self.sleep(wait)

    def stall(self, chat_id: str, seconds: float) -> None:
        """The platform said 429 for this chat: nothing more to it until ``seconds`` have passed."""
        self._stalled[chat_id] = max(self._stalled.get(chat_id, 0.0), self.clock() + seconds)

    def forget_idle(self) -> None:
        """Drop windows of chats not written to lately, so a fan-out to 100,000 chats does not stay in memory."""
        now = self.clock()
        for chat_id in [c for c, w in self._chats.items() if not w.stamps or w.stamps[-1] < now - w.span]:
            del self._chats[chat_id]


# Out of every 10 sends while every class has something waiting: 5 answers, 3 care, 2 bulk. A class with
# nothing waiting leaves its turns to the others, so bulk gets the whole rate when no one is talking, and
# never less than 20 % of it however busy the higher classes are (no starvation); care likewise keeps
# 30 % against a flood of answers. Within a round the highest class goes first: a lone answer never
# waits behind more than the sends already in flight.
CLASS_SHARES: dict[int, int] = {1: 5, 2: 3, 3: 2}
# On an account whose every event is counted (a Matrix account under Synapse's limits: one event every
# 5 s) a circle's room never goes ahead of a person's answer or care: each bulk send there is 5 s more
# for the resident waiting. Bulk goes when neither waits; answers are what people type, so they ebb.
ANSWERS_FIRST_SHARES: dict[int, int] = {1: 5, 2: 3, 3: 0}


class ClassTurns:
    """Weighted turns between delivery classes (lower number = higher class), kept across passes.

    A round gives each class its share (``CLASS_SHARES``); the next send goes to the highest class that
    has something waiting and turns left in the round; when every waiting class has used its turns, a
    new round starts. The count lives here, not in one pass, so a pass cut short (something new was
    queued) does not hand the answers a fresh round each time and starve the bulk."""

    def __init__(self, shares: dict[int, int] | None = None) -> None:
        self.shares = dict(shares or CLASS_SHARES)
        self.used = dict.fromkeys(self.shares, 0)

    def _pick(self, used: dict[int, int], waiting: Sequence[int]) -> int:
        open_classes = [c for c in waiting if used[c] < self.shares[c]]
        if not open_classes:  # every waiting class had its turns: a new round
            for c in used:
                used[c] = 0
            open_classes = list(waiting)
        return min(open_classes)

    def order(self, items: Sequence[T], class_of: Callable[[T], Hashable]) -> list[T]:
        """``items`` (oldest first within each class) in the order the turns would send them."""
        queues: dict[int, list[T]] = {}
        for item in items:
            queues.setdefault(class_of(item), []).append(item)  # type: ignore[arg-type]
        used = dict(self.used)
        heads = dict.fromkeys(queues, 0)
        ordered: list[T] = []
        while len(ordered) < len(items):
            waiting = sorted(c for c in queues if heads[c] < len(queues[c]))
            chosen = self._pick(used, waiting)
            ordered.append(queues[chosen][heads[chosen]])
            heads[chosen] += 1
            used[chosen] += 1
        return ordered

    def took(self, delivery_class: int) -> None:
        """A send of this class really started: count it against its round. Sending a class that has
        used its turns means no other waiting class had any left (``order``): a new round."""
        if self.used[delivery_class] >= self.shares[delivery_class]:
            self.used = dict.fromkeys(self.shares, 0)
        self.used[delivery_class] += 1


class TokenBucket:
    """One account's budget, as a homeserver counts it: ``burst`` actions at once, then ``per_second``.

    Synapse limits each account (not each room) with such a bucket (``rc_message``: 0.2/s, burst 10 by
    default), and every event the account sends counts: messages, invites, joins. A bot that backs off
    per room still overdraws it; this bucket is shared by everything the account sends. ``reserve``
    takes a slot at once or says how long until one is free, so callers can serve others meanwhile;
    ``hold`` applies the wait the server asked for (``retry_after_ms``) to the whole account.
    ``per_second`` 0: no limit (the homeserver exempts the bot, or an appservice)."""

    def __init__(self, per_second: float, burst: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.burst = max(1.0, burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._held_until = 0.0

    def _refill(self, now: float) -> None:
        if self.per_second > 0:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
        self._stamp = now

    def reserve(self) -> float:
        """0.0: a slot was taken, act now. Otherwise the seconds until one is free (nothing taken)."""
        now = self._clock()
        if now < self._held_until:
            return self._held_until - now
        if self.per_second <= 0:
            return 0.0
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.per_second

    async def take(self, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        """Wait for a slot and take it (for loops that have nothing else to do meanwhile)."""
        while (wait := self.reserve()) > 0:
            await sleep(wait)

    def hold(self, seconds: float) -> None:
        """The server refused for its limit and said how long to wait: nothing at all until then, and
        then one action (the server's own count is full: the rest come at ``per_second``)."""
        self._held_until = max(self._held_until, self._clock() + seconds)
        self._tokens = 1.0
        self._stamp = self._held_until

    def held_for(self) -> float:
        return max(0.0, self._held_until - self._clock())
