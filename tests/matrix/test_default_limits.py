"""Eight residents onboarding at once on a Synapse with its DEFAULT rate limits (a plain bot account
on a homeserver whose admin did nothing): the figure DESIGN.md asks for.

Slow by nature (Synapse lets the bot's account send 0.2 events a second after a burst of 10, and
joins, invitations and messages all count), but it runs with the suite: it is what residents meet.

Measured before the account budget: 0 of 8 placed within 150 s, 612–723 s for all 8, 67–144
refusals. With the budget and the old onboarding (8 notices before the invitation): 378–381 s. With
the short onboarding (the opening message asks consent and offers the other language; then the place,
the interests, the check-ins, the welcome): each resident costs the bot's account 7 events before
their invitation (its join of the private chat, 5 notices, the invitation; the first one's invitation
is part of the room's creation), 8 × 7 = 56 events, of which 10 go at once and the rest at one per
5 s: (56 − 10) × 5 s = 230 s, the floor, plus the residents' own typing and syncing. The circle room's
introductions (one per resident after the first) wait for the answers (``answers_first``); had they
their 20 % share, they would add up to 7 × 5 s (262 s measured). ``LAST_INVITE_S`` is DESIGN.md's
target, met in every run so far (236–239 s); the floor leaves 10 s for eight residents' own round trips,
so the assertion allows ``MACHINE_NOISE_S`` more for a loaded machine: one more bot message per
resident (+40 s) or a return to per-room back-off (+370 s) still fails it. These tests run with
``open_with`` 1 (tests/matrix/conftest.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import pytest

from .harness import Bot, Resident, choice_number, circles_of, eventually

RESIDENTS = 8
LAST_INVITE_S = 240.0  # DESIGN.md's target
MACHINE_NOISE_S = 15.0  # residents' syncs and typing on a busy machine; the bot's own events are 230 s
MAX_NOTICES_BEFORE_INVITE = 6  # 5, and 6 for whoever waited for the circle to open
PATIENCE_S = 500.0


@dataclass
class Outcome:
    resident: Resident
    dm: str
    seconds: float  # from saying hello to the circle's invitation
    notices_before_invite: int
    sent: list[str]  # the event ids of what the resident wrote


async def _next_notice(person: Resident, dm: str, bot: Bot, seen: int, wanted: str | None) -> dict:
    """The bot's newest notice after the first ``seen`` ones (and holding ``wanted`` when given)."""

    async def arrived() -> dict | None:
        await person.sync(timeout_ms=3_000)
        notices = person.messages(dm, bot.user_id)
        if len(notices) <= seen:
            return None
        last = notices[-1]
        return last if wanted is None or wanted.lower() in last["content"]["body"].lower() else None

    return await eventually(arrived, PATIENCE_S, f"the bot's answer to {person.user_id}")


async def _onboard_patiently(person: Resident, bot: Bot) -> Outcome:
    """What a person does in Element, answering as soon as the bot asks, however long it takes."""
    began = time.monotonic()
    dm = await person.open_chat_with(bot.user_id)
    sent: list[str] = []
    answers = [("Oui", None), (None, "belleville"), ("Continuer", None), ("animateur", None)]
    answered = 0  # the bot's notices already there when the resident last answered
    for label, typed in answers:
        question = await _next_notice(person, dm, bot, answered, label)
        answered = len(person.messages(dm, bot.user_id))
        text = typed if typed is not None else choice_number(question["content"]["body"], label)
        sent.append(await person.say(dm, text))
    room = await person.wait_invite(timeout=PATIENCE_S)
    seconds = time.monotonic() - began
    await person.join(room)
    sent.append(await person.say(room, "Bonjour à tous !"))
    return Outcome(person, dm, seconds, len(person.messages(dm, bot.user_id)), sent)


@pytest.mark.slow
@pytest.mark.parametrize("synapse", ["default limits"], indirect=True)
async def test_eight_residents_at_once_under_default_limits(bot: Bot, resident, caplog) -> None:
    caplog.set_level(logging.INFO, logger="adapters.matrix.adapter")
    crowd = [await resident(f"voisin{i}") for i in range(RESIDENTS)]
    outcomes = await asyncio.gather(*(_onboard_patiently(person, bot) for person in crowd))

    figures = sorted(round(o.seconds) for o in outcomes)
    print(f"\n8 residents under Synapse's default limits: invited after {figures} s; "
          f"bot notices before the invite: {[o.notices_before_invite for o in outcomes]}; "
          f"M_LIMIT_EXCEEDED met: {bot.adapter.rate_limited}")

    # All in one circle, the last within the target.
    circles = await circles_of(bot.core, [o.resident.user_id for o in outcomes])
    assert len(circles) == 1, circles
    assert max(o.seconds for o in outcomes) <= LAST_INVITE_S + MACHINE_NOISE_S, figures
    assert all(o.notices_before_invite <= MAX_NOTICES_BEFORE_INVITE for o in outcomes)

    # Nothing lost: every word each resident wrote is in the inbox, handled; every bot item went out.
    async def all_stored() -> bool:
        wanted = {event_id for o in outcomes for event_id in o.sent}
        rows = await bot.rows("SELECT external_id, status FROM inbox WHERE platform = 'matrix'")
        done = {external_id for external_id, status in rows if status == "done"}
        return wanted <= done

    await eventually(all_stored, 120, "every resident's message stored and handled")
    await bot.quiet(timeout=300)
    assert await bot.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == 0
    # Every refusal the server made was logged with its room and its wait.
    refusals = [r.getMessage() for r in caplog.records if "M_LIMIT_EXCEEDED" in r.getMessage()]
    assert len(refusals) >= bot.adapter.rate_limited
    assert all(" in !" in line and "waiting" in line for line in refusals)
