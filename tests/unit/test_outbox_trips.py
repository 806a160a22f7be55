"""Fewer trips to the database, same guarantees: held writes, grouped claims, successes written late."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.clock import FakeClock
from bot.storage import outbox
from bot.storage.database import Database

pytestmark = pytest.mark.both_engines


async def _queue(db: Database, chat_id: str, clock: FakeClock, dedupe_key: str | None = None) -> bool:
    return await outbox.add(db, "telegram", "message", chat_id, "{}", clock.now(), dedupe_key)


async def _statuses(db: Database) -> dict[int, str]:
    return {row[0]: row[1] for row in await db.fetchall("SELECT id, status FROM outbox ORDER BY id")}


async def test_held_writes_are_seen_by_the_transaction_that_made_them_and_committed_with_it(db: Database) -> None:
    clock = FakeClock()
    async with db.transaction():
        assert await _queue(db, "1", clock)
        assert await _queue(db, "2", clock)
        assert await db.scalar("SELECT COUNT(*) FROM outbox") == 2  # a statement naming the table sends them first
        assert await _queue(db, "3", clock)
    assert await db.scalar("SELECT COUNT(*) FROM outbox") == 3  # and COMMIT sends the rest


async def test_held_writes_are_sent_before_a_statement_that_reads_their_table_through_a_view(db: Database) -> None:
    """SQLite names the tables a statement touches, views and triggers included: the held writes go
    first even when the statement's text never names their table (a text search would miss it)."""
    await db.execute("CREATE TEMP VIEW waiting AS SELECT chat_id FROM outbox WHERE status = 'pending'")
    clock = FakeClock()
    async with db.transaction():
        await _queue(db, "1", clock)
        assert await db.scalar("SELECT COUNT(*) FROM waiting") == 1


async def test_held_writes_stay_held_when_a_statement_only_mentions_their_table_in_its_text(
    db: Database, engine: str
) -> None:
    """A string that contains the table's name is not a use of the table: nothing is sent early."""
    if engine == "postgresql":
        pytest.skip("on PostgreSQL held writes are sent before any other statement (tables are not known)")
    clock = FakeClock()
    async with db.transaction():
        await _queue(db, "1", clock)
        await db.fetchall("SELECT 'outbox' FROM people WHERE first_name = 'outbox'")
        assert "outbox" in db._held  # still held: one trip for all of them at the commit
    assert await db.scalar("SELECT COUNT(*) FROM outbox") == 1


async def test_held_writes_are_dropped_with_a_rollback(db: Database) -> None:
    clock = FakeClock()
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await _queue(db, "1", clock)
            raise RuntimeError("a handler failed")
    assert await db.scalar("SELECT COUNT(*) FROM outbox") == 0


async def test_held_writes_keep_their_order_on_one_table(db: Database) -> None:
    async with db.transaction():
        for choices in ('["a"]', '["b"]'):
            await db.write_later(
                "offered_choices",
                "INSERT INTO offered_choices (platform, chat_id, choices) VALUES ('t', '1', ?) "
                "ON CONFLICT (platform, chat_id) DO UPDATE SET choices = excluded.choices",
                (choices,),
            )
        await db.write_later("offered_choices", "DELETE FROM offered_choices WHERE chat_id = '1'")
        await db.write_later(
            "offered_choices", "INSERT INTO offered_choices (platform, chat_id, choices) VALUES ('t', '1', '[\"c\"]')"
        )
    assert await db.scalar("SELECT choices FROM offered_choices") == '["c"]'


async def test_another_task_never_sees_held_writes_before_the_commit(db: Database) -> None:
    clock = FakeClock()
    seen: list[int] = []
    holding = asyncio.Event()

    async def reader() -> None:
        await holding.wait()
        seen.append(await db.scalar("SELECT COUNT(*) FROM outbox"))

    async def writer() -> None:
        async with db.transaction():
            await _queue(db, "1", clock)
            holding.set()
            await asyncio.sleep(0.05)

    await asyncio.gather(reader(), writer())
    assert seen == [0]
    assert await db.scalar("SELECT COUNT(*) FROM outbox") == 1


async def test_a_write_outside_a_transaction_happens_at_once(db: Database) -> None:
    assert await _queue(db, "1", FakeClock())
    assert await db.scalar("SELECT COUNT(*) FROM outbox") == 1


async def test_a_message_with_a_dedupe_key_is_written_at_once_so_a_repeat_is_known(db: Database) -> None:
    clock = FakeClock()
    async with db.transaction():
        assert await _queue(db, "1", clock, dedupe_key="k")
        assert not await _queue(db, "1", clock, dedupe_key="k")


async def test_a_claim_takes_only_waiting_items_and_writes_earlier_successes_with_it(db: Database) -> None:
    clock = FakeClock()
    for chat in "1234":
        await _queue(db, chat, clock)
    assert await outbox.claim(db, [1, 2], clock.now()) == {1, 2}
    assert await outbox.claim(db, [2, 3], clock.now(), delivered=[1]) == {3}  # 2 is already being sent
    assert await _statuses(db) == {1: "sent", 2: "sending", 3: "sending", 4: "pending"}
    assert await db.scalar("SELECT payload FROM outbox WHERE id = 1") == ""
    await db.execute_alone("DELETE FROM outbox WHERE id = 4")  # dropped (forgotten) meanwhile
    assert await outbox.claim(db, [4], clock.now(), delivered=[2, 3]) == set()
    assert await _statuses(db) == {1: "sent", 2: "sent", 3: "sent"}


async def test_a_success_not_written_yet_is_given_up_after_a_crash_never_resent(db: Database) -> None:
    clock = FakeClock()
    await _queue(db, "1", clock)
    assert await outbox.claim(db, [1], clock.now()) == {1}
    # the message went out, then the process died before writing it: it still reads 'sending'
    assert await outbox.recover(db, "telegram", clock.now(), idempotent=False) == 1
    assert await outbox.due(db, "telegram", clock.now()) == []
