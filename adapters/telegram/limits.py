"""Telegram's limits, kept on our side so 429s stay rare (the windows themselves: ``bot.core.pacing``).

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.pacing import ChatLimits, Rates


@dataclass(frozen=True)
class TelegramRates(Rates):
    overall: int = 30
    overall_window: float = 1.0
    private: int = 1
    private_window: float = 1.0
    group: int = 20
    group_window: float = 60.0
    margin: float = 0.04


def is_group(chat_id: str) -> bool:
    """Telegram's group and channel ids are negative; private chats are the user's own positive id."""
    return chat_id.startswith("-")


def chat_limits(rates: Rates | None = None, clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> ChatLimits:
    return ChatLimits(rates or TelegramRates(), is_group, clock, sleep)
