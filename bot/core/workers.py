"""Several ``voisinage run`` processes (workers) on one database, sharing the work (issue 16).

Each worker has an identity ("host:pid:random", ``worker_identity``) and holds the lease
"worker:<identity>" while it runs, renewed every ``RENEW_EVERY``. What the workers share, and how:

- the inbox: events claimed per chat (``bot.storage.inbox_claims``): in order per chat, one worker at
  a time per chat, any worker any chat;
- the outbox: items claimed one by one with the worker's name (``bot.storage.outbox.claim``); a chat's
  next message is not claimed while another worker sends an earlier one; the platform's overall rate
  is one budget in the database (``SharedPacer``); invites and room changes under a lease per platform;
- the scheduler: each pass leased for its due time (``bot.core.scheduler``), run once;
- the platform intake (Telegram's poller, Matrix's sync): one worker at a time, under a lease renewed
  every few seconds (``Worker.hold``); another worker takes it over once it expires (``INTAKE_TTL``).

When a worker dies its leases expire: its chats' events are claimed by others once their claims run
out (``inbox_claims.CLAIM_TTL``); its sends under way are recovered by a live worker ("may have
arrived" where the platform cannot deduplicate, as after a crash of a lone process); its intake is
taken over.

What stays in one worker's memory and why that is harmless: ``Core._hinted`` (one hint per burst; a
chat that moves to another worker may get one hint more), the delivery classes' turns (each worker
shares its own sends between classes), adapters' per-chat pacing windows (a chat's messages are sent
one after the other whichever worker sends them; a rare 429 is retried as ever), a Telegram message's
parts already sent (as after a restart today).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.core.pacing import MARGIN
from bot.storage import leases, send_rate

if TYPE_CHECKING:
    from bot.core.app import Core

log = logging.getLogger(__name__)

# A worker renews its leases this often; its "worker:" lease lasts WORKER_TTL, its intake INTAKE_TTL:
# a dead worker's intake is taken over within INTAKE_TTL + RENEW_EVERY (under 30 s).
RENEW_EVERY = 3.0
WORKER_TTL = timedelta(seconds=15)
INTAKE_TTL = timedelta(seconds=15)
# How often a worker looks for sends left 'sending' by a dead worker.
RECOVER_EVERY = 5.0


def worker_identity() -> str:
    """host:pid:random — the random part tells apart two runs that got the same pid (a container)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def wall_now() -> datetime:
    """Wall-clock time: leases and claims are about processes being alive, which the core's clock
    (moved by tests, shifted by the console's /clock) knows nothing of."""
    return datetime.now(UTC)


