"""Leases and the shared send budget (migration 102): one conditional UPSERT each, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.storage import leases, send_rate
from bot.storage.database import Database

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=15)


pytestmark = pytest.mark.both_engines


async def test_a_free_lease_is_taken_and_a_held_one_is_refused(db: Database) -> None:
    assert await leases.acquire(db, "intake:telegram", "a", T0, TTL)
    assert not await leases.acquire(db, "intake:telegram", "b", T0 + timedelta(seconds=5), TTL)
    assert await leases.holder_of(db, "intake:telegram", T0 + timedelta(seconds=5)) == "a"


async def test_the_holder_renews_and_keeps_its_start(db: Database) -> None:
    assert await leases.acquire(db, "intake:telegram", "a", T0, TTL)
    assert await leases.acquire(db, "intake:telegram", "a", T0 + timedelta(seconds=10), TTL)
    # renewed: at T0+20 it would have expired without the renewal
    assert not await leases.acquire(db, "intake:telegram", "b", T0 + timedelta(seconds=20), TTL)
    [lease] = await leases.all_leases(db)
    assert lease.acquired_at == T0 and lease.expires_at == T0 + timedelta(seconds=25)


async def test_an_expired_lease_is_taken_over(db: Database) -> None:
    assert await leases.acquire(db, "intake:telegram", "a", T0, TTL)
    later = T0 + TTL + timedelta(milliseconds=1)
    assert await leases.acquire(db, "intake:telegram", "b", later, TTL)
    assert await leases.holder_of(db, "intake:telegram", later) == "b"
    assert not await leases.acquire(db, "intake:telegram", "a", later, TTL)  # the old holder does not get it back
    [lease] = await leases.all_leases(db)
    assert lease.acquired_at == later


async def test_release_frees_at_once_and_only_for_the_holder(db: Database) -> None:
    assert await leases.acquire(db, "rooms:matrix", "a", T0, TTL)
    assert not await leases.release(db, "rooms:matrix", "b")
    assert await leases.release(db, "rooms:matrix", "a")
    assert await leases.acquire(db, "rooms:matrix", "b", T0, TTL)


async def test_alive_workers_are_those_whose_lease_has_not_expired(db: Database) -> None:
    await leases.acquire(db, "worker:a", "a", T0, TTL)
    await leases.acquire(db, "worker:b", "b", T0 + timedelta(seconds=10), TTL)
    await leases.acquire(db, "intake:telegram", "a", T0, TTL)
    assert await leases.alive_workers(db, T0 + timedelta(seconds=5)) == ["a", "b"]
    assert await leases.alive_workers(db, T0 + timedelta(seconds=20)) == ["b"]


async def test_claim_turns_are_not_leases_to_list(db: Database) -> None:
    """On PostgreSQL the claims take turns on a row of ``leases`` (no holder, no time): ``voisinage
    status`` lists the leases, and must not trip on it."""
    await leases.acquire(db, "intake:telegram", "a", T0, TTL)
    async with db.transaction():
        await leases.take_turn(db, "inbox")
    assert [lease.name for lease in await leases.all_leases(db)] == ["intake:telegram"]


async def test_two_connections_share_one_send_budget(database: str) -> None:
    """Two workers (two connections to one database) asking for slots at the same moment get slots one
    interval apart, never the same: the platform's rate is one budget, not one per worker."""
    first = await Database.open(database)
    second = await Database.open(database)
    try:
        slots = []
        for i in range(6):
            db = first if i % 2 else second
            slots.append(await send_rate.take_slot(db, "telegram", 1000.0, 0.1))
        assert slots == pytest.approx([1000.0 + 0.1 * i for i in range(6)])
        # after a quiet moment, no burst is owed: the next slot is now
        assert await send_rate.take_slot(first, "telegram", 2000.0, 0.1) == pytest.approx(2000.0)
        assert await send_rate.take_slot(second, "matrix", 2000.0, 5.0) == pytest.approx(2000.0)
    finally:
        await first.close()
        await second.close()
