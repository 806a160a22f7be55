"""Benchmark: answers first. An announcement to 10,000 members fans out at Telegram's limits while
residents write to the bot and the daily check-in pass asks 50 people how they are.

Run from the repository root::

    python bench/bench_answers_first.py [--members 10000] [--residents 100] [--checkins 50] [--scale 5]

What runs is the real core: ``announcements.publish`` writes the fan-out to the outbox, 100 residents
(members who also receive the announcement) each send /help at a random moment through the inbox and
the dispatcher, and ``checkins.rounds.daily_pass`` opens 50 check-ins at a random moment; one
``Core.run_delivery`` worker sends, four sends in flight like the Telegram adapter.

The platform paces itself as the Telegram adapter does (``adapters.telegram.limits``: 30 a second
overall, 1 a second per private chat, sliding windows with Telegram's margin) and, behind that, the
memory platform refuses like a 429 anything over 30/s overall or 1/s per chat (counted).

Reported, in scaled seconds (time is scaled as in ``bench_fanout.py``: the limits, the core's clock and
every wait run ``--scale`` times faster; the worker's own work runs at real speed): the answers' latency
(from the resident's message reaching the bot to the answer leaving) p50 and p99, the check-in
questions' latency p99 (from the pass to the question leaving), the announcement's share of the allowed
30/s over the whole run, lost and duplicated announcements. Then the same run with classes switched
off (one FIFO, as before issue 15), side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.memory import MemoryPlatform, RateLimits  # noqa: E402
from adapters.telegram.limits import chat_limits  # noqa: E402
from bench.bench_fanout import ScaledTime, open_core, populate  # noqa: E402
from bot.activities import announcements  # noqa: E402
from bot.checkins import rounds  # noqa: E402
from bot.core.chat import Capabilities, CommandIn, Delivered, Outgoing, SendResult  # noqa: E402
from bot.core.clock import to_iso  # noqa: E402
from bot.core.pacing import ChatLimits  # noqa: E402
from bot.storage import outbox  # noqa: E402
from bot.storage.database import Database  # noqa: E402

RATE = 30
TARGET_ANSWER_P99 = 2.0
TARGET_CARE_P99 = 5.0
TARGET_SHARE = 0.85


@dataclass
class TelegramLike(MemoryPlatform):
    """Paces itself like the Telegram adapter (``ready_in`` per chat, the overall window awaited in
    ``send``), and notes the (scaled) moment and nature of each accepted delivery."""

    pacing: ChatLimits | None = None
    log: list[tuple[float, str, str]] = field(default_factory=list)  # (moment, chat, what)

    def ready_in(self, chat_id: str) -> float:
        return self.pacing.ready_in(chat_id) if self.pacing else 0.0

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        if self.pacing:
            await self.pacing.acquire(message.chat_id)
        result = await super().send(message, idempotency_key=idempotency_key)
        if isinstance(result, Delivered):
            self.log.append((self.limits.clock(), message.chat_id, _what(message)))
        return result


def _what(message: Outgoing) -> str:
    payloads = [c.payload for c in message.choices]
    if any(p.startswith("rsvp:") for p in payloads):
        return "announcement"
    if any(p.startswith("checkin:") for p in payloads):
        return "checkin"
    return "other"


async def make_quiet(db: Database, first: int, count: int, now) -> None:
    """``count`` members quiet for 20 days and asking for check-ins; everyone else active today."""
    async with db.transaction():
        await db.execute("UPDATE people SET last_active_at = ?, checkins = 0", (to_iso(now),))
        await db.execute("UPDATE people SET last_active_at = ?, checkins = 1 WHERE id BETWEEN ? AND ?",
                         (to_iso(now - timedelta(days=20)), first, first + count - 1))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(members: int, residents: int, checkins: int, scale: float, classes: bool, seed: int) -> dict:
    rng = random.Random(seed)
    clock = ScaledTime(scale)
    with tempfile.TemporaryDirectory() as tmp:
        core = await open_core(tmp, clock)
        db = core.db
        core.delivery.classes = classes
        platform = TelegramLike(
            capabilities=Capabilities(buttons=True, create_rooms=True, invite_links=False, sends_in_flight=4),
            limits=RateLimits(global_per_s=RATE, per_chat_per_s=1, clock=clock.monotonic),
            idempotent_sends=False)
        platform.pacing = chat_limits(clock=clock.monotonic, sleep=clock.sleep)
        core.attach(platform)
        event_id = await populate(core, members)
        quiet_first = residents + 1  # residents are members 1..residents, the quiet ones come next
        await make_quiet(db, quiet_first, checkins, clock.now())
        window = members / RATE * 0.8  # everything happens while the announcement fans out
        said: dict[str, float] = {}
        asked: list[float] = []

        async def resident(n: int) -> None:
            await clock.sleep(rng.uniform(1.0, window))
            event = platform.event(f"u{n}", CommandIn("help", ""))
            said[f"dm:u{n}"] = clock.monotonic()
            await core.receive(event)

        async def checkin_pass() -> None:
            await clock.sleep(rng.uniform(1.0, window))
            asked.append(clock.monotonic())
            await rounds.daily_pass(core, core.clock.now())
            core.wake_outbox()

        start = clock.monotonic()
        async with db.transaction():
            queued = await announcements.publish(core, db, event_id, core.clock.now())
        tasks = [asyncio.create_task(core.run_delivery("fake")), asyncio.create_task(core.run_dispatcher())]
        people = [asyncio.create_task(resident(n)) for n in range(1, residents + 1)]
        people.append(asyncio.create_task(checkin_pass()))
        await asyncio.gather(*people)
        expected = queued + residents + checkins
        while len(platform.log) < expected:
            counts = await outbox.counts(db)
            if counts.get("pending", 0) + counts.get("sending", 0) == 0 and len(platform.log) >= queued:
                break
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        failed = (await outbox.counts(db)).get("failed", 0)
        await db.close()
    return summarise(platform, said, asked[0] if asked else start, quiet_first, checkins, members, start, failed)


def summarise(platform: TelegramLike, said: dict[str, float], asked_at: float, quiet_first: int, checkins: int,
              members: int, start: float, failed: int) -> dict:
    answers, care = [], []
    for chat, at in said.items():
        reply = next((t for t, c, what in platform.log if c == chat and what == "other" and t >= at), None)
        answers.append(reply - at if reply is not None else float("inf"))
    for n in range(quiet_first, quiet_first + checkins):
        question = next((t for t, c, what in platform.log if c == f"dm:u{n}" and what == "checkin"), None)
        care.append(question - asked_at if question is not None else float("inf"))
    bulk = [t for t, _, what in platform.log if what == "announcement"]
    per_chat = Counter(c for _, c, what in platform.log if what == "announcement")
    first = min((t for t, _, _ in platform.log), default=start)
    span = max(bulk) - first if bulk else float("inf")
    return {"answer_p50": percentile(answers, 50), "answer_p99": percentile(answers, 99),
            "care_p99": percentile(care, 99), "share": len(bulk) / span / RATE, "span": span,
            "lost": members - len(per_chat), "duplicates": sum(per_chat.values()) - len(per_chat),
            "rejected_429": platform.rejected, "failed": failed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument("--checkins", type=int, default=50)
    parser.add_argument("--scale", type=float, default=5.0, help="scaled seconds per real second")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    real = time.perf_counter()
    runs = {on: asyncio.run(run(args.members, args.residents, args.checkins, args.scale, on, args.seed))
            for on in (True, False)}
    print(f"an announcement to {args.members:,} members at Telegram's limits ({RATE}/s overall, 1/s per chat); "
          f"meanwhile {args.residents} residents write and {args.checkins} check-ins are due")
    print(f"time scaled x{args.scale:g} (figures in scaled seconds); both runs took "
          f"{time.perf_counter() - real:.0f} s real")
    rows = [("answer latency p50", "answer_p50", "{:.2f} s", ""),
            ("answer latency p99", "answer_p99", "{:.2f} s", f"<= {TARGET_ANSWER_P99:g} s"),
            ("care latency p99", "care_p99", "{:.2f} s", f"<= {TARGET_CARE_P99:g} s"),
            ("announcement share of 30/s", "share", "{:.1%}", f">= {TARGET_SHARE:.0%}"),
            ("announcement lost", "lost", "{}", "0"),
            ("announcement duplicates", "duplicates", "{}", "0"),
            ("429s from the platform", "rejected_429", "{}", ""),
            ("outbox items failed", "failed", "{}", "")]
    print(f"{'':30} {'classes on':>12} {'classes off':>12}   target")
    for label, key, fmt, target in rows:
        print(f"{label:30} {fmt.format(runs[True][key]):>12} {fmt.format(runs[False][key]):>12}   {target}")
    on = runs[True]
    ok = (on["answer_p99"] <= TARGET_ANSWER_P99 and on["care_p99"] <= TARGET_CARE_P99
          and on["share"] >= TARGET_SHARE and on["lost"] == 0 and on["duplicates"] == 0)
    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
