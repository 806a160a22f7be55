"""The account budget the Matrix adapter paces itself to (``bot.core.pacing.TokenBucket``)."""

from __future__ import annotations

import asyncio

from bot.core.pacing import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    """Synapse's defaults: 10 at once, then one every 5 s; a refusal takes nothing."""
    clock = Clock()
    bucket = TokenBucket(0.2, 10, clock=clock)
    assert [bucket.reserve() for _ in range(10)] == [0.0] * 10
    assert bucket.reserve() == 5.0
    assert bucket.reserve() == 5.0  # asking again does not take a slot
    clock.now += 4.0
    assert abs(bucket.reserve() - 1.0) < 1e-9
    clock.now += 1.0
    assert bucket.reserve() == 0.0 and bucket.reserve() == 5.0


def test_the_server_wait_holds_the_whole_account_then_one_at_a_time() -> None:
    """Reproduces: rooms backed off one by one while others took every slot. A refusal holds the
    account for the wait the server named; after it one action, then the rate (not a burst)."""
    clock = Clock()
    bucket = TokenBucket(0.2, 10, clock=clock)
    bucket.hold(12.5)
    assert bucket.reserve() == 12.5 and bucket.held_for() == 12.5
    clock.now += 12.5
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 5.0


def test_no_limit_when_the_homeserver_exempts_the_bot() -> None:
    clock = Clock()
    bucket = TokenBucket(0.0, 10, clock=clock)
    assert all(bucket.reserve() == 0.0 for _ in range(1000))
    bucket.hold(2.0)  # a refusal all the same (its admin changed their mind): waited out
    assert bucket.reserve() == 2.0
    clock.now += 2.0
    assert bucket.reserve() == 0.0


def test_take_waits_for_a_slot() -> None:
    clock = Clock()
    bucket = TokenBucket(0.5, 1, clock=clock)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    async def two() -> None:
        await bucket.take(sleep)
        await bucket.take(sleep)

    asyncio.run(two())
    assert slept == [2.0]
