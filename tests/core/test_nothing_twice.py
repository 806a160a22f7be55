"""Nothing twice, nothing lost (issue 13): the inbox and outbox at their edges.

Each test says what it reproduces on the code before the fix.
"""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory import MemoryPlatform
from bot.assemble import build_core
from bot.core.chat import Outgoing, RetryLater, SendResult, TextIn
from bot.core.clock import FakeClock
from bot.core.delivery import POISON_ATTEMPTS
from bot.core.i18n import Localized
from bot.storage import inbox, outbox
from bot.storage.database import Database
from tests.core.conftest import Neighbours
from tests.core.moderation_helpers import neighbours, setup_roles, with_admin

pytestmark = pytest.mark.both_engines  # on SQLite and PostgreSQL (tests/engines.py)


class Rollback(Exception):
    """Raised on purpose to roll a transaction back."""


async def _queue(db: Database, chat: str, clock: FakeClock, text: str = "bonjour") -> None:
    message = Outgoing("fake", chat, Localized(text))
    await outbox.add(db, "fake", "message", chat, message.to_json(), clock.now())


async def test_the_dispatcher_never_reads_another_tasks_uncommitted_events(hood: Neighbours) -> None:
    """Reproduces: ``inbox.pending`` read outside the database's turn saw an event that another task had
    inserted but not committed; that task then rolled back, and the dispatcher handled a phantom event
    (and the next event given the same id was marked done without being handled)."""
    db = hood.core.db
    inside = asyncio.Event()
    read: list[list[int]] = []

    async def writer_that_rolls_back() -> None:
        with pytest.raises(Rollback):
            async with db.transaction():
                await inbox.accept(db, "fake", [hood.platform.event("ghost", TextIn("fantôme"))], None,
                                   hood.clock.now())
                inside.set()
                await asyncio.sleep(0.05)  # the reader asks while this transaction is open
                raise Rollback

    async def reader() -> None:
        await inside.wait()
        read.append([i for i, _ in await inbox.pending(db)])

    await asyncio.gather(writer_that_rolls_back(), reader())
    assert read == [[]]
    await hood.core.receive(hood.platform.event("ana", TextIn("bonjour")))
    assert await hood.core.process_pending() == 1
    assert hood.platform.to("dm:ghost") == []
    assert await db.scalar("SELECT COUNT(*) FROM people") == 1  # ana only: the phantom was never handled


async def test_inbox_and_outbox_ids_are_never_given_twice(hood: Neighbours) -> None:
    """Reproduces: without AUTOINCREMENT, deleting the newest row gave its id to the next one."""
    db, clock = hood.core.db, hood.clock
    await _queue(db, "1", clock)
    await _queue(db, "2", clock)
    await db.execute_alone("DELETE FROM outbox WHERE id = 2")
    await _queue(db, "3", clock)
    assert await db.scalar("SELECT MAX(id) FROM outbox") == 3
    await inbox.accept(db, "fake", [hood.platform.event("a", TextIn("x"))], None, clock.now())
    await db.execute_alone("DELETE FROM inbox")
    await inbox.accept(db, "fake", [hood.platform.event("b", TextIn("y"))], None, clock.now())
    assert await db.scalar("SELECT id FROM inbox") == 2


async def test_the_migration_keeps_rows_and_indexes(tmp_path) -> None:
    """The rebuild to AUTOINCREMENT (061) keeps what was there: rows, their ids, and every index."""
    db = await Database.open(tmp_path / "m.sqlite3")
    try:
        indexes = {r[0] for r in await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('inbox', 'outbox') "
            "AND name NOT LIKE 'sqlite_%'")}
        assert indexes == {"inbox_pending", "outbox_due", "outbox_chat_order", "outbox_next",  # 091: outbox_next
                           "inbox_chat"}  # 102: events claimed per chat
        for table in ("inbox", "outbox"):
            sql = await db.scalar("SELECT sql FROM sqlite_master WHERE name = ?", (table,))
            assert "AUTOINCREMENT" in sql
        assert len(await outbox.instance_salt(db)) == 12
    finally:
        await db.close()


async def test_the_migration_carries_existing_rows(tmp_path) -> None:
    """Rows written before 061 keep their ids and contents, and the next id follows the highest."""
    import aiosqlite

    from bot.storage.database import migrations

    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path) as conn:
        for number, _, sql in migrations():
            if number > 60:
                break
            await conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        await conn.execute("INSERT INTO outbox (id, platform, kind, chat_id, payload, not_before, created_at, status) "
                           "VALUES (7, 'fake', 'message', 'c', 'p', 't', 't', 'sending')")
        await conn.execute("INSERT INTO inbox (id, platform, external_id, event, received_at) "
                           "VALUES (5, 'fake', 'e5', '{}', 't')")
        await conn.commit()
    db = await Database.open(path)
    try:
        assert [tuple(r) for r in await db.fetchall("SELECT id, chat_id, status FROM outbox")] == [(7, "c", "sending")]
        await _queue(db, "d", FakeClock())
        assert await db.scalar("SELECT MAX(id) FROM outbox") == 8
        assert await db.scalar("SELECT external_id FROM inbox WHERE id = 5") == "e5"
    finally:
        await db.close()


