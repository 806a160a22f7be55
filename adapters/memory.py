"""An in-memory platform: the fake adapter of the core's tests and benchmarks.

It behaves like a small chat server: rooms with members, private chats, messages in order. It can
enforce Telegram-like rate limits (``limits``) and be told to fail, so the outbox's retry and
give-up paths are tested without a network. Sends are idempotent by key, like Matrix transactions.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime

from adapters.base import Adapter
from bot.core.chat import (
    Address,
    Body,
    Capabilities,
    Delivered,
    FileTooBig,
    Incoming,
    InviteResult,
    Outgoing,
    RetryLater,
    RoomSpec,
    Sender,
    SendResult,
    Undeliverable,
)
from bot.core.i18n import Localized


@dataclass
class RateLimits:
    """Per-second global and per-chat limits; a send over them answers RetryLater like a 429."""

    global_per_s: int = 30
    per_chat_per_s: int = 1
    clock: callable = time.monotonic  # type: ignore[valid-type]


@dataclass
class MemoryPlatform(Adapter):
    platform: str = "fake"
    capabilities: Capabilities = field(
        default_factory=lambda: Capabilities(buttons=True, create_rooms=True, invite_links=False)
    )
    limits: RateLimits | None = None
    idempotent_sends: bool = True
    sent: list[Outgoing] = field(default_factory=list)
    rooms: dict[str, set[str]] = field(default_factory=dict)
    room_names: dict[str, str] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    powers: dict[tuple[str, str], int] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # documents users sent, by reference
    muted: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (room, user) -> until
    banned: set[tuple[str, str]] = field(default_factory=set)  # (room, user)
    fail_next: deque[SendResult] = field(default_factory=deque)
    rejected: int = 0
    # Texts the core tried to send that were not catalogue sentences (``Localized``): a bug, always.
    not_catalogue: list[str] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _recent: deque[tuple[float, str]] = field(default_factory=deque)

    # ---- what a test does as a user ---------------------------------------------------------

    def event(
        self, user: str, body: Body, *, chat: str | None = None, name: str = "", lang: str | None = None
    ) -> Incoming:
        """An event from ``user`` in their private chat (``dm:<user>``) or in ``chat``."""
        chat_id = chat or f"dm:{user}"
        return Incoming(
            Address(self.platform, chat_id, user, private=chat is None),
            body,
            Sender(first_name=name or user.capitalize(), language=lang),
            external_id=f"{self.platform}-{next(self._ids)}",
        )

    def to(self, chat_id: str) -> list[Outgoing]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def last(self, chat_id: str) -> Outgoing:
        return self.to(chat_id)[-1]

    def room_of(self, user: str) -> str | None:
        return next((room for room, members in self.rooms.items() if user in members), None)

    # ---- what the core calls ------------------------------------------------------------------

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        if not isinstance(message.text, Localized):  # the tests' fixtures fail on any of these
            self.not_catalogue.append(str(message.text))
            return Undeliverable("the core must only send catalogue sentences", chat_gone=False)
        if self.fail_next:
            return self.fail_next.popleft()
        if message.chat_id.removeprefix("dm:") in self.blocked:
            return Undeliverable("blocked by the user")
        wait = self._over_limit(message.chat_id)
        if wait:
            self.rejected += 1
            return RetryLater(wait, "429")
        if idempotency_key not in self._keys:
            self._keys.add(idempotency_key)
            self.sent.append(message)
        return Delivered(str(len(self.sent)))

    async def create_room(self, spec: RoomSpec) -> str:
        room_id = f"room:{spec.circle_id}"
        self.rooms.setdefault(room_id, set())
        self.room_names[room_id] = spec.name
        return room_id

    async def invite(self, room_id: str, user_id: str, *, idempotency_key: str) -> InviteResult:
        if room_id not in self.rooms:
            return InviteResult(Undeliverable("room gone"))
        self.rooms[room_id].add(user_id)
        return InviteResult(Delivered())

    async def fetch_file(self, ref: str, max_bytes: int) -> bytes:
        data = self.files[ref]
        if len(data) > max_bytes:
            raise FileTooBig(ref)
        return data

    async def remove_member(self, room_id: str, user_id: str, *, ban: bool = False) -> SendResult:
        self.rooms.get(room_id, set()).discard(user_id)
        if ban:
            self.banned.add((room_id, user_id))
        return Delivered()

    async def mute_member(self, room_id: str, user_id: str, until: datetime) -> SendResult:
        if room_id not in self.rooms:
            return Undeliverable("room gone")
        self.muted[(room_id, user_id)] = until
        return Delivered()

    async def set_power_level(self, room_id: str, user_id: str, level: int) -> SendResult:
        if room_id not in self.rooms:
            return Undeliverable("room gone")
        self.powers[(room_id, user_id)] = level
        return Delivered()

    def _over_limit(self, chat_id: str) -> float:
        if self.limits is None:
            return 0.0
        now = self.limits.clock()
        while self._recent and now - self._recent[0][0] >= 1.0:
            self._recent.popleft()
        per_chat = defaultdict(int)
        for _, chat in self._recent:
            per_chat[chat] += 1
        if len(self._recent) >= self.limits.global_per_s or per_chat[chat_id] >= self.limits.per_chat_per_s:
            return 1.0 - (now - self._recent[0][0])
        self._recent.append((now, chat_id))
        return 0.0
