"""Several sends in flight: claims grouped in few statements, never more in flight than the platform
allows, each chat in order, every success written by the end of the pass; and a batch of incoming
events lets answers out before it is finished."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from adapters.memory import MemoryPlatform
from bot.core.chat import Capabilities, CommandIn, Delivered, Outgoing, SendResult
from bot.core.i18n import Localized
from bot.storage import outbox
from tests.core.conftest import Neighbours


@dataclass
class SlowPlatform(MemoryPlatform):
    """Each send takes a while, as over a network; records how many were in flight at once."""

    platform: str = "slow"
    idempotent_sends: bool = False
    in_flight: int = 0
    most_in_flight: int = 0
    order: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.005)
            self.order.append((message.chat_id, str(message.text)))
            return Delivered()
        finally:
            self.in_flight -= 1


async def _queue(hood: Neighbours, chat_id: str, text: str) -> None:
    async with hood.core.db.transaction():
        await hood.core.queue_message(hood.core.db, "slow", chat_id, Localized(text), (), hood.clock.now())


async def test_sends_in_flight_are_bounded_claimed_in_groups_and_all_written_sent(
    hood: Neighbours, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowPlatform(capabilities=Capabilities(buttons=True, create_rooms=False, invite_links=False,
                                                  sends_in_flight=4))
    hood.core.attach(slow)
    for n in range(3):
        for chat in range(10):
            await _queue(hood, f"chat{chat}", f"annonce {n}")
    claims = 0
    real_claim = outbox.claim

    async def counting_claim(*args, **kwargs):
        nonlocal claims
        claims += 1
        return await real_claim(*args, **kwargs)

    monkeypatch.setattr(outbox, "claim", counting_claim)
    while await hood.core.deliver_due("slow"):
        pass
    assert len(slow.order) == 30
    assert slow.most_in_flight == 4
    assert claims < 30  # claims asked for while one was on its way went together
    for chat in range(10):
        assert [text for c, text in slow.order if c == f"chat{chat}"] == ["annonce 0", "annonce 1", "annonce 2"]
    assert await outbox.counts(hood.core.db) == {"sent": 30}


async def test_a_long_batch_of_events_lets_waiting_messages_out_before_it_ends(
    hood: Neighbours, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher commits early when the delivery worker waits for the database: a message already
    queued does not wait for a whole batch of incoming events to be handled."""
    core = hood.core
    async with core.db.transaction():
        await core.queue_message(core.db, "fake", "dm:ana", Localized("Fête des voisins"), (), hood.clock.now())
    for n in range(60):
        await core.receive(hood.platform.event(f"user{n}", CommandIn("aide", "")))
    handled = 0
    sent_after: list[int] = []
    delivering: list[asyncio.Task] = []
    real_handle, real_send = core._handle, hood.platform.send

    async def send(message: Outgoing, *, idempotency_key: str) -> SendResult:
        sent_after.append(handled)
        return await real_send(message, idempotency_key=idempotency_key)

    async def deliver_once() -> None:
        await core.deliver_due("fake")

    async def handle(event, batch) -> None:
        nonlocal handled
        await real_handle(event, batch)
        handled += 1
        if handled == 10:
            delivering.append(asyncio.get_running_loop().create_task(deliver_once()))

    monkeypatch.setattr(core, "_handle", handle)
    monkeypatch.setattr(hood.platform, "send", send)
    await core.process_pending()
    await delivering[0]  # its send may come after the batch's end: awaited, not given a fixed 50 ms
    # asked after the 10th event, it waits for at most a few short transactions, not all 60 events
    assert hood.platform.to("dm:ana") and sent_after[0] < 40
    await core.settle()
    assert len(hood.platform.sent) == 61