async def test_a_late_success_never_marks_another_row_sent(hood: Neighbours) -> None:
    """Reproduces: a send in flight whose row was dropped meanwhile (the person was forgotten); the row
    queued next got the same id, and the late success marked that new, unsent row 'sent'."""
    db, clock = hood.core.db, hood.clock
    await _queue(db, "dm:ana", clock)
    assert await outbox.claim(db, [1], clock.now()) == {1}
    await outbox.drop_for_chat(db, "fake", "dm:ana")  # /forget while the message is on its way
    await _queue(db, "dm:bob", clock, "pour bob")
    new_id = await db.scalar("SELECT id FROM outbox")
    await outbox.claim(db, [], clock.now(), delivered=[1])  # the late success of item 1
    assert await db.scalar("SELECT status FROM outbox WHERE id = ?", (new_id,)) == "pending"
    await outbox.sent(db, [1], clock.now())
    assert await db.scalar("SELECT status FROM outbox WHERE id = ?", (new_id,)) == "pending"
    await hood.core.settle()
    assert [str(m.text) for m in hood.platform.to("dm:bob")] == ["pour bob"]


async def test_two_databases_never_give_the_platform_the_same_key(tmp_path, config, content) -> None:
    """Reproduces: the key a platform deduplicates by (a Matrix transaction id) was ``voisinage-<id>``;
    a new database (a reinstall) on the same account starts at id 1 again, and its first message was
    taken by the homeserver for the old database's first one and silently dropped."""
    platform = MemoryPlatform()  # remembers keys like Synapse does
    for name in ("old", "new"):
        db = await Database.open(tmp_path / f"{name}.sqlite3")
        core = build_core(config, db, content, FakeClock())
        core.attach(platform)
        await _queue(db, "dm:ana", core.clock, f"message de la base {name}")
        await core.settle()
        await db.close()
    assert [str(m.text) for m in platform.to("dm:ana")] == ["message de la base old", "message de la base new"]


async def test_after_a_long_outage_a_send_in_flight_is_not_repeated(hood: Neighbours) -> None:
    """Reproduces: on a platform that recognises a repeated send (Matrix), every item found 'sending' at
    start was sent again, even hours later, when the homeserver no longer remembers its transaction id:
    a duplicate. Only a recent claim is sent again; an older one is "may have arrived"."""
    db, clock = hood.core.db, hood.clock
    await _queue(db, "dm:ana", clock, "ancien")
    await _queue(db, "dm:bob", clock, "récent")
    assert await outbox.claim(db, [1], clock.now()) == {1}
    clock.advance(hours=2)
    assert await outbox.claim(db, [2], clock.now()) == {2}
    clock.advance(minutes=1)
    async with db.transaction():
        assert await outbox.recover(db, "fake", clock.now(), idempotent=True) == 2
    rows = {r[0]: (r[1], r[2]) for r in await db.fetchall("SELECT id, status, error FROM outbox")}
    assert rows[1] == ("failed", outbox.MAY_HAVE_ARRIVED)
    assert rows[2][0] == "pending"


class Poisoned(MemoryPlatform):
    """A platform whose library chokes on one message (a bug), and works for every other."""

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        if "poison" in str(message.text):
            raise ValueError("the library cannot handle this message")
        return await super().send(message, idempotency_key=idempotency_key)


async def test_a_poison_item_is_given_up_and_the_chat_moves_on(tmp_path, config, content) -> None:
    """Reproduces: any exception in delivery became "retry in 60 s" forever, and, since a chat's
    messages go out in order, every later message to that chat waited behind it for good."""
    db = await Database.open(tmp_path / "p.sqlite3")
    try:
        core = build_core(config, db, content, FakeClock())
        platform = Poisoned()
        core.attach(platform)
        await _queue(db, "dm:ana", core.clock, "poison")
        await _queue(db, "dm:ana", core.clock, "la suite")
        for _ in range(POISON_ATTEMPTS + 2):
            await core.settle()
            core.clock.advance(minutes=10)
        assert [str(m.text) for m in platform.to("dm:ana")] == ["la suite"]
        status, attempts, error = await db.fetchone("SELECT status, attempts, error FROM outbox WHERE id = 1")
        assert (status, attempts) == ("failed", POISON_ATTEMPTS) and "ValueError" in error
    finally:
        await db.close()


