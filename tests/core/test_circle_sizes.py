"""Nobody alone (issue 19), applied to storage and rooms: every arrival count from 1 to 40 in one place,
in a random order of interests and platforms, with the deployment's default rules (open with 5, at
most 12). After all have arrived, every circle has 5–12 members and each platform's room holds exactly
the circle's members on that platform; at no moment does a circle room hold one or two people only."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.memory import MemoryPlatform
from bot.assemble import build_core
from bot.circles import membership
from bot.core.app import Content, Core
from bot.core.clock import FakeClock
from bot.core.config import Config, load_config
from bot.storage import circles as circle_store
from bot.storage import people
from bot.storage.database import Database

TOPICS = ["jardin", "belote", "lecture", "cuisine", "marche"]


@pytest.fixture
async def core(tmp_path: Path, content: Content) -> AsyncIterator[Core]:
    config: Config = load_config()  # the real default: open_with = 5
    db = await Database.open(tmp_path / "sizes.sqlite3")
    core = build_core(config, db, content, FakeClock())
    core.attach(MemoryPlatform(platform="fake"))
    core.attach(MemoryPlatform(platform="other"))
    yield core
    await db.close()


async def arrive(core: Core, n: int, rng: random.Random) -> None:
    platform = rng.choice(["fake", "other"])
    db, now = core.db, core.clock.now()
    async with db.transaction():
        person = await people.create(db, platform, f"u{n}", f"dm:u{n}", f"N{n}", "fr", now)
        await people.update(db, person.id, place_id="nb:belleville", onboarded_at=now.isoformat(),
                            interests=rng.sample(TOPICS, rng.randint(0, 2)))
        person = await people.get(db, person.id)
        assert person is not None
        await membership.place(core, db, person, now)
    await core.settle()


async def rooms_match_circles(core: Core) -> list[int]:
    """Each platform's room of each circle holds its members on that platform; returns the sizes."""
    sizes = []
    for circle in await circle_store.open_in_place(core.db, "nb:belleville"):
        members = await circle_store.member_ids(core.db, circle.id)
        sizes.append(len(members))
        for name, platform in core.transports.items():
            assert isinstance(platform, MemoryPlatform)
            expected = set()
            for pid in members:
                expected |= {i.user_id for i in await people.identities(core.db, pid) if i.platform == name}
            room = await circle_store.room_on(core.db, circle.id, name)
            assert (platform.rooms.get(room.chat_id, set()) if room else set()) == expected, (name, circle.id)
        everyone = sum(len(p.rooms.get(r.chat_id, set())) for r in await circle_store.rooms(core.db, circle.id)
                       for n, p in core.transports.items() if r.platform == n)
        assert everyone == 0 or everyone >= 3, "nobody alone or with one other person in a circle's rooms"
    return sizes


@pytest.mark.parametrize("count", range(1, 41))
async def test_every_arrival_count_gives_circles_of_five_to_twelve(core: Core, count: int) -> None:
    rng = random.Random(count)
    for n in range(count):
        await arrive(core, n, rng)
        await rooms_match_circles(core)
    sizes = await rooms_match_circles(core)
    waiting = await circle_store.waiting(core.db, "nb:belleville")
    if count >= 6:
        assert sizes and all(5 <= s <= 12 for s in sizes) and not waiting, sizes
    assert sum(sizes) + len(waiting) == count


async def test_those_waiting_are_told_and_the_fifth_opens_the_circle(core: Core) -> None:
    rng = random.Random(1)
    for n in range(4):
        await arrive(core, n, rng)
    fake, other = core.transports["fake"], core.transports["other"]
    first = [m.text for p in (fake, other) for m in p.to("dm:u0")]
    assert len(first) == 1 and "vous êtes le premier, il en manque 4" in first[0]
    fourth = [m.text for p in (fake, other) for m in p.to("dm:u3")]
    assert len(fourth) == 1 and "vous êtes 4, il en manque 1" in fourth[0]
    assert not any(p.rooms for p in (fake, other))
    await arrive(core, 4, rng)
    assert len(await circle_store.open_in_place(core.db, "nb:belleville")) == 1
    welcome = [m.text for p in (fake, other) for m in p.to("dm:u0")][-1]
    assert "Bienvenue dans le cercle" in welcome and all(f"N{i}" in welcome for i in range(1, 5))


async def test_a_small_place_opens_with_three_after_two_weeks(core: Core) -> None:
    from datetime import timedelta

    rng = random.Random(2)
    for n in range(3):
        await arrive(core, n, rng)
    core.clock.advance(timedelta(days=13))
    async with core.db.transaction():
        assert await membership.open_waiting_circles(core, core.db, core.clock.now()) == []
    core.clock.advance(timedelta(days=1))
    async with core.db.transaction():
        assert len(await membership.open_waiting_circles(core, core.db, core.clock.now())) == 1
    await core.settle()
    assert await rooms_match_circles(core) == [3]
