"""What every adapter implements and declares, so a new platform plugs in without touching the core.

An adapter has two halves:
- receiving: it turns platform updates into ``bot.core.chat.Incoming`` and hands them to
  ``core.receive`` (or writes a batch with ``bot.storage.inbox.accept`` together with the platform's
  cursor) *before* confirming them to the platform;
- delivering: the core's outbox worker calls ``send``, ``create_room`` and ``invite`` and records the
  result. An adapter answers with ``Delivered``, ``RetryLater`` (rate limit, network) or
  ``Undeliverable`` (blocked, room gone) instead of raising, so the outbox can do the right thing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.core.chat import Capabilities, InviteResult, Outgoing, RoomSpec, SendResult

if TYPE_CHECKING:
    from bot.core.app import Core


class StartFailed(Exception):
    """The platform cannot be reached or refused the bot's credentials at start: one sentence for the
    person running ``voisinage run`` (what failed and what to check), never a traceback."""


class Adapter(ABC):
    platform: str
    capabilities: Capabilities
    # True when resending the same idempotency key cannot show a message twice (Matrix txn ids):
    # then items interrupted mid-send are resent after a crash instead of being given up.
    idempotent_sends: bool = False
    # When the platform last answered a poll or a sync (None: not polling, e.g. a Telegram webhook).
    # The running process writes it down, so `voisinage status` and /healthz can tell a stuck poller.
    last_contact: datetime | None = None
    # Several workers on one database (bot/core/workers.py): the intake (``run``) runs on one worker at a
    # time, under a lease, unless it may run on every worker (a webhook behind one URL); and where the
    # sends need what the intake keeps in memory (a sync's state, encryption keys) they go with it.
    intake_leased: bool = True
    sends_with_intake: bool = False

    def heard_from_platform(self) -> None:
        self.last_contact = datetime.now(UTC)

    @abstractmethod
    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult: ...

    async def create_room(self, spec: RoomSpec) -> str:
        raise NotImplementedError(f"{self.platform} cannot create rooms")

    @abstractmethod
    async def invite(self, room_id: str, user_id: str, *, idempotency_key: str) -> InviteResult: ...

    async def fetch_file(self, ref: str, max_bytes: int) -> bytes:
        """The content of a document someone sent; platforms that receive files override this."""
        raise NotImplementedError(f"{self.platform} does not receive files")

    def ready_in(self, chat_id: str) -> float:
        """Seconds before this chat may receive another message (per-chat pacing); 0 when it may now."""
        return 0.0

    async def run(self, core: Core) -> None:
        """Receive from the platform until cancelled. Adapters that only deliver need not override."""
        return None

    async def close(self) -> None:
        return None
