"""Delivery: what the outbox holds goes out through each platform's adapter.

Every message, invite and room-power change was written to the outbox in the transaction that decided
it (``Core.queue_message`` and friends). Here a worker per platform sends what is due, at most once per
item, in order per chat, paced to the platform's rate, retrying what is transient (``RetryLater``) and
marking what is permanent (``Undeliverable``) without retrying it forever.

Answers first: each item carries a delivery class (answer, care, bulk; ``bot.storage.outbox``). A pass
sends the highest class first, and keeps a share of the rate for the lower ones (``ClassTurns``: of every
10 sends while all classes wait, 5 answers, 3 care, 2 bulk; a class with nothing waiting leaves its
turns to the others), so an announcement takes whatever the answers leave and is never starved. When
something new is queued during a pass, the pass stops after the sends under way and chooses again: a
reply does not wait for the rest of an announcement's batch. Order holds per chat within a class; the
per-chat and overall limits are the platform's, whatever the class.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.core.chat import (
    Delivered,
    InviteResult,
    Outgoing,
    PlatformBusy,
    RetryLater,
    RoomSpec,
    SendResult,
    Transport,
    Undeliverable,
)
from bot.core.clock import from_iso
from bot.core.counters import RATE_LIMIT_REASONS
from bot.core.pacing import ANSWERS_FIRST_SHARES, ClassTurns, Pacer, backoff
from bot.core.workers import wall_now
from bot.storage import circles as circle_store
from bot.storage import leases, outbox, people

if TYPE_CHECKING:
    from bot.core.app import Core

log = logging.getLogger(__name__)

# An item whose delivery raised (a bug, a library error) this many times is given up: marked failed, so
# the chat's later messages are no longer held behind it. Transient failures the adapter recognises
# (rate limits, the network) are not counted here: they are retried for as long as they last.
POISON_ATTEMPTS = 5

# How many items of each class one pass reads (``outbox.due``).
DUE_BATCH = 100

# Invites and room changes: one worker at a time per platform, under this lease (renewed at each item).
ROOMS_TTL = timedelta(seconds=60)

# Items were due but each was another worker's to send (an earlier message of its chat under way):
# look again after this long, or sooner when something is queued.
OTHERS_SENDING_WAIT = 0.2


# Outbox kinds that change a member's standing in a circle room: the adapter method that does it, and
# its arguments from the item's payload.
ROOM_ACTIONS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "power": ("set_power_level", lambda data: {"level": data["level"]}),
    "mute": ("mute_member", lambda data: {"until": from_iso(data["until"])}),
    "remove": ("remove_member", lambda data: {"ban": data["ban"]}),
}


class Delivery:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.pacers: dict[str, Pacer] = {}
        self._claims: dict[str, Claims] = {}
        self._turns: dict[str, ClassTurns] = {}
        self._salt: str | None = None
        self.classes = True  # False: one FIFO by id, as before classes (the benchmark's comparison)
        self._room_locks: dict[str, asyncio.Lock] = {}
        self.started_last = 0  # sends the last pass started (0 with items due: they wait for other workers)

    def turns(self, platform: str) -> ClassTurns:
        if platform not in self._turns:
            transport = self.core.transports.get(platform)
            scarce = getattr(transport, "answers_first", False)  # every send spends a scarce account budget
            self._turns[platform] = ClassTurns(ANSWERS_FIRST_SHARES if scarce else None)
        return self._turns[platform]

    def claims(self, platform: str) -> Claims:
        if platform not in self._claims:
            self._claims[platform] = Claims(self.core, platform)
        return self._claims[platform]

    async def deliver_due(self, platform: str) -> int:
        """Send what is due on one platform; returns how many items were looked at.

        Each chat's items go out in order, one after the other: a welcome queued before the invitation
        arrives before it. Once a chat's item is held back (paced, rate-limited), the rest of that
        chat's items wait. Invites and room changes go one at a time (a lock): two may need the same
        circle's room created.

        Different chats are served side by side, as many as the platform's ``sends_in_flight``: a
        round trip to a distant server would otherwise cap the rate far below what it allows. A crash
        interrupts every send in flight; where a resend cannot duplicate (``idempotent_sends``, Matrix
        transaction ids) they are sent again, elsewhere (Telegram) each is given up rather than risk
        showing it twice, so ``sends_in_flight`` is also the most a crash can leave unsure.
        """
        transport = self.core.transports[platform]
        concurrency = transport.capabilities.sends_in_flight or (
            8 if getattr(transport, "idempotent_sends", False) else 1
        )
        due = await outbox.due(self.core.db, platform, self.core.clock.now(), DUE_BATCH)
        items = await self._in_turn(platform, due)
        run = Pass(self.core, items)
        by_chat: dict[str, list[outbox.Item]] = {}
        for item in items:  # in the turns' order, oldest first within a class; a chat's items in order
            by_chat.setdefault(item.chat_id, []).append(item)
        for chat_items in by_chat.values():  # the turns share the account between chats; within one chat an
            chat_items.sort(key=lambda item: item.delivery_class)  # answer never waits behind its own bulk
        slots = asyncio.Semaphore(concurrency)  # FIFO: chats are served in the turns' order

        async def serve(chat_items: list[outbox.Item]) -> None:
            async with slots:
                await self._deliver_in_order(transport, chat_items, run)

        try:
            results = await asyncio.gather(*(serve(chat_items) for chat_items in by_chat.values()),
                                           return_exceptions=True)
        finally:
            await self.claims(platform).write_delivered()
            self.started_last = run.started
        for result in results:
            if isinstance(result, BaseException):
                log.error("delivery on %s failed", platform, exc_info=result)
        return len(items)

    async def _in_turn(self, platform: str, items: list[outbox.Item]) -> list[outbox.Item]:
        """The due items in the order the classes' turns give; without classes, one FIFO by id: the
        oldest ``DUE_BATCH`` whatever their class, as before classes (the benchmark's comparison)."""
        if not self.classes:
            return sorted(items, key=lambda item: item.id)[:DUE_BATCH]
        return self.turns(platform).order(items, lambda item: item.delivery_class)

    async def _deliver_in_order(self, transport: Transport, chat_items: list[outbox.Item], run: Pass) -> None:
        """One chat's due items, in turn order (oldest first within a class); stop at the first one
        that must wait, or when the pass should choose again (``Pass.outrun``)."""
        for item in chat_items:
            if run.outrun():
                return  # left pending: the next pass, a moment later, takes it in its turn
            wait = transport.ready_in(item.chat_id) if hasattr(transport, "ready_in") else 0.0
            if wait > 0:
                async with self.core.db.transaction():
                    await outbox.retry(self.core.db, item.id, _after(self.core.clock.now(), wait), "paced")
                return
            if item.kind not in ("message", "work") and not await self._may_change_rooms(transport.platform):
                return  # another worker changes this platform's rooms now: it takes this one in turn
            if not await self.claims(transport.platform).claim(item.id):  # committed first: never sent twice
                return  # not ours: dropped, rolled back, or another worker sends this chat now (order)
            # Paced once claimed: a slot of the rate (shared by every worker) is taken only for an item
            # that will go out, not for one another worker claimed first. Claimed items waiting for their
            # slot are at most one per chat served side by side (``sends_in_flight``): the bound on what a
            # crash can leave unsure is unchanged.
            pacer = self.pacers.get(transport.platform)
            if pacer is not None:
                await pacer.wait()
            run.started += 1
            if self.classes:
                self.turns(transport.platform).took(item.delivery_class)
            if item.kind == "message":
                result = await self._deliver(transport, item)
            else:
                async with self._room_lock(transport.platform):
                    result = await self._deliver(transport, item)
            await self._record(item, result)
            if isinstance(result, RetryLater):
                return

    async def _may_change_rooms(self, platform: str) -> bool:
        """Invites and room changes are done by one worker at a time per platform (a lease): two
        workers inviting into a circle that has no room yet would each create one."""
        return await leases.acquire(self.core.db, f"rooms:{platform}", self.core.worker_id, wall_now(), ROOMS_TTL)

    def _room_lock(self, platform: str) -> asyncio.Lock:
        if platform not in self._room_locks:
            self._room_locks[platform] = asyncio.Lock()
        return self._room_locks[platform]

    async def idempotency_key(self, item_id: int) -> str:
        """The key a platform recognises a repeated send by (a Matrix transaction id): the outbox id,
        which is never given twice (migration 061), with this database's own salt, so a new database
        whose ids start at 1 again cannot collide with what an older one sent on the same account."""
        if self._salt is None:
            self._salt = await outbox.instance_salt(self.core.db)
        return f"voisinage-{self._salt}-{item_id}"

    async def _deliver(self, transport: Transport, item: outbox.Item) -> SendResult | InviteResult:
        try:
            key = await self.idempotency_key(item.id)
            if item.kind == "message":
                found = await self._sent_before(transport, item, key)
                if found is not None:
                    return found
                return await transport.send(Outgoing.from_json(item.payload), idempotency_key=key)
            if item.kind == "work":
                return await self._do_work(item)
            if item.kind in ROOM_ACTIONS:
                return await self._deliver_room_action(transport, item)
            return await self._deliver_invite(transport, item, key)
        except PlatformBusy as busy:
            return RetryLater(busy.seconds, busy.reason)
        except Exception as exc:  # a bug or an unexpected library error: retry later, loudly, a few times
            log.exception("delivery of outbox item %s failed (attempt %s)", item.id, item.attempts + 1)
            reason = f"{type(exc).__name__}: {exc}"
            if item.attempts + 1 >= POISON_ATTEMPTS:  # ``attempts`` was read before this claim
                return Undeliverable(f"gave up after {POISON_ATTEMPTS} attempts: {reason}", chat_gone=False)
            return RetryLater(60, reason)

    async def _sent_before(self, transport: Transport, item: outbox.Item, key: str) -> Delivered | None:
        """An item tried before (a send that failed on the network, or was cut by a crash) may have
        arrived. A platform's memory of idempotency keys is short (Synapse forgets a transaction id
        after about 30 minutes, and when it restarts), so where the adapter can look (``already_sent``,
        Matrix), it looks for the message itself before sending it again."""
        look = getattr(transport, "already_sent", None)
        if not item.attempts or look is None:
            return None
        external_id = await look(item.chat_id, key)
        if external_id is None:
            return None
        log.info("outbox item %s had arrived before (%s): not sent again", item.id, external_id)
        return Delivered(external_id)

    async def _do_work(self, item: outbox.Item) -> SendResult:
        """Deferred work (``Core.queue_work``): done here, outside any transaction; its outcome is stored
        in one transaction with its 'sent' mark, so it takes effect once. Work whose item is no longer
        ours (dropped meanwhile) stores nothing."""
        spec = json.loads(item.payload)
        work = self.core.hooks.deferred.get(spec["work"])
        if work is None:
            return Undeliverable(f"no deferred work called {spec['work']!r}", chat_gone=False)
        store = await work(self.core, spec["data"])
        async with self.core.db.transaction():
            if await outbox.sent(self.core.db, [item.id], self.core.clock.now()) and store is not None:
                await store(self.core.db)
        self.core.wake_outbox()
        return Delivered()

    async def _deliver_invite(self, transport: Transport, item: outbox.Item, key: str) -> SendResult | InviteResult:
        data = json.loads(item.payload)
        room = await circle_store.room_on(self.core.db, data["circle_id"], transport.platform)
        if room is None:
            if not transport.capabilities.create_rooms:
                return RetryLater(600, "waiting for a group for this circle")
            spec = replace(await self.room_spec(data["circle_id"]), invite=(data["user_id"],))
            room_id = await transport.create_room(spec)
            async with self.core.db.transaction():
                await circle_store.set_room(self.core.db, data["circle_id"], transport.platform, room_id)
            if getattr(transport, "invites_on_create", False):  # invited by the creation itself: one event
                return InviteResult(Delivered())
            room = circle_store.Room(data["circle_id"], transport.platform, room_id)
        return await transport.invite(room.chat_id, data["user_id"], idempotency_key=key)

    async def _deliver_room_action(self, transport: Transport, item: outbox.Item) -> SendResult:
        """A change to one member in a circle's room, on the platforms that have it (the adapter has the
        method): a power level waits for the room to exist; a mute or a removal without a room has
        nothing to do, and where the platform cannot mute, the bot's own mute (no mirroring) holds."""
        method, arguments = ROOM_ACTIONS[item.kind]
        data = json.loads(item.payload)
        room = await circle_store.room_on(self.core.db, data["circle_id"], transport.platform)
        if room is None:
            return RetryLater(600, "waiting for the circle's room") if item.kind == "power" else Delivered()
        act = getattr(transport, method, None)
        if act is None:
            return Delivered()
        return await act(room.chat_id, data["user_id"], **arguments(data))

    async def room_spec(self, circle_id: int) -> RoomSpec:
        circle = await circle_store.get(self.core.db, circle_id)
        assert circle is not None
        place = self.core.content.places.get(circle.place_id)
        name = place.name if place else circle.place_id
        t = self.core.t_default
        name_text = t("circle-room-name", place=name, number=circle.number)
        return RoomSpec(circle_id, name_text, t("circle-room-topic", place=name))

    async def _record(self, item: outbox.Item, result: SendResult | InviteResult) -> None:
        now = self.core.clock.now()
        link = result.link if isinstance(result, InviteResult) else ""
        outcome = result.outcome if isinstance(result, InviteResult) else result
        self._count(item, outcome)
        if isinstance(outcome, Delivered) and not link:
            self.claims(item.platform).delivered(item.id)  # the common case: written with the next claim
            return
        async with self.core.db.transaction():
            if isinstance(outcome, Delivered):
                await outbox.sent(self.core.db, [item.id], now)
                if link:
                    await self._send_invite_link(item, link, now)
            elif isinstance(outcome, RetryLater) and _rate_limit(outcome):
                # The platform named the wait: no back-off on top (the adapter paces the account, so
                # the items that waited come back one by one, oldest first, instead of all at once).
                await outbox.retry(self.core.db, item.id, _after(now, outcome.seconds), outcome.reason)
            elif isinstance(outcome, RetryLater):
                at = max(_after(now, outcome.seconds), _after(now, backoff(item.attempts)))
                await outbox.retry(self.core.db, item.id, at, outcome.reason)
            elif isinstance(outcome, Undeliverable):
                await outbox.failed(self.core.db, item.id, outcome.reason)
                await self._unreachable(item, outcome, now)

    def _count(self, item: outbox.Item, outcome: SendResult) -> None:
        counters = self.core.counters
        counters.add("sends", platform=item.platform, outcome=type(outcome).__name__.lower())
        if isinstance(outcome, RetryLater) and _rate_limit(outcome):
            counters.add("rate_limited", platform=item.platform)
            log.info("%s rate-limited: %s to chat %s waits %.1f s", item.platform, item.kind, item.chat_id,
                     outcome.seconds)
        elif isinstance(outcome, Undeliverable):
            log.warning("%s: %s to chat %s refused for good (%s)",
                        item.platform, item.kind, item.chat_id, outcome.reason)

    async def _send_invite_link(self, item: outbox.Item, link: str, now: datetime) -> None:
        data = json.loads(item.payload)
        person = await people.get(self.core.db, data["person_id"])
        if person is None:
            return
        t = self.core.translator(person.language)
        await self.core.queue_message(
            self.core.db, item.platform, item.chat_id, t("circle-invite-link", link=link), (), now
        )

    async def _unreachable(self, item: outbox.Item, outcome: Undeliverable, now: datetime) -> None:
        """A private chat that refuses us (blocked, never started): mark that identity, keep the room."""
        if not outcome.chat_gone or item.kind != "message":
            return  # this message (or the circle's room) was refused, not the person's chat
        room = await circle_store.room_by_chat(self.core.db, item.platform, item.chat_id)
        if room is None:
            await people.mark_unreachable(self.core.db, item.platform, item.chat_id, now)
            await outbox.drop_for_chat(self.core.db, item.platform, item.chat_id)

    async def run_delivery(self, platform: str) -> None:
        """Deliver for one platform forever: woken when something is queued, else when the next
        delayed item comes due."""
        await self.recover(platform)
        ready = self.core.outbox_ready[platform]
        while True:
            ready.clear()
            attempted = await self.deliver_due(platform)
            if attempted and self.started_last:
                continue
            if attempted:  # due, but each chat's turn is another worker's for now: look again shortly
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ready.wait(), timeout=OTHERS_SENDING_WAIT)
                continue
            timeout = await self._idle_wait(platform)  # first: a cancellation here leaves no coroutine behind
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), timeout=timeout)

    async def recover(self, platform: str) -> int:
        """Sends left 'sending' by a worker that is no longer alive (this very process before a restart,
        or another worker that died): resent where the platform deduplicates, else "may have arrived"
        (``outbox.recover``). The sends of live workers are theirs."""
        idempotent = getattr(self.core.transports[platform], "idempotent_sends", False)
        alive = await leases.alive_workers(self.core.db, wall_now())
        async with self.core.db.transaction():
            found = await outbox.recover(self.core.db, platform, self.core.clock.now(), idempotent, alive)
        if found:
            log.warning("%s: %s sends of a stopped worker recovered", platform, found)
            self.core.wake_outbox()
        return found

    async def _idle_wait(self, platform: str) -> float:
        next_at = await outbox.next_due_at(self.core.db, platform)
        if next_at is None:
            return 30.0
        delta = (datetime.fromisoformat(next_at) - self.core.clock.now()).total_seconds()
        return min(30.0, max(0.05, delta))


