"""Answers first (issue 15): a person's reply and a care message never wait behind an announcement.

Before delivery classes the outbox was one FIFO by id: a /start typed while an announcement to
thousands fanned out waited for every announcement queued before it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from adapters.memory import MemoryPlatform
from bot.core.chat import Capabilities, CommandIn, Delivered, Outgoing, RetryLater, SendResult
from bot.core.i18n import Localized
from bot.core.pacing import ANSWERS_FIRST_SHARES, ChatLimits, ClassTurns, Rates
from bot.operations import status
from bot.storage import outbox
from tests.core.conftest import Neighbours
from tests.waiting import until

ONE_AT_A_TIME = Capabilities(buttons=True, create_rooms=False, invite_links=False, sends_in_flight=1)


async def _announce(hood: Neighbours, chats: list[str], text: str = "annonce", platform: str = "fake") -> None:
    """What an announcement's fan-out writes: one bulk message per chat, in one statement."""
    rows = [(platform, "message", chat, Outgoing(platform, chat, Localized(text)).to_json(), None)
            for chat in chats]
    async with hood.core.db.transaction():
        await outbox.add_many(hood.core.db, rows, hood.clock.now(), outbox.BULK)


async def _queue(hood: Neighbours, chat: str, text: str, delivery_class: int, platform: str = "fake") -> None:
    async with hood.core.db.transaction():
        await hood.core.queue_message(hood.core.db, platform, chat, Localized(text), (), hood.clock.now(),
                                      delivery_class=delivery_class)


async def test_a_reply_overtakes_a_queued_announcement(hood: Neighbours) -> None:
    """Reproduces the issue: 200 announcements are waiting when anne sends /help; her answer is the
    first thing sent, not the 201st."""
    await _announce(hood, [f"dm:u{i}" for i in range(200)] + ["dm:anne"])
    await hood.core.receive(hood.platform.event("anne", CommandIn("help", "")))
    await hood.core.process_pending()
    await hood.core.deliver_due("fake")
    first = hood.platform.sent[0]
    assert first.chat_id == "dm:anne" and first.text != "annonce"
    await hood.core.settle()
    assert [m.text for m in hood.platform.to("dm:anne")][-1] == "annonce"  # hers still comes, after


async def test_a_reply_queued_during_a_pass_does_not_wait_for_the_rest_of_it(hood: Neighbours) -> None:
    """A pass chose 100 announcements; an answer queued while it runs goes out within the sends
    already under way, not after the 100 (the pass stops and chooses again)."""

    @dataclass
    class Slow(MemoryPlatform):
        platform: str = "slow"
        queued_after: int = 10
        on_send: list = field(default_factory=list)

        async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
            await asyncio.sleep(0.002)
            self.sent.append(message)
            for hook in self.on_send:
                await hook(len(self.sent))
            return Delivered()

    slow = Slow(capabilities=ONE_AT_A_TIME)
    hood.core.attach(slow)
    await _announce(hood, [f"dm:u{i}" for i in range(100)], platform="slow")

    async def answer_after_ten(count: int) -> None:
        if count == 10:
            await _queue(hood, "dm:anne", "réponse", outbox.ANSWER, platform="slow")
            hood.core.wake_outbox()

    slow.on_send.append(answer_after_ten)
    worker = asyncio.create_task(hood.core.run_delivery("slow"))
    try:  # a deadline, not 500 polls: on a loaded machine 101 sends may take longer than 2.5 s
        await until(lambda: len(slow.sent) >= 101, timeout=60, what="the 101 sends")
    finally:
        worker.cancel()
    chats = [m.chat_id for m in slow.sent]
    assert len(chats) == 101 and chats.index("dm:anne") <= 11


@dataclass
class PerChatPlatform(MemoryPlatform):
    """One message a second per chat, on the test's clock (as Telegram's private chats)."""

    pacing: ChatLimits | None = None

    def ready_in(self, chat_id: str) -> float:
        return self.pacing.ready_in(chat_id) if self.pacing else 0.0

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        result = await super().send(message, idempotency_key=idempotency_key)
        if isinstance(result, Delivered) and self.pacing:
            await self.pacing.acquire(message.chat_id)
        return result


def _per_chat(hood: Neighbours) -> PerChatPlatform:
    start = hood.clock.now()
    rates = Rates(overall=0, overall_window=1.0, private=1, private_window=1.0, group=20, group_window=60.0)
    platform = PerChatPlatform(platform="paced", capabilities=ONE_AT_A_TIME)
    platform.pacing = ChatLimits(rates, lambda chat: False, lambda: (hood.clock.now() - start).total_seconds())
    hood.core.attach(platform)
    return platform


async def _drain(hood: Neighbours, platform: str, seconds: int) -> None:
    for _ in range(seconds):
        await hood.core.deliver_due(platform)
        hood.clock.advance(seconds=1)


