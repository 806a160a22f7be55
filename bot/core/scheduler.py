"""Periodic passes (check-ins, reminders, digests, merging quiet circles), stored and leased.

When each job last ran is kept in the ``jobs`` table, so after a night of downtime a daily pass runs
once on start — not once per missed day, and not never. A lease in the same row means two bot
processes sharing a database never run the same pass at once, and the lease is taken for the due time
the process saw (``last_run_at`` unchanged), so a pass two workers both found due runs once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.core.clock import from_iso, to_iso

if TYPE_CHECKING:
    from bot.core.app import Core

log = logging.getLogger(__name__)

IsDue = Callable[[datetime | None, datetime], bool]


@dataclass(frozen=True)
class Job:
    name: str
    is_due: IsDue  # (last run or None, now) -> run now?
    run: Callable[[Core, datetime], Awaitable[object]]
    lease: timedelta = timedelta(minutes=10)


def daily_at(hhmm: str, zone: ZoneInfo) -> IsDue:
    """Due once per day at a local time: when the latest such moment passed after the last run."""
    hour, minute = (int(x) for x in hhmm.split(":"))

    def is_due(last: datetime | None, now: datetime) -> bool:
        local = now.astimezone(zone)
        latest = datetime.combine(local.date(), time(hour, minute), zone)
        if latest > local:
            latest -= timedelta(days=1)
        return last is None or last < latest

    return is_due


def every(period: timedelta) -> IsDue:
    def is_due(last: datetime | None, now: datetime) -> bool:
        return last is None or now - last >= period

    return is_due


class Scheduler:
    def __init__(self, core: Core, owner: str | None = None) -> None:
        self.core = core
        self.owner = owner or uuid.uuid4().hex[:12]
        self.jobs: dict[str, Job] = {}
        # When this process last looked for due passes: wall-clock time, read by people and monitoring
        # (``voisinage status``, /healthz), not the core's clock (which tests move).
        self.last_tick: datetime | None = None

    def add(self, job: Job) -> None:
        if job.name in self.jobs:
            raise ValueError(f"job {job.name} added twice")
        self.jobs[job.name] = job

    async def tick(self) -> list[str]:
        """Run every job that is due and whose lease this process gets; returns their names."""
        ran = []
        for job in self.jobs.values():
            now = self.core.clock.now()
            last = await self._last_run(job.name)
            if not job.is_due(last, now):
                continue
            if not await self._acquire(job, now, last):
                continue
            try:
                await job.run(self.core, now)
            except Exception:
                log.exception("job %s failed; it will be tried again at its next tick", job.name)
                await self._release(job.name, None)
                continue
            await self._release(job.name, now)
            ran.append(job.name)
        self.last_tick = datetime.now(UTC)
        if ran:
            log.info("scheduler pass: ran %s", ", ".join(ran))
        return ran

    async def run_forever(self, interval: float = 30.0) -> None:
        while True:
            await self.tick()
            await self.core.clock.sleep(interval)

    async def _last_run(self, name: str) -> datetime | None:
        value = await self.core.db.scalar("SELECT last_run_at FROM jobs WHERE name = ?", (name,))
        return from_iso(value) if value else None

    async def _acquire(self, job: Job, now: datetime, last: datetime | None) -> bool:
        """The pass's lease, for the due time this process saw: taken only if the pass is free (or its
        lease expired) *and* nobody ran it since ``last`` was read. Two workers that both found it due
        thus run it once: the second finds ``last_run_at`` moved and leaves it."""
        db = self.core.db
        async with db.transaction():
            await db.execute("INSERT INTO jobs (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (job.name,))
            got = await db.execute(
                "UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE name = ? "
                "AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?) AND COALESCE(last_run_at, '') = ?",
                (self.owner, to_iso(now + job.lease), job.name, self.owner, to_iso(now),
                 to_iso(last) if last else ""),
            )
        return got == 1

    async def _release(self, name: str, ran_at: datetime | None) -> None:
        db = self.core.db
        async with db.transaction():
            if ran_at is None:
                await db.execute("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE name = ?", (name,))
            else:
                await db.execute(
                    "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, last_run_at = ? WHERE name = ?",
                    (to_iso(ran_at), name),
                )
