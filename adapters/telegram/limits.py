"""Pacing in front of every send: Telegram's limits, kept on our side so 429s stay rare.

PTB's ``AIORateLimiter`` has no per-private-chat limit and does not retry a 429, so the adapter paces
itself: about 30 messages a second overall, 1 a second per private chat, 20 a minute per group.
Each limit is a sliding window (like Telegram's), widened by a small margin because our clock stamps
a send slightly before Telegram does.

The per-chat part is exposed as ``ready_in`` so the core's outbox worker skips a chat that must wait
and goes on with the others; the overall part is awaited inside ``send`` (every chat shares it, so
skipping would not help). A 429 stalls only the chat it was about: ``stall``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rates:
    overall: int = 30
    overall_window: float = 1.0
    private: int = 1
    private_window: float = 1.0
    group: int = 20
    group_window: float = 60.0
    margin: float = 0.04  # seconds added to every window

    @classmethod
    def unlimited(cls) -> Rates:
        return cls(overall=0, private=0, group=0)


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


class Pacer:
    def __init__(self, rates: Rates | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rates = rates or Rates()
        self.clock = clock
        r = self.rates
        self._overall = Window(r.overall, r.overall_window + r.margin)
        self._chats: dict[str, Window] = {}
        self._stalled: dict[str, float] = {}

    def _chat(self, chat_id: str) -> Window:
        window = self._chats.get(chat_id)
        if window is None:
            r = self.rates
            private = not chat_id.startswith("-")
            limit, span = (r.private, r.private_window) if private else (r.group, r.group_window)
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
            await asyncio.sleep(wait)

    def stall(self, chat_id: str, seconds: float) -> None:
        """Telegram said 429 for this chat: nothing more to it until ``seconds`` have passed."""
        self._stalled[chat_id] = max(self._stalled.get(chat_id, 0.0), self.clock() + seconds)

    def forget_idle(self) -> None:
        """Drop windows of chats not written to lately, so a fan-out to 100,000 chats does not stay in memory."""
        now = self.clock()
        for chat_id in [c for c, w in self._chats.items() if not w.stamps or w.stamps[-1] < now - w.span]:
            del self._chats[chat_id]