async def test_order_is_kept_per_chat_within_a_class_and_the_per_chat_limit_across_classes(hood: Neighbours) -> None:
    """One chat gets three announcements, then two answers, then a care message: the answers come
    first and in their order, then the care message, then the announcements in theirs; one a second,
    whatever the class (the per-chat limit is the platform's, not the class's)."""
    paced = _per_chat(hood)
    for n in (1, 2, 3):
        await _queue(hood, "dm:anne", f"annonce {n}", outbox.BULK, platform="paced")
    await _queue(hood, "dm:anne", "réponse 1", outbox.ANSWER, platform="paced")
    await _queue(hood, "dm:anne", "réponse 2", outbox.ANSWER, platform="paced")
    await _queue(hood, "dm:anne", "soin 1", outbox.CARE, platform="paced")
    await _drain(hood, "paced", 10)
    assert [m.text for m in paced.sent] == ["réponse 1", "réponse 2", "soin 1", "annonce 1", "annonce 2", "annonce 3"]
    assert paced.rejected == 0


async def test_a_held_back_answer_holds_its_conversation_but_a_held_announcement_holds_no_answer(
    hood: Neighbours,
) -> None:
    """Two answers of one conversation never swap, even when the first is refused for a while (a 429);
    an announcement refused for a while does not hold back an answer to the same chat."""
    await _queue(hood, "dm:anne", "annonce", outbox.BULK)
    hood.platform.fail_next.append(RetryLater(30, "429"))
    await hood.core.deliver_due("fake")  # the announcement is refused: back in 30 s
    await _queue(hood, "dm:anne", "réponse 1", outbox.ANSWER)
    await hood.core.deliver_due("fake")
    assert [m.text for m in hood.platform.sent] == ["réponse 1"]  # overtook the held announcement
    hood.platform.fail_next.append(RetryLater(30, "429"))
    await _queue(hood, "dm:anne", "réponse 2", outbox.ANSWER)
    await _queue(hood, "dm:anne", "réponse 3", outbox.ANSWER)
    await hood.core.deliver_due("fake")  # "réponse 2" is refused: "réponse 3" must wait behind it
    assert [m.text for m in hood.platform.sent] == ["réponse 1"]
    hood.clock.advance(seconds=31)
    await hood.core.settle()
    assert [m.text for m in hood.platform.sent] == ["réponse 1", "réponse 2", "réponse 3", "annonce"]


async def test_bulk_is_not_starved_when_answers_keep_coming(hood: Neighbours) -> None:
    """Every send brings a new answer (a busy evening): each pass is cut short to serve it, yet the
    announcement keeps at least its share (2 of every 7 sends when only answers and bulk wait)."""

    @dataclass
    class Busy(MemoryPlatform):
        platform: str = "busy"
        n: int = 0

        async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
            self.sent.append(message)
            self.n += 1
            await _queue(hood, f"dm:resident{self.n}", "réponse", outbox.ANSWER, platform="busy")
            hood.core.wake_outbox()
            return Delivered()

    busy = Busy(capabilities=ONE_AT_A_TIME)
    hood.core.attach(busy)
    await _announce(hood, [f"dm:u{i}" for i in range(100)], platform="busy")
    await _queue(hood, "dm:first", "réponse", outbox.ANSWER, platform="busy")
    while len(busy.sent) < 140:
        await hood.core.deliver_due("busy")
    announced = sum(m.text == "annonce" for m in busy.sent[:140])
    assert announced >= 140 * 2 // 7 - 2  # its share, whatever the flood
    assert sum(m.text == "réponse" for m in busy.sent[:140]) >= 140 * 5 // 7 - 2  # answers still first


def test_class_turns_give_the_rate_left_over_and_a_share_when_busy() -> None:
    """The rule itself: a class with nothing waiting leaves its turns; when all wait, 5:3:2."""
    turns = ClassTurns()
    items = [(c, i) for c in (1, 2, 3) for i in range(20)]
    ordered = turns.order(items, lambda item: item[0])
    assert [c for c, _ in ordered[:10]] == [1] * 5 + [2] * 3 + [3] * 2
    assert [i for c, i in ordered if c == 3] == list(range(20))  # oldest first within a class
    only_bulk = turns.order([(3, i) for i in range(5)], lambda item: item[0])
    assert [i for _, i in only_bulk] == list(range(5))
    for _ in range(5):
        turns.took(1)
    assert turns.order([(1, 0), (3, 0)], lambda item: item[0])[0] == (3, 0)  # answers used their turns


def test_on_a_scarce_account_bulk_goes_only_when_nothing_else_waits() -> None:
    """Issue 14: under Synapse's limits each send costs the account 5 s, so a circle room's words wait
    for the answers and care messages waiting; alone, they have the whole rate."""
    turns = ClassTurns(ANSWERS_FIRST_SHARES)
    items = [(c, i) for c in (3, 2, 1) for i in range(10)]
    ordered = turns.order(items, lambda item: item[0])
    assert [c for c, _ in ordered[:20]].count(3) == 0 and [c for c, _ in ordered[20:]] == [3] * 10
    for _ in range(12):
        turns.took(1)  # many answers sent: still no turn for bulk while answers wait
    assert turns.order([(3, 0), (1, 0)], lambda item: item[0])[0] == (1, 0)
    assert turns.order([(3, 0), (3, 1)], lambda item: item[0]) == [(3, 0), (3, 1)]


