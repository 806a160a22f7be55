"""/clock (/horloge) moves time only where the platform declares ``move_clock`` (the console): on any
other platform it is refused and time does not move (issue 19, "Trying it")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapters.memory import MemoryPlatform
from bot.core.chat import Capabilities, CommandIn
from bot.core.clock import parse_shift
from tests.core.conftest import Neighbours

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 10:00 in Paris


async def test_a_real_platform_refuses_the_clock(hood: Neighbours) -> None:
    before = hood.clock.now()
    out = await hood.say("alice", "/clock +11d")
    assert "n'existe que dans la console d'essai" in out[0].text
    out = await hood.say("bob", "/horloge +11j", lang="en")
    assert "only exists in the trial console" in out[0].text
    assert hood.clock.now() == before


async def test_a_platform_that_may_move_time_moves_it(hood: Neighbours) -> None:
    trial = MemoryPlatform(platform="trial", capabilities=Capabilities(buttons=True, create_rooms=True,
                                                                       invite_links=False, move_clock=True))
    hood.core.attach(trial)
    before = hood.clock.now()
    await hood.core.receive(trial.event("ann", CommandIn("clock", "+11d")))
    await hood.core.settle()
    assert hood.clock.now() - before == timedelta(days=11)
    assert "Le temps a avancé" in trial.to("dm:ann")[-1].text
    await hood.core.receive(trial.event("ann", CommandIn("clock", "-3d")))
    await hood.core.settle()
    assert hood.clock.now() - before == timedelta(days=11), "never backwards"
    assert "Pour avancer le temps" in trial.to("dm:ann")[-1].text


@pytest.mark.parametrize(("typed", "shift"), [
    ("+11d", timedelta(days=11)), ("11d", timedelta(days=11)), ("+11j", timedelta(days=11)),
    ("+2h", timedelta(hours=2)), ("+30m", timedelta(minutes=30)), ("+1w", timedelta(days=7)),
    ("+1sem", timedelta(days=7)), ("+1d2h", timedelta(days=1, hours=2)), ("+11d 10:00", timedelta(days=11)),
    ("+11d 09:00", timedelta(days=11, hours=23)), ("+1d 8h30", timedelta(days=1, hours=22, minutes=30)),
    ("-3d", None), ("+0d", None), ("soon", None), ("+500d", None), ("+1d 25:00", None), ("", None),
])
def test_shifts_are_read(typed: str, shift: timedelta | None) -> None:
    assert parse_shift(typed, NOW, PARIS) == shift