async def test_a_transient_failure_is_not_counted_as_poison(hood: Neighbours) -> None:
    """The cap is for failures nobody understands: a rate limit is waited out however often it comes."""
    hood.platform.fail_next.extend([RetryLater(1, "429")] * (POISON_ATTEMPTS + 1))
    await _queue(hood.core.db, "dm:ana", hood.clock, "patience")
    for _ in range(POISON_ATTEMPTS + 3):
        await hood.core.settle()
        hood.clock.advance(minutes=20)
    assert [str(m.text) for m in hood.platform.to("dm:ana")] == ["patience"]


async def test_an_unreadable_inbox_row_does_not_stop_the_dispatcher(hood: Neighbours) -> None:
    """Reproduces: ``inbox.pending`` parsed every row of the batch before any error handling, so one row
    it could not read raised at every call (and at every restart) and nothing after it was handled."""
    db = hood.core.db
    await db.execute_alone("INSERT INTO inbox (platform, external_id, event, received_at) "
                           "VALUES ('fake', 'broken', '{\"address\": 1', ?)", ("2026-01-01T00:00:00+00:00",))
    out = await hood.say("ana", "/start")
    assert out, "the event after the unreadable one was handled"
    status, error = await db.fetchone("SELECT status, error FROM inbox WHERE external_id = 'broken'")
    assert status == "failed" and error.startswith("unreadable")
    assert await db.scalar("SELECT COUNT(*) FROM inbox WHERE status = 'new'") == 0


# ---- in-memory anti-flood state after a failed batch --------------------------------------------


async def test_a_replayed_batch_counts_each_message_once_for_anti_flood(tmp_path, config, content) -> None:
    """Reproduces: a batch that failed was rolled back and its events replayed one by one, but the
    anti-flood meter (in memory) kept the first pass's messages: each one counted twice, and a member
    who wrote three calm messages was muted as a flooder (limit: 3 in 30 s)."""
    hood = await neighbours(tmp_path, with_admin(config, flood_messages=3, flood_seconds=30, mute_minutes=10),
                            content)
    try:
        await setup_roles(hood)
        room = hood.platform.room_of("bob")
        hood.clock.advance(hours=25)

        async def breaks_on_boom(core, room):  # stands for a bug in a later hook
            if isinstance(room.event.body, TextIn) and room.event.body.text == "boom":
                raise RuntimeError("a bug in a hook")

        hood.core.hooks.on_room_event(breaks_on_boom)
        for text in ("un", "deux", "boom"):  # one batch: the third event fails it
            await hood.core.receive(hood.platform.event("bob", TextIn(text), chat=room))
        await hood.core.settle()
        await hood.send("bob", TextIn("trois"), chat=room)
        assert await hood.core.db.scalar("SELECT COUNT(*) FROM mutes") == 0
        assert not any("10 minutes" in str(t) for t in hood.texts("bob"))
        statuses = [r[0] for r in await hood.core.db.fetchall(
            "SELECT status FROM inbox WHERE platform = 'fake' ORDER BY id DESC LIMIT 4")]
        assert statuses == ["done", "failed", "done", "done"]
    finally:
        await hood.core.db.close()


async def test_an_in_memory_change_is_undone_with_its_transaction(hood: Neighbours) -> None:
    """``Database.on_rollback``: what a rolled-back transaction did in memory is taken back; a commit
    forgets the undo (it must not run later)."""
    db = hood.core.db
    state = {"n": 0}

    def bump() -> None:
        state["n"] += 1
        db.on_rollback(lambda: state.__setitem__("n", state["n"] - 1))

    with pytest.raises(Rollback):
        async with db.transaction():
            bump()
            raise Rollback
    assert state["n"] == 0
    async with db.transaction():
        bump()
    with pytest.raises(Rollback):
        async with db.transaction():
            raise Rollback
    assert state["n"] == 1
    bump()  # outside a transaction: nothing to undo
    assert state["n"] == 2




# ---- tests that cannot fail ------------------------------------------------------------------------


async def test_the_tests_platform_catches_a_raw_string_after_the_outbox(hood: Neighbours) -> None:
    """Reproduces: the in-memory platform checked that every text was a catalogue sentence, but the
    outbox round trip turned any string into one, so the check always passed. A raw string (the bug it
    exists to catch) is now refused and recorded; other adapters get it escaped, never as markup."""
    core, now = hood.core, hood.clock.now()
    await core.queue_message(core.db, "fake", "dm:ana", "<b>brut</b>", (), now)  # type: ignore[arg-type]
    await core.queue_message(core.db, "fake", "dm:ana", Localized("<b>du catalogue</b>"), (), now)
    await hood.core.settle()
    assert hood.platform.not_catalogue == ["&lt;b&gt;brut&lt;/b&gt;"]
    assert [str(m.text) for m in hood.platform.to("dm:ana")] == ["<b>du catalogue</b>"]
    hood.platform.not_catalogue.clear()  # shown failing: the fixture would fail the test otherwise