async def test_a_scarce_account_serves_the_rooms_after_the_answers(hood: Neighbours) -> None:
    """A platform that says every send spends a scarce budget (``answers_first``: Matrix under
    Synapse's limits): while answers keep coming, no room message goes; when they stop, all go."""

    @dataclass
    class Scarce(MemoryPlatform):
        platform: str = "scarce"
        answers_first: bool = True
        more: int = 20

        async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
            self.sent.append(message)
            if self.more:
                self.more -= 1
                await _queue(hood, f"dm:resident{self.more}", "réponse", outbox.ANSWER, platform="scarce")
                hood.core.wake_outbox()
            return Delivered()

    scarce = Scarce(capabilities=ONE_AT_A_TIME)
    hood.core.attach(scarce)
    await _announce(hood, [f"room:{i}" for i in range(5)], platform="scarce")
    await _queue(hood, "dm:first", "réponse", outbox.ANSWER, platform="scarce")
    while len(scarce.sent) < 26:
        await hood.core.deliver_due("scarce")
    assert [m.text for m in scarce.sent] == ["réponse"] * 21 + ["annonce"] * 5


async def test_within_one_chat_an_answer_goes_before_its_own_bulk(hood: Neighbours) -> None:
    """Turns share the sends between chats; a person's own answer never waits behind the announcement
    queued for them before it, even when the answers have used their turns of the round."""
    for _ in range(5):
        hood.core.delivery.turns("fake").took(outbox.ANSWER)
    await _announce(hood, ["dm:mod"])
    await _queue(hood, "dm:mod", "réponse", outbox.ANSWER)
    await hood.core.settle()
    assert [m.text for m in hood.platform.to("dm:mod")] == ["réponse", "annonce"]


async def test_status_and_metrics_show_the_class(hood: Neighbours) -> None:
    """`voisinage status` groups waiting items by class, answers first, so the question "whose queue
    is growing" has an answer."""
    await _announce(hood, ["dm:a", "dm:b"])
    await _queue(hood, "dm:c", "réponse", outbox.ANSWER)
    found = await status.gather(hood.core.db, hood.clock.now())
    assert found.outbox[("fake", "message", "bulk", "pending")] == 2
    assert found.outbox[("fake", "message", "answer", "pending")] == 1
    lines = status.render(found).splitlines()
    answer = next(i for i, line in enumerate(lines) if "fake answer message: 1 pending" in line)
    bulk = next(i for i, line in enumerate(lines) if "fake bulk message: 2 pending" in line)
    assert answer < bulk


async def test_an_unknown_class_is_refused(hood: Neighbours) -> None:
    """A typo in a class would otherwise sort an item nowhere (never chosen): refused when queued."""
    async with hood.core.db.transaction():
        try:
            await outbox.add(hood.core.db, "fake", "message", "dm:a", "{}", hood.clock.now(), delivery_class=7)
        except ValueError as exc:
            assert "delivery class" in str(exc)
        else:
            raise AssertionError("class 7 was accepted")
    assert await outbox.due(hood.core.db, "fake", hood.clock.now() + timedelta(days=1)) == []


async def test_the_upgrade_files_waiting_announcements_as_bulk_and_the_rest_as_care(tmp_path, monkeypatch) -> None:
    """Migration 091 on a database with a fan-out under way: its items become bulk (recognised by their
    keys), so answers queued after the upgrade overtake them; other waiting items become care."""
    from bot.storage import database

    every = database.migrations()
    monkeypatch.setattr(database, "migrations", lambda engine="sqlite": [m for m in every if m[0] < 91])
    db = await database.Database.open(tmp_path / "old.sqlite3")
    try:
        await db.execute_alone(
            "INSERT INTO outbox (platform, kind, chat_id, payload, dedupe_key, not_before, created_at) VALUES "
            "('fake', 'message', 'dm:a', '{}', 'announce:1:2:fake', '2026-11-25', '2026-11-25'), "
            "('fake', 'message', 'dm:a', '{}', 'checkin-ask:3:fake', '2026-11-25', '2026-11-25')")
        monkeypatch.setattr(database, "migrations", lambda engine="sqlite": every)
        await db.migrate()
        rows = await db.fetchall("SELECT dedupe_key, delivery_class FROM outbox ORDER BY id")
        assert [tuple(r) for r in rows] == [("announce:1:2:fake", outbox.BULK), ("checkin-ask:3:fake", outbox.CARE)]
    finally:
        await db.close()


async def test_choosing_the_next_items_is_an_index_walk(hood: Neighbours) -> None:
    """With 10,000 announcements waiting, each pass reads its next items through ``outbox_next`` in id
    order (stopping at the limit), not by sorting every due row: a pass cut short to let an answer
    through must cost little."""
    plan = await hood.core.db.fetchall(
        "EXPLAIN QUERY PLAN " + outbox.due_one_class(hood.core.db), ("fake", outbox.BULK, "x", "x", 100))
    details = " ".join(str(row[3]) for row in plan)
    assert "USING INDEX outbox_next" in details and "TEMP B-TREE" not in details, details
