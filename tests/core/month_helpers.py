"""What the month simulations share: everyday messages in circles, written as the core batches them."""

from __future__ import annotations

from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database


async def touch_due(db: Database, activity: dict[int, list[datetime]], now: datetime) -> list[int]:
    """Who wrote in their circle by ``now`` (their due moments are used up): last activity written in
    one statement, as ``people.touch_many`` does for a batch. Returns their ids."""
    active = []
    for person_id, moments in activity.items():
        while moments and moments[0] <= now:
            moments.pop(0)
            active.append(person_id)
    if active:
        async with db.transaction():
            await db.executemany("UPDATE people SET last_active_at = ? WHERE id = ?",
                                 [(to_iso(now), person_id) for person_id in active])
    return active