class SharedPacer:
    """``bot.core.pacing.Pacer``'s interface with its budget in the database (``send_rate``): every
    worker's sends on a platform draw on one rate."""

    def __init__(self, core: Core, platform: str, per_second: float, margin: float = MARGIN, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.core = core
        self.platform = platform
        self.interval = 1.0 / (per_second * margin) if per_second > 0 else 0.0
        self._clock = clock  # seconds since the epoch: every worker, on every machine, reads the same
        self._sleep = sleep  # injectable with the clock, so a benchmark can scale time

    async def wait(self) -> None:
        if not self.interval:
            return
        now = self._clock()
        slot = await send_rate.take_slot(self.core.db, self.platform, now, self.interval)
        if slot > now:
            await self._sleep(slot - now)


def overall_rate(transport: object) -> float:
    """Sends a second the platform allows the whole bot: declared by the adapter (``capabilities``), or
    its own pacing's overall window (Telegram's 30 a second)."""
    declared = transport.capabilities.messages_per_second  # type: ignore[attr-defined]
    if declared:
        return float(declared)
    rates = getattr(getattr(transport, "settings", None), "rates", None)
    if rates is not None and rates.overall > 0:
        return rates.overall / rates.overall_window
    return 0.0


class LeaseLost(Exception):
    """The lease a piece of work ran under went to another worker: that work was stopped."""


class Worker:
    """This process as one worker among those sharing the database."""

    def __init__(self, core: Core, *, renew_every: float = RENEW_EVERY, ttl: timedelta = WORKER_TTL,
                 now: Callable[[], datetime] = wall_now) -> None:
        self.core = core
        self.id = core.worker_id
        self.renew_every = renew_every
        self.ttl = ttl
        self.now = now
        self.held: set[str] = set()

    def share_rates(self) -> None:
        """Every attached platform's overall rate becomes one budget shared with the other workers."""
        for platform, transport in self.core.transports.items():
            rate = overall_rate(transport)
            if rate:
                self.core.delivery.pacers[platform] = SharedPacer(self.core, platform, rate)

    async def beat(self) -> None:
        """Say this worker is alive (its claims and sends stay its own)."""
        await leases.acquire(self.core.db, leases.WORKER_PREFIX + self.id, self.id, self.now(), self.ttl)

    async def run(self) -> None:
        """Stay alive until cancelled; every ``RECOVER_EVERY``, recover the sends of dead workers."""
        last_recovery = 0.0
        while True:
            try:
                await self.beat()
                if time.monotonic() - last_recovery >= RECOVER_EVERY:
                    last_recovery = time.monotonic()
                    for platform in list(self.core.transports):
                        await self.core.delivery.recover(platform)
            except Exception:  # a database busy for a moment must not end the worker
                log.exception("worker %s: could not renew its lease", self.id)
            await asyncio.sleep(self.renew_every)

    async def stop(self) -> None:
        """A clean stop: give back every lease at once, so another worker takes over without waiting."""
        for name in [*self.held, leases.WORKER_PREFIX + self.id]:
            with contextlib.suppress(Exception):
                await leases.release(self.core.db, name, self.id)
        self.held.clear()

    async def hold(self, name: str, work: Callable[[], Awaitable[object]], ttl: timedelta = INTAKE_TTL) -> None:
        """Run ``work`` only while holding the lease ``name``: wait for it, renew it every
        ``renew_every`` while ``work`` runs, stop ``work`` if it is lost, and wait for it again. Never
        returns unless ``work`` does (or raises while the lease is still ours)."""
        while True:
            if not await self._acquire(name, ttl):
                await asyncio.sleep(self.renew_every)
                continue
            log.info("worker %s now holds %s", self.id, name)
            self.held.add(name)
            try:
                result = await self._run_holding(name, work, ttl)
            finally:
                self.held.discard(name)
            if result is not LeaseLost:
                await leases.release(self.core.db, name, self.id)
                return

    async def _run_holding(self, name: str, work: Callable[[], Awaitable[object]], ttl: timedelta) -> object:
        """``work`` under the lease; LeaseLost (the class) when it was stopped because the lease went."""
        task = asyncio.ensure_future(work())
        held_until = self.now() + ttl
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.renew_every)
                if done:
                    break
                if await self._acquire(name, ttl):
                    held_until = self.now() + ttl
                elif self.now() >= held_until - timedelta(seconds=self.renew_every):
                    log.warning("worker %s lost %s: stopping that work", self.id, name)
                    return LeaseLost
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if task.exception() is not None and await leases.holder_of(self.core.db, name, self.now()) != self.id:
            log.warning("worker %s: %s ended (%r) after the lease went elsewhere", self.id, name, task.exception())
            return LeaseLost
        return task.result()

    async def _acquire(self, name: str, ttl: timedelta) -> bool:
        try:
            return await leases.acquire(self.core.db, name, self.id, self.now(), ttl)
        except Exception:
            log.exception("worker %s: lease %s could not be written", self.id, name)
            return False


def serve_adapter(core: Core, worker: Worker, adapter: object) -> list[Awaitable[object]]:
    """What runs for one platform adapter on this worker. Its intake (a poller, a sync) runs under the
    lease "intake:<platform>", on one worker at a time, unless the adapter says it may run on every
    worker (``intake_leased`` False: a Telegram webhook, every worker behind the same URL). Delivery
    runs on every worker, except where the sends need the intake's state (``sends_with_intake``:
    Matrix's sync state and encryption keys live in the process that syncs): there they go together."""
    platform = adapter.platform  # type: ignore[attr-defined]
    receive = lambda: adapter.run(core)  # type: ignore[attr-defined]  # noqa: E731
    deliver = lambda: core.run_delivery(platform)  # noqa: E731
    if not getattr(adapter, "intake_leased", True):
        return [receive(), deliver()]
    if getattr(adapter, "sends_with_intake", False):
        async def both() -> None:
            await asyncio.gather(receive(), deliver())

        return [worker.hold(f"intake:{platform}", both)]
    return [worker.hold(f"intake:{platform}", receive), deliver()]
