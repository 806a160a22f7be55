"""Two workers on one database (issue 16): two Cores, each with its own connection to one database (an
SQLite file in WAL mode, or PostgreSQL, where their statements truly run at once), behave as two
`voisinage run` processes would (the failover test uses real processes:
``test_worker_failover.py``)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory import MemoryPlatform
from bot.assemble import build_core
from bot.core.app import Content, Core
from bot.core.chat import Capabilities, Delivered, Incoming, InviteResult, Outgoing, SendResult, TextIn
from bot.core.clock import FakeClock
from bot.core.config import Config
from bot.core.i18n import Localized
from bot.core.scheduler import Job, every
from bot.core.workers import Worker
from bot.storage import inbox, inbox_claims, leases, outbox
from bot.storage.database import Database
from tests.waiting import until

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


pytestmark = pytest.mark.both_engines


@pytest.fixture
async def two(database: str, config: Config, content: Content) -> AsyncIterator[tuple[Core, Core]]:
    cores = []
    for _ in range(2):
        db = await Database.open(database)
        cores.append(build_core(config, db, content, FakeClock(START)))
    yield cores[0], cores[1]
    for core in cores:
        await core.db.close()


# ---- inbox -------------------------------------------------------------------------------------


async def test_two_workers_share_the_inbox_in_order_per_chat_and_once_each(
    two: tuple[Core, Core], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    handled: list[tuple[str, str, int]] = []  # (worker, chat, sequence) in the order handled

    def recording(core: Core, name: str) -> None:
        real = core._handle

        async def handle(event: Incoming, batch) -> None:
            handled.append((name, event.address.chat_id, int(event.external_id.split("-")[1])))
            await asyncio.sleep(random.random() / 1000)  # let the other worker's claims interleave
            await real(event, batch)

        core._handle = handle  # type: ignore[method-assign]

    recording(a, "a")
    recording(b, "b")
    platform = MemoryPlatform()
    chats = 6
    events = [platform.event(f"u{k % chats}", TextIn(f"message {k}")) for k in range(60)]
    for event in events:
        await a.receive(event)

    async def drain(core: Core) -> None:
        while await core.process_pending(batch=4):
            await asyncio.sleep(0)

    real_claim = inbox_claims.claim

    async def claim(db: Database, worker: str, now: datetime, limit: int = 500) -> list[tuple[int, Incoming]]:
        # A moment between one batch and the next claim, as a real process has (SQLite's busy handler
        # would otherwise let one worker in a tight loop keep the write lock from the other).
        await asyncio.sleep(0.003)
        return await real_claim(db, worker, now, limit)

    monkeypatch.setattr(inbox_claims, "claim", claim)
    await asyncio.gather(drain(a), drain(b), drain(a), drain(b))
    assert sorted(seq for _, _, seq in handled) == sorted(int(e.external_id.split("-")[1]) for e in events)
    for chat in {c for _, c, _ in handled}:
        sequence = [seq for _, c, seq in handled if c == chat]
        assert sequence == sorted(sequence), f"{chat} out of order: {sequence}"
    # Which worker handles what is up to timing (one may take every turn): not asserted. That any worker
    # may handle any chat is shown deterministically by the takeover test below.
    assert await a.db.scalar("SELECT COUNT(*) FROM inbox WHERE status = 'done'") == 60


async def test_a_dead_workers_claims_expire_and_are_taken_over(two: tuple[Core, Core]) -> None:
    """A worker claimed a chat's events and died before handling them: once the claim expired, the
    other worker handles them; until then it leaves the chat alone (order)."""
    a, b = two
    platform = MemoryPlatform()
    for k in range(3):
        await a.receive(platform.event("ana", TextIn(f"m{k}")))

    claimed = await inbox_claims.claim(a.db, a.worker_id, datetime.now(UTC), 2)  # a claims, then "dies"
    assert len(claimed) == 2
    assert await b.process_pending() == 0  # ana's chat is a's while its claim lasts
    await b.db.execute_alone("UPDATE inbox SET claimed_until = ? WHERE claimed_by = ?",
                             (leases.stamp(datetime.now(UTC) - timedelta(seconds=1)), a.worker_id))
    assert await b.process_pending() == 3
    assert await a.process_pending() == 0
    assert await a.db.scalar("SELECT COUNT(*) FROM inbox WHERE status = 'done'") == 3


# ---- outbox ------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """A platform that records every send with the worker that made it, slowly enough to overlap."""

    name: str
    log: list[tuple[str, str, str, str]]  # (worker, chat, text, key)
    platform: str = "rec"
    capabilities: Capabilities = field(
        default_factory=lambda: Capabilities(buttons=True, create_rooms=False, invite_links=False, sends_in_flight=3)
    )
    idempotent_sends: bool = False

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        await asyncio.sleep(random.random() / 500)
        self.log.append((self.name, message.chat_id, str(message.text), idempotency_key))
        await asyncio.sleep(random.random() / 500)
        return Delivered()

    async def invite(self, room_id: str, user_id: str, *, idempotency_key: str) -> InviteResult:
        return InviteResult(Delivered())

    def ready_in(self, chat_id: str) -> float:
        return 0.0


async def test_two_workers_never_send_an_item_twice_and_keep_each_chats_order(two: tuple[Core, Core]) -> None:
    a, b = two
    log: list[tuple[str, str, str, str]] = []
    a.attach(Recorder("a", log))  # type: ignore[arg-type]
    b.attach(Recorder("b", log))  # type: ignore[arg-type]
    for worker in (Worker(a), Worker(b)):
        await worker.beat()
    queued_class: dict[tuple[str, str], int] = {}
    async with a.db.transaction():
        for n in range(8):
            for chat in range(10):
                cls = queued_class[(f"c{chat}", f"n{n}")] = random.choice(outbox.CLASSES)
                await outbox.add(a.db, "rec", "message", f"c{chat}",
                                 Outgoing("rec", f"c{chat}", Localized(f"n{n}")).to_json(), a.clock.now(),
                                 delivery_class=cls)

    async def drain(core: Core) -> None:
        # Until done, by a deadline: 200 rounds could end first on a loaded machine while the other
        # worker held the chats, and the test then failed on items merely not sent yet.
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline:
            await core.deliver_due("rec")
            if not await core.db.scalar("SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"):
                return
            await asyncio.sleep(0.001)

    await asyncio.gather(drain(a), drain(b))
    keys = [key for *_, key in log]
    assert len(keys) == len(set(keys)) == 80, "every item sent, none twice"
    assert await a.db.scalar("SELECT COUNT(*) FROM outbox WHERE status != 'sent'") == 0
    for chat in range(10):
        texts = [text for _, c, text, _ in log if c == f"c{chat}"]
        assert sorted(texts) == sorted(f"n{n}" for n in range(8))
        for cls in outbox.CLASSES:  # order holds within a class (answers may overtake bulk, as with one worker)
            of_class = [t for t in texts if queued_class[(f"c{chat}", t)] == cls]
            assert of_class == sorted(of_class, key=lambda t: int(t[1:])), (chat, cls, texts)


async def test_a_chats_next_message_waits_while_another_worker_sends_the_one_before(two: tuple[Core, Core]) -> None:
    a, b = two
    async with a.db.transaction():
        for n in range(2):
            await outbox.add(a.db, "rec", "message", "c", Outgoing("rec", "c", Localized(f"n{n}")).to_json(),
                             a.clock.now())
    first, second = [r[0] for r in await a.db.fetchall("SELECT id FROM outbox ORDER BY id")]
    assert await outbox.claim(a.db, [first], a.clock.now(), worker=a.worker_id) == {first}
    assert await outbox.claim(b.db, [second], b.clock.now(), worker=b.worker_id) == set()  # a is sending n0
    assert await outbox.claim(b.db, [second], b.clock.now(), [first], worker=a.worker_id) == {second}


async def test_a_live_workers_sends_are_not_recovered_a_dead_ones_are(two: tuple[Core, Core]) -> None:
    a, b = two
    async with a.db.transaction():
        for chat in ("x", "y"):
            await outbox.add(a.db, "rec", "message", chat, Outgoing("rec", chat, Localized("t")).to_json(),
                             a.clock.now())
    x, y = [r[0] for r in await a.db.fetchall("SELECT id FROM outbox ORDER BY id")]
    await outbox.claim(a.db, [x], a.clock.now(), worker=a.worker_id)
    await outbox.claim(a.db, [y], a.clock.now(), worker="gone:1:dead")
    await Worker(a).beat()
    b.attach(Recorder("b", []))  # type: ignore[arg-type]
    assert await b.delivery.recover("rec") == 1
    rows = dict(await a.db.fetchall("SELECT id, status FROM outbox"))
    assert rows == {x: "sending", y: "failed"}
    assert await a.db.scalar("SELECT error FROM outbox WHERE id = ?", (y,)) == outbox.MAY_HAVE_ARRIVED


# ---- scheduler ---------------------------------------------------------------------------------


async def test_a_pass_due_on_two_workers_runs_once(two: tuple[Core, Core]) -> None:
    a, b = two
    ran: list[str] = []

    def job(name: str) -> Job:
        async def run(core: Core, now: datetime) -> None:
            ran.append(name)
            await asyncio.sleep(0.01)

        return Job("test-pass", every(timedelta(hours=1)), run)

    a.scheduler.jobs = {"test-pass": job("a")}
    b.scheduler.jobs = {"test-pass": job("b")}
    await asyncio.gather(a.scheduler.tick(), b.scheduler.tick())
    await b.scheduler.tick()  # after a's run: not due any more
    assert len(ran) == 1
    for core in (a, b):
        core.clock.advance(hours=1, minutes=1)
    await asyncio.gather(b.scheduler.tick(), a.scheduler.tick())
    assert len(ran) == 2


# ---- leases --------------------------------------------------------------------------------------


async def test_the_intake_moves_to_the_other_worker_when_its_holder_dies(two: tuple[Core, Core]) -> None:
    a, b = two
    running: list[str] = []

    def intake(name: str):
        async def poll() -> None:
            while True:
                running.append(name)
                await asyncio.sleep(0.02)

        return poll

    # The lease lasts 2 s, renewed every 0.05 s: a loaded machine delaying a renewal by a few hundred
    # milliseconds (a 0.4 s lease was) must not hand the intake over while its holder lives.
    wa = Worker(a, renew_every=0.05)
    wb = Worker(b, renew_every=0.05)
    ttl = timedelta(seconds=2)
    holder_a = asyncio.create_task(wa.hold("intake:test", intake("a"), ttl))
    await until(lambda: "a" in running, what="a to hold the intake")  # not a fixed sleep: a comes first
    holder_b = asyncio.create_task(wb.hold("intake:test", intake("b"), ttl))
    await asyncio.sleep(0.3)  # b tries several times meanwhile (every 0.05 s)
    assert set(running) == {"a"}, "one intake at a time"
    holder_a.cancel()  # "kill -9": a stops renewing, nothing is released
    died = asyncio.get_running_loop().time()
    running.clear()
    await until(lambda: "b" in running, timeout=15, what="b to take over once a's lease expired")
    assert asyncio.get_running_loop().time() - died >= 1.0  # not before the lease expired (2 s after a's last renewal)
    holder_b.cancel()


async def test_a_holder_that_lost_its_lease_stops_its_work(two: tuple[Core, Core]) -> None:
    a, _ = two
    stopped = asyncio.Event()

    async def poll() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()

    worker = Worker(a, renew_every=0.05)
    holding = asyncio.create_task(worker.hold("intake:test", poll, timedelta(seconds=0.3)))
    # The lease is taken away once the worker holds it (after a fixed 0.1 s it might not yet: the
    # update then changed nothing, and the work never stopped).
    await until(lambda: "intake:test" in worker.held, what="the worker to hold the lease")
    far = leases.stamp(datetime.now(UTC) + timedelta(hours=1))
    await a.db.execute_alone("UPDATE leases SET holder = 'other', expires_at = ? WHERE name = 'intake:test'", (far,))
    await asyncio.wait_for(stopped.wait(), 10.0)
    holding.cancel()


# ---- what one worker keeps in memory ---------------------------------------------------------------


async def test_a_mute_decided_by_one_worker_reaches_the_others_memory(
    two: tuple[Core, Core], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group hook keeps the running mutes in memory (no query per message); a circle's room may be
    handled by either worker, so a mute the other one decided is read again within ``MUTES_FRESH``."""
    from bot.moderation import protection
    from bot.storage import people, sanctions

    a, b = two
    guard_b = next(hook.__self__ for hook in b.hooks.group if isinstance(hook.__self__, protection.Guard))
    person = await people.create(a.db, "fake", "ana", "dm:ana", "Ana", "fr", a.clock.now())
    assert not await guard_b.is_muted(b, person.id, b.clock.now())  # b has read the mutes: none
    await sanctions.mute(a.db, person.id, None, a.clock.now() + timedelta(minutes=10), "flood", a.clock.now())
    monkeypatch.setattr(protection, "MUTES_FRESH", 0.0)
    assert await guard_b.is_muted(b, person.id, b.clock.now())


