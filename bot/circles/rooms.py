"""Circle rooms: mirror neighbours' words across platforms, follow who leaves, merge quiet circles, and
the daily pass of the waiting (circles that may open, news for those still waiting)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.circles import membership, waiting
from bot.core.scheduler import Job, every

if TYPE_CHECKING:
    from bot.core.app import Core


async def merge_pass(core: Core, now: datetime) -> None:
    async with core.db.transaction():
        await membership.merge_small_circles(core, core.db, now)
        await membership.open_waiting_circles(core, core.db, now)
    await waiting.tell_long_waits(core, now)  # those whose circle could not open (after it committed)


def install(core: Core) -> None:
    core.hooks.on_room_event(membership.on_circle_event)
    core.scheduler.add(Job("merge-small-circles", every(timedelta(days=1)), merge_pass))
    core.router.action("waitkeep", waiting.keep_waiting)
    core.hooks.moderator_action("wait", waiting.show_waiting)
    core.hooks.person_data(waiting.export_wait)
