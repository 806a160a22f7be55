"""Check-ins: noticing who has gone quiet, asking gently, and telling someone who can drop by.

``decisions`` holds the rules as pure functions; ``rounds`` the two scheduled passes (ask; remind and
escalate) and the ladder of who is told; ``answers`` the buttons, /away and /back; ``typed`` an
answer in words (urgent, not fine, away, fine, or a message that did not say); ``helpers`` the
neighbours registered by a helper (/helper); ``quiet_list`` the moderators' /quiet. No other feature
uses this package's insides: it only registers on the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.checkins import answers, helpers, quiet_list, rounds, typed
from bot.checkins.decisions import QuietHours, care_time, parse_payload
from bot.core.router import Context

if TYPE_CHECKING:
    from bot.core.app import Core

__all__ = ["QuietHours", "care_time", "install"]  # what other features may use: the quiet-hours rule

# Verbs of the buttons that a helper presses about the neighbour they registered.
HELPER_VERBS = frozenset({"seen", "drop", "dropyes", "dropno", "new"})
# Verbs of the two buttons under the question asked after an urgent message.
URGENT_VERBS = frozenset({"tell", "notell"})


async def on_button(ctx: Context) -> None:
    """Every ``checkin:<verb>:<id>`` button lands here; anything unknown or stale is answered."""
    parsed = parse_payload(ctx.payload)
    if parsed is None:
        await ctx.reply(ctx.t("choice-expired"))
        return
    verb, number = parsed
    if verb in HELPER_VERBS:
        await helpers.on_helper_button(ctx, verb, number)
    elif verb in URGENT_VERBS:
        await typed.on_button(ctx, verb, number)
    else:
        await answers.on_button(ctx, verb, number)


def install(core: Core) -> None:
    """The whole check-in feature: the two passes, the answers, /away, /back, /helper and /quiet."""
    rounds.install(core)
    core.router.action("checkin", on_button)
    answers.install(core)
    typed.install(core)
    helpers.install(core)
    quiet_list.install(core)