# ---- the claims race, hammered -----------------------------------------------------------------


async def test_two_workers_claiming_at_once_many_times_never_share_an_event_and_keep_each_chats_order(
    two: tuple[Core, Core],
) -> None:
    """On PostgreSQL (READ COMMITTED, one connection per worker) both claims truly run at once: without
    the claim turn and the rows picked once, two workers both find a chat free, or one claim takes
    everything. Small claims, many rounds, no pause: every event claimed once, handled in order."""
    a, b = two
    platform = MemoryPlatform()
    for k in range(240):
        await a.receive(platform.event(f"u{k % 6}", TextIn(f"m{k}")))
    ids = {event_id: chat for event_id, chat in await a.db.fetchall("SELECT id, chat FROM inbox")}
    claimed: list[int] = []
    handled: list[int] = []
    claimers: set[str] = set()

    async def work(core: Core) -> None:
        while await core.db.scalar("SELECT COUNT(*) FROM inbox WHERE status = 'new'"):
            got = [i for i, _ in await inbox_claims.claim(core.db, core.worker_id, datetime.now(UTC), 3)]
            assert len(got) <= 3, f"a claim of 3 took {len(got)}"
            claimed.extend(got)
            if got:
                claimers.add(core.worker_id)
            async with core.db.transaction():
                mine = await inbox_claims.confirm(core.db, core.worker_id, got, datetime.now(UTC))
                handled.extend(i for i in got if i in mine)
                await inbox.finish(core.db, [i for i in got if i in mine])
            await asyncio.sleep(0)

    await asyncio.gather(work(a), work(b))
    assert sorted(claimed) == sorted(ids), "every event claimed exactly once"
    assert sorted(handled) == sorted(ids)
    assert claimers <= {a.worker_id, b.worker_id}  # who claims what is up to timing: not asserted further
    for chat in set(ids.values()):
        of_chat = [i for i in handled if ids[i] == chat]
        assert of_chat == sorted(of_chat), f"{chat} handled out of order"


