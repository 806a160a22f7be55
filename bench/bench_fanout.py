"""Benchmark: one event announced to 10,000 members through the durable outbox, against Telegram's limits.

Run from the repository root::

    python bench/bench_fanout.py [--members 10000] [--scale 5]

The platform is ``adapters.memory.MemoryPlatform`` with ``RateLimits(global_per_s=30, per_chat_per_s=1)``:
a send over either limit is refused like a 429 (``RetryLater``) and counted. The delivery worker is the
real ``Core.run_delivery`` on a real SQLite file, paced by ``bot.core.pacing.Pacer`` from the rate the
platform declares (``Capabilities.messages_per_second = 30``).

Time is scaled so the run takes seconds instead of minutes: one real second counts as ``--scale``
seconds for everything that measures or waits — the platform's limit window, the pacer, the core's
clock (retry times) and the rate figures. Only waiting is compressed: the worker's own work (SQLite
claim and record per item, the send) runs at real speed, so if it could not keep up with 30/s × scale
real messages a second, the share below would drop. The figures are reported in scaled seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.memory import MemoryPlatform, RateLimits  # noqa: E402
from bot.activities import announcements  # noqa: E402
from bot.assemble import build_core  # noqa: E402
from bot.core.app import Content, Core  # noqa: E402
from bot.core.chat import Capabilities, Delivered, Outgoing, SendResult  # noqa: E402
from bot.core.clock import to_iso  # noqa: E402
from bot.core.config import load_config  # noqa: E402
from bot.core.pacing import Pacer  # noqa: E402
from bot.storage import circles, events, organizers, outbox  # noqa: E402
from bot.storage.database import Database  # noqa: E402
from bot.storage.events import Draft  # noqa: E402

RATE = 30


class ScaledTime:
    """Real time multiplied by ``scale``: a monotonic clock, a wall clock for the core, and sleep."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.t0 = time.monotonic()
        self.start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return (time.monotonic() - self.t0) * self.scale

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.scale)


class TimedPlatform(MemoryPlatform):
    """The memory platform, noting the (scaled) moment of each accepted delivery."""

    times: list[float]

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        result = await super().send(message, idempotency_key=idempotency_key)
        if isinstance(result, Delivered):
            self.times.append(self.limits.clock())
        return result


async def populate(core: Core, members: int) -> int:
    """Members in circles of 10 in one neighbourhood, a trusted organizer, and an event to announce."""
    db, now = core.db, core.clock.now()
    stamp = to_iso(now)
    async with db.transaction():
        await db.executemany(
            "INSERT INTO people (id, first_name, language, place_id, onboarded_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(i, f"Voisin {i}", "fr" if i % 4 else "en", "nb:belleville", stamp, stamp) for i in range(1, members + 2)])
        await db.executemany(
            "INSERT INTO identities (platform, user_id, person_id, private_chat_id) VALUES ('fake', ?, ?, ?)",
            [(f"u{i}", i, f"dm:u{i}") for i in range(1, members + 2)])
        for first in range(1, members + 1, 10):
            circle = await circles.create(db, "nb:belleville", now)
            await db.executemany("INSERT INTO circle_members (circle_id, person_id, joined_at) VALUES (?, ?, ?)",
                                 [(circle.id, i, stamp) for i in range(first, min(first + 10, members + 1))])
        owner = members + 1  # not in a circle: the organizer is not told of their own event
        organizer_id = await organizers.apply(db, owner, "Boulangerie", "shop", "", ["nb:belleville"], now)
        await organizers.decide(db, organizer_id, "approved", True, owner)
        draft = Draft("Atelier tricot", now + timedelta(days=3), "Salle des fêtes", "Venez !", ("nb:belleville",))
        return await events.create(db, organizer_id, draft, "pending", now)


async def open_core(folder: str, clock: ScaledTime):
    """A core on a file database in ``folder``, with the deployment's own places only (the national
    list is not needed to announce in Belleville, and loading it would only slow the start)."""
    config = load_config()
    config = replace(config, places=replace(config.places, national=""))
    db = await Database.open(Path(folder) / "bench.sqlite3")
    return build_core(config, db, Content.load(config), clock)


async def run(members: int, scale: float) -> dict[str, float]:
    clock = ScaledTime(scale)
    with tempfile.TemporaryDirectory() as tmp:
        core = await open_core(tmp, clock)
        db = core.db
        platform = TimedPlatform(
            capabilities=Capabilities(buttons=True, create_rooms=True, invite_links=False, messages_per_second=RATE),
            limits=RateLimits(global_per_s=RATE, per_chat_per_s=1, clock=clock.monotonic))
        platform.times = []
        core.attach(platform, Pacer(RATE, clock=clock.monotonic, sleep=clock.sleep))
        event_id = await populate(core, members)
        real = time.perf_counter()
        async with db.transaction():
            queued = await announcements.publish(core, db, event_id, core.clock.now())
        enqueue = time.perf_counter() - real
        real = time.perf_counter()
        worker = asyncio.create_task(core.run_delivery("fake"))
        while True:
            counts = await outbox.counts(db)
            if counts.get("sent", 0) + counts.get("failed", 0) >= queued:
                break
            await asyncio.sleep(0.2)
        wall = time.perf_counter() - real
        worker.cancel()
        await db.close()
    per_chat = Counter(m.chat_id for m in platform.sent)
    span = platform.times[-1] - platform.times[0]
    rate = (len(platform.times) - 1) / span if span > 0 else float("inf")
    return {"queued": queued, "enqueue_s": enqueue, "wall_s": wall, "span_s": span, "rate": rate,
            "share": rate / RATE, "lost": members - len(per_chat), "duplicates": sum(per_chat.values()) - len(per_chat),
            "rejected_429": platform.rejected, "failed": counts.get("failed", 0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=5.0, help="scaled seconds per real second")
    args = parser.parse_args()
    r = asyncio.run(run(args.members, args.scale))
    print(f"fan-out of one event to {args.members:,} members through the outbox")
    print(f"limits: {RATE}/s overall, 1/s per chat (MemoryPlatform RateLimits); time scaled x{args.scale:g} "
          f"(1 real s = {args.scale:g} s for the limits, the pacer and the core's clock; figures in scaled s)")
    print(f"queued {r['queued']:,} outbox rows in one transaction in {r['enqueue_s'] * 1000:.0f} ms (real)")
    print(f"delivered over {r['span_s']:.1f} s scaled ({r['wall_s']:.1f} s real): {r['rate']:.2f} msg/s "
          f"= {r['share'] * 100:.1f} % of the allowed {RATE}/s (target >= 90 %)")
    print(f"lost {r['lost']}, duplicates {r['duplicates']}, 429s {r['rejected_429']} (each retried by the outbox), "
          f"failed {r['failed']}")
    ok = r["share"] >= 0.9 and r["lost"] == 0 and r["duplicates"] == 0
    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
