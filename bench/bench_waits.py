"""Benchmark of the waiting neighbours' daily news (``bot.circles.waiting.tell_long_waits``) with many waiting.

Run from the repository root::

    python bench/bench_waits.py [--waiting 20000] [--database postgresql://…]

It fills a fresh database with ``--waiting`` neighbours waiting for circles, spread over the
deployment's neighbourhoods, all past the 14 days, then times three passes of the news (in batches
of ``waiting.BATCH``, one transaction each, as the daily pass runs it): the first (everyone is told:
the cost per person), the same day again (nothing is due: what every later day costs), and 31 days
later (everyone due again).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.memory import MemoryPlatform  # noqa: E402
from bot.assemble import build_core  # noqa: E402
from bot.circles import waiting  # noqa: E402
from bot.core.app import Content  # noqa: E402
from bot.core.clock import FakeClock, to_iso  # noqa: E402
from bot.core.config import load_config  # noqa: E402
from bot.storage.database import Database  # noqa: E402


async def fill(db: Database, places: list[str], count: int, since: str) -> None:
    async with db.transaction():
        for n in range(count):
            place = places[n % len(places)]
            person_id = await db.insert(
                "INSERT INTO people (first_name, language, place_id, created_at, onboarded_at) "
                "VALUES (?, 'fr', ?, ?, ?)",
                (f"N{n}", place, since, since))
            await db.execute("INSERT INTO identities (person_id, platform, user_id, private_chat_id) "
                             "VALUES (?, 'fake', ?, ?)", (person_id, f"u{n}", f"dm:u{n}"))
            await db.execute("INSERT INTO circle_waits (person_id, place_id, since) VALUES (?, ?, ?)",
                             (person_id, place, since))


async def timed(core, label: str) -> None:
    start = time.perf_counter()
    told, places = await waiting.tell_long_waits(core, core.clock.now())
    seconds = time.perf_counter() - start
    per = f", {seconds / told * 1000:.2f} ms per neighbour told" if told else ""
    print(f"{label}: {told} neighbours and {places} places told in {seconds * 1000:.0f} ms{per}")


async def main(count: int, database: str | None) -> None:
    config = load_config()
    content = Content.load(config)
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(database or Path(folder) / "waits.sqlite3")
        clock = FakeClock()
        core = build_core(config, db, content, clock)
        core.attach(MemoryPlatform())
        places = [p.id for p in content.places if p.id.startswith("nb:")]
        await fill(db, places, count, to_iso(clock.now()))
        clock.advance(timedelta(days=15))
        await timed(core, "first news")
        await timed(core, "same day again")
        clock.advance(timedelta(days=31))
        await timed(core, "a month later")
        await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=20_000)
    parser.add_argument("--database", default=None, help="a PostgreSQL URL; a temporary SQLite file otherwise")
    args = parser.parse_args()
    asyncio.run(main(args.waiting, args.database))