async def test_two_workers_claiming_outbox_items_at_once_never_send_one_twice_nor_overlap_in_a_chat(
    two: tuple[Core, Core],
) -> None:
    """Many claims at once, in shuffled order: no item claimed twice, and none while another worker
    sends an earlier message to its chat (that rule is a check then a write: the next test makes its
    race certain, which timing alone here rarely hits)."""
    a, b = two
    for core in (a, b):
        core.attach(Recorder(core.worker_id, []))  # type: ignore[arg-type]
    async with a.db.transaction():
        for n in range(20):
            for chat in range(6):
                await outbox.add(a.db, "rec", "message", f"c{chat}",
                                 Outgoing("rec", f"c{chat}", Localized(f"n{n}")).to_json(), a.clock.now())
    chat_of = dict(await a.db.fetchall("SELECT id, chat_id FROM outbox"))
    sending: dict[str, dict[int, str]] = {f"c{chat}": {} for chat in range(6)}  # chat → {id: worker}
    claimed: list[int] = []

    async def work(core: Core) -> None:
        claims = core.delivery.claims("rec")
        while True:
            pending = [r[0] for r in await core.db.fetchall(
                "SELECT id FROM outbox WHERE status = 'pending' ORDER BY id LIMIT 8")]
            if not pending:
                return
            random.shuffle(pending)
            for item_id in pending:
                if not await claims.claim(item_id):
                    continue
                chat = chat_of[item_id]
                others = [i for i, w in sending[chat].items() if w != core.worker_id and i < item_id]
                assert not others, f"{item_id} claimed while another worker sends {others} in {chat}"
                claimed.append(item_id)
                sending[chat][item_id] = core.worker_id
                await asyncio.sleep(0)
                del sending[chat][item_id]  # before the write: what is recorded here is still 'sending'
                await outbox.sent(core.db, [item_id], core.clock.now())

    await asyncio.gather(work(a), work(b))
    assert sorted(claimed) == sorted(chat_of), "every item claimed exactly once"
    assert await a.db.scalar("SELECT COUNT(*) FROM outbox WHERE status != 'sent'") == 0


