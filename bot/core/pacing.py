"""Pacing deliveries to a platform's overall rate, so a fan-out of thousands never meets a 429.

A platform declares how many messages a second it accepts overall (``Capabilities.messages_per_second``,
about 30 for Telegram); the delivery worker waits on this pacer before each send. It spaces sends
evenly — a token bucket of capacity one — because Telegram counts over a sliding second: a bucket that
saved up a burst would send 30 at once and then 30 more within the same second. A small margin below
the declared rate absorbs timer jitter. Clock and sleep are injectable so a benchmark can scale time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

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