class Pass:
    """One delivery pass. It chose its items when it began; when something is queued (or made due)
    meanwhile (``Core.outbox_wakes`` moved), it may be an answer that must not wait for the rest of
    this pass's care and bulk: the pass stops taking new items and the worker chooses again, the turns
    still counted (``ClassTurns``). Only once it has started at least one send, so a steady stream of
    wakes cannot stop the outbox from moving; and never a pass of answers only, which nothing new may
    overtake (answers keep their order)."""

    def __init__(self, core: Core, items: list[outbox.Item]) -> None:
        self.core = core
        self.wakes = core.outbox_wakes
        self.started = 0
        self.may_be_overtaken = core.delivery.classes and any(i.delivery_class > outbox.ANSWER for i in items)

    def outrun(self) -> bool:
        return self.may_be_overtaken and self.started > 0 and self.core.outbox_wakes != self.wakes


class Claims:
    """One platform's claims, grouped. Sends to different chats run side by side, and each must be
    claimed (committed) before it starts. A claim asked for while another is on its way to the database
    joins the next statement, together with the successes not written yet: one trip for several
    messages, and a send never queues behind other sends' trips.

    A success not written yet reads 'sending' in the outbox, which is never sent again: after a crash
    it counts among the "may have arrived" (and it did arrive)."""

    def __init__(self, core: Core, platform: str = "") -> None:
        self.core = core
        self.platform = platform
        self._asked: dict[int, asyncio.Future[bool]] = {}
        self._delivered: list[int] = []
        self._writing = False

    def delivered(self, item_id: int) -> None:
        self._delivered.append(item_id)

    async def claim(self, item_id: int) -> bool:
        """Whether ``item_id`` is now ours to send (False: it is no longer waiting)."""
        answer = asyncio.get_running_loop().create_future()
        self._asked[item_id] = answer
        if not self._writing:  # this task writes every claim asked for until none is left
            self._writing = True
            try:
                while self._asked:
                    await self._write_asked()
            finally:
                self._writing = False
                for stranded in self._asked.values():  # only when this task was cancelled (shutdown)
                    stranded.cancel()
                self._asked.clear()
        return await answer

    async def _write_asked(self) -> None:
        asked, self._asked = self._asked, {}
        delivered, self._delivered = self._delivered, []
        try:
            claimed = await self._claim(list(asked), delivered)
        except Exception as exc:  # each asker gets the error, as if it had written alone
            self._delivered.extend(delivered)
            for answer in asked.values():
                answer.set_exception(exc)
            return
        except BaseException:
            self._delivered.extend(delivered)
            for answer in asked.values():
                answer.cancel()
            raise
        for item_id, answer in asked.items():
            answer.set_result(item_id in claimed)

    async def _claim(self, asked: list[int], delivered: list[int]) -> set[int]:
        """One claim statement, under this platform's claim turn where the engine needs one (PostgreSQL:
        two workers' claims would otherwise not see each other, and a chat's order could break)."""
        db, now, worker = self.core.db, self.core.clock.now(), self.core.worker_id
        if db.engine != "postgresql":
            return await outbox.claim(db, asked, now, delivered, worker)
        async with db.transaction():
            await leases.take_turn(db, f"outbox:{self.platform}")
            return await outbox.claim(db, asked, now, delivered, worker)

    async def write_delivered(self) -> None:
        """At the end of a pass: the successes not written with a claim."""
        delivered, self._delivered = self._delivered, []
        if delivered:
            await outbox.sent(self.core.db, delivered, self.core.clock.now())


def _rate_limit(outcome: RetryLater) -> bool:
    return outcome.reason.startswith(RATE_LIMIT_REASONS)


def _after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
