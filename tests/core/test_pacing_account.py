"""Delivery against an account-wide limit (Synapse's rc_message): order, waits, fairness.

The in-memory platform plays a homeserver that counts every event of the bot's account; the Matrix
adapter's own budget is tested in tests/unit/test_token_bucket.py."""

from __future__ import annotations

from adapters.memory import MemoryPlatform
from bot.core.chat import InviteResult, Outgoing, RetryLater, SendResult
from bot.core.clock import from_iso
from bot.core.i18n import Localized
from bot.storage import outbox
from tests.core.conftest import Neighbours


class Journal(MemoryPlatform):
    """A platform that writes down, in order, every message and invitation it carries out."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[tuple[str, str]] = []

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        result = await super().send(message, idempotency_key=idempotency_key)
        if not isinstance(result, RetryLater):
            self.journal.append(("message", message.chat_id))
        return result

    async def invite(self, room_id: str, user_id: str, *, idempotency_key: str) -> InviteResult:
        self.journal.append(("invite", user_id))
        return await super().invite(room_id, user_id, idempotency_key=idempotency_key)


def _attach_journal(hood: Neighbours) -> Journal:
    platform = Journal()
    hood.core.transports.pop(hood.platform.platform)
    hood.core.attach(platform)
    hood.platform = platform
    return platform


async def _tried_before(hood: Neighbours) -> int:
    """A message to Ana already tried 7 times (its id)."""
    db = hood.core.db
    async with db.transaction():
        await outbox.add(db, "fake", "message", "dm:ana", Outgoing("fake", "dm:ana", Localized("hello")).to_json(),
                         hood.clock.now())
    item_id = await db.scalar("SELECT MAX(id) FROM outbox")
    await db.execute_alone("UPDATE outbox SET attempts = 7 WHERE id = ?", (item_id,))
    return item_id


async def test_the_welcome_arrives_before_the_invitation(hood: Neighbours) -> None:
    """Reproduces: the invitation was queued before the welcome and invites were delivered before any
    message of the pass, so a resident was invited into a room before being told why."""
    platform = _attach_journal(hood)
    await hood.join("ana")
    welcome = platform.journal.index(("message", "dm:ana"), len(platform.journal) - 2)
    assert platform.journal.index(("invite", "ana")) > welcome
    assert "Voisins · Belleville · 1" in str(platform.last("dm:ana").text)  # named as the room is


async def test_a_rate_limited_welcome_holds_the_invitation_back(hood: Neighbours) -> None:
    """The welcome refused for the rate limit: the invitation waits behind it, then both go, in order."""
    platform = _attach_journal(hood)
    await hood.say("ana", "/start")
    await hood.press("ana", "onboarding.consent:yes")
    await hood.say("ana", "belleville")
    await hood.press("ana", "onboarding.interests:done")
    platform.fail_next.append(RetryLater(7, "M_LIMIT_EXCEEDED Too Many Requests"))
    await hood.press("ana", "onboarding.checkins:host")
    assert ("invite", "ana") not in platform.journal
    hood.clock.advance(seconds=8)
    await hood.core.settle()
    assert platform.journal[-2:] == [("message", "dm:ana"), ("invite", "ana")]


async def test_a_rate_limit_waits_what_the_platform_said_without_backing_off(hood: Neighbours) -> None:
    """Reproduces: a message refused for the rate limit for the 8th time waited 2^7 = 128 s although the
    server asked for 3 s, so rooms backed off far past the limit and then all came back at once."""
    db = hood.core.db
    item_id = await _tried_before(hood)
    hood.platform.fail_next.append(RetryLater(3, "M_LIMIT_EXCEEDED Too Many Requests"))
    await hood.core.settle()
    status, not_before = await db.fetchone("SELECT status, not_before FROM outbox WHERE id = ?", (item_id,))
    assert status == "pending"
    waited = (from_iso(not_before) - hood.clock.now()).total_seconds()
    assert 2 <= waited <= 4, waited
    assert hood.core.counters.get("rate_limited", platform="fake") == 1


async def test_other_transient_failures_still_back_off(hood: Neighbours) -> None:
    """Network trouble (no wait named by the platform) is still retried patiently, not hammered."""
    db = hood.core.db
    item_id = await _tried_before(hood)
    hood.platform.fail_next.append(RetryLater(3, "network: timeout"))
    await hood.core.settle()
    not_before = await db.scalar("SELECT not_before FROM outbox WHERE id = ?", (item_id,))
    assert (from_iso(not_before) - hood.clock.now()).total_seconds() >= 60