async def test_a_claim_made_while_another_workers_claim_is_uncommitted_waits_for_it_and_sees_it(
    two: tuple[Core, Core],
) -> None:
    """The race itself, made certain: worker a has claimed a chat's first message but not committed yet
    when worker b claims the second. Under READ COMMITTED b's check would see the first still 'pending'
    and pass; b's claim must wait for a's turn to end, then see the first 'sending' and refuse."""
    a, b = two
    b.attach(Recorder("b", []))  # type: ignore[arg-type]
    async with a.db.transaction():
        for n in range(2):
            await outbox.add(a.db, "rec", "message", "c", Outgoing("rec", "c", Localized(f"n{n}")).to_json(),
                             a.clock.now())
    first, second = [r[0] for r in await a.db.fetchall("SELECT id FROM outbox ORDER BY id")]
    async with a.db.transaction():
        await leases.take_turn(a.db, "outbox:rec")
        assert await outbox.claim(a.db, [first], a.clock.now(), worker=a.worker_id) == {first}
        b_claims = asyncio.create_task(b.delivery.claims("rec").claim(second))
        await asyncio.sleep(0.3)
        assert not b_claims.done(), "b's claim should wait for a's to commit"
    assert await b_claims is False
    assert await a.db.scalar("SELECT status FROM outbox WHERE id = ?", (second,)) == "pending"
