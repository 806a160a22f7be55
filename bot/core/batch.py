"""What the core keeps while it handles one batch of inbox events in one transaction.

It lives exactly as long as the transaction: a batch that is rolled back takes it with it, so nothing
remembered for a batch (who was active, which rooms a message was written in) can leak into the next
one or into another ``Core``.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.chat import Address, Incoming, TextIn
from bot.storage import people
from bot.storage.database import Database


class Batch:
    def __init__(self) -> None:
        self.seen: dict[int, datetime] = {}
        # Group messages of the batch: (keys asked, what was found); None once membership may have changed.
        self._rooms: tuple[set[people.RoomKey], dict[people.RoomKey, people.InRoom]] | None = None

    def record_activity(self, person_id: int, now: datetime) -> None:
        """Last activity is kept for the batch and written with it, not one UPDATE per message."""
        self.seen[person_id] = now

    async def flush_activity(self, db: Database) -> None:
        if self.seen:
            await people.touch_many(db, self.seen)
            self.seen.clear()

    async def prefetch_rooms(self, db: Database, events: list[Incoming]) -> None:
        """What every message of the batch written in a group needs (its circle, that circle's rooms,
        the sender), in one query instead of one per message."""
        keys = {(e.address.platform, e.address.chat_id, e.address.user_id) for e in events if only_talk(e)}
        self._rooms = (keys, await people.in_rooms(db, list(keys))) if keys else None

    async def room_context(self, db: Database, address: Address) -> people.InRoom | None:
        key = (address.platform, address.chat_id, address.user_id)
        if self._rooms is not None and key in self._rooms[0]:
            return self._rooms[1].get(key)
        return await people.in_room(db, *key)

    def handled(self, event: Incoming) -> None:
        """After each event: one that is not plain talk may have changed who is in which circle."""
        if not only_talk(event):
            self._rooms = None


def only_talk(event: Incoming) -> bool:
    """Words written in a group: handling them cannot change who is in which circle."""
    return not event.address.private and isinstance(event.body, TextIn)
