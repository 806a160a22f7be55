"""The daily check-in pass over 1,000,000 members (target: under 1 s), and the query plan it uses.

    /tmp/venv/bin/python bench/bench_checkin_pass.py [--members 1000000] [--db /tmp/checkins-bench.sqlite3]

Members are bulk-inserted into a file SQLite database (most active in the last days, some quiet: of
those, some already have an open check-in, are away, opted out or unreachable, and the rest are due).
Then it times, on that database:
- the due-members query alone (what the pass reads), and its plan: it must search the partial index
  ``people_checkins_quiet``, never scan ``people``;
- the whole pass as the scheduler runs it: opening the check-ins and queueing every message.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.assemble import build_core
from bot.checkins.rounds import cutoff, daily_pass
from bot.core.app import Content
from bot.core.clock import FakeClock, to_iso
from bot.core.config import load_config
from bot.storage import checkins as store
from bot.storage.database import Database

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 10:00 in Paris, the pass time
QUIET_SHARE = 0.02  # quiet past the threshold
# Of the quiet: already asked (open), away, opted out, unreachable; the rest are due today.
QUIET_KINDS = (("open", 0.45), ("away", 0.10), ("opted_out", 0.10), ("unreachable", 0.05), ("due", 0.30))


def quiet_kind(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for kind, share in QUIET_KINDS:
        total += share
        if roll < total:
            return kind
    return "due"


def populate(path: Path, members: int) -> dict[str, int]:
    """Bulk insert with the plain sqlite3 module: one transaction, executemany, ~1 M rows in seconds."""
    rng = random.Random(1)
    counts: dict[str, int] = {}
    stamp = to_iso(NOW - timedelta(days=60))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    people, identities, checkins, away = [], [], [], []
    for i in range(1, members + 1):
        kind = quiet_kind(rng) if rng.random() < QUIET_SHARE else "active"
        counts[kind] = counts.get(kind, 0) + 1
        days = rng.uniform(11, 40) if kind != "active" else rng.uniform(0, 9.9)
        last = to_iso(NOW - timedelta(days=days))
        people.append((i, f"V{i}", "fr", stamp, "nb:belleville", int(kind != "opted_out"), stamp, last, stamp))
        identities.append(("fake", f"u{i}", i, f"dm:u{i}", stamp if kind == "unreachable" else None))
        if kind == "open":
            checkins.append((i, to_iso(NOW - timedelta(hours=rng.randint(1, 40)))))
        elif kind == "away":
            away.append((i, to_iso(NOW + timedelta(days=rng.randint(1, 20))), stamp))
    with conn:
        conn.executemany("INSERT INTO people (id, first_name, language, consent_at, place_id, checkins, onboarded_at, "
                         "last_active_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", people)
        conn.executemany("INSERT INTO identities (platform, user_id, person_id, private_chat_id, unreachable_at) "
                         "VALUES (?, ?, ?, ?, ?)", identities)
        conn.executemany("INSERT INTO checkins (person_id, asked_at) VALUES (?, ?)", checkins)
        conn.executemany("INSERT INTO checkin_away (person_id, until, set_at) VALUES (?, ?, ?)", away)
    conn.execute("ANALYZE")
    conn.close()
    return counts


async def measure(path: Path) -> None:
    config = load_config()
    db = await Database.open(path)
    core = build_core(config, db, Content.load(config), FakeClock(NOW))
    params = {"now": to_iso(NOW), "cutoff": to_iso(cutoff(core, NOW))}
    plan = await db.fetchall("EXPLAIN QUERY PLAN " + store.DUE_SQL, params)
    print("query plan of the due-members query:")
    for row in plan:
        print("   ", row[3])
    timings = []
    for _ in range(5):
        began = time.perf_counter()
        due = await store.due(db, NOW, cutoff(core, NOW))
        timings.append(time.perf_counter() - began)
    print(f"due-members query: {len(due):,} due, best {min(timings) * 1000:.0f} ms, "
          f"median {sorted(timings)[2] * 1000:.0f} ms (5 runs)")
    began = time.perf_counter()
    opened = await daily_pass(core, NOW)
    elapsed = time.perf_counter() - began
    queued = await db.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
    print(f"whole pass (open check-ins + queue messages, one transaction): {opened:,} asked, "
          f"{queued:,} messages queued, {elapsed * 1000:.0f} ms")
    began = time.perf_counter()
    again = await daily_pass(core, NOW + timedelta(minutes=1))
    print(f"the same pass a minute later (nothing left to ask): {again} asked, "
          f"{(time.perf_counter() - began) * 1000:.0f} ms")
    await db.close()
    verdict = "OK" if elapsed < 1.0 and "people_checkins_quiet" in " ".join(r[3] for r in plan) else "MISSED"
    print(f"target: the pass under 1 s using the index — {verdict}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/voisinage-checkins-bench.sqlite3"))
    args = parser.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(str(args.db) + suffix).unlink(missing_ok=True)
    db = await Database.open(args.db)  # creates the schema through the migrations
    await db.close()
    began = time.perf_counter()
    counts = populate(args.db, args.members)
    print(f"{args.members:,} members inserted in {time.perf_counter() - began:.1f} s: {counts}")
    await measure(args.db)


if __name__ == "__main__":
    asyncio.run(main())
