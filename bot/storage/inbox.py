"""The durable inbox: nothing a platform delivered is lost, nothing is handled twice.

An adapter calls ``accept`` with the events it fetched and the platform cursor that confirms them, in
one transaction; only then does it confirm to the platform (Telegram's next offset, Matrix's since).
The dispatcher takes ``pending`` rows, handles them, and ``finish``es them in the transaction that
stored their effects.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from bot.core.chat import Incoming
from bot.core.clock import to_iso
from bot.storage.database import Database, Row

log = logging.getLogger(__name__)


async def accept(db: Database, platform: str, events: Sequence[Incoming], cursor: str | None, now: datetime) -> int:
    """Store new events (duplicates by external id are ignored) and the cursor; returns how many were new."""
    new = 0
    async with db.transaction():
        new = await db.executemany(
            "INSERT INTO inbox (platform, external_id, event, received_at, chat) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (platform, external_id) DO NOTHING",
            [(platform, event.external_id, event.to_json(), to_iso(now), chat_of(event)) for event in events],
        )
        if cursor is not None:
            await set_cursor(db, platform, cursor)
    return new


def chat_of(event: Incoming) -> str:
    """The chat an event belongs to: a chat's events are handled in order, by one worker at a time."""
    return f"{event.address.platform}|{event.address.chat_id}"


async def reject(db: Database, platform: str, external_id: str, raw: str, error: str, now: datetime) -> None:
    """Keep an update the adapter could not understand, marked failed, so it is seen and not refetched."""
    await db.execute(
        "INSERT INTO inbox (platform, external_id, event, status, error, received_at) "
        "VALUES (?, ?, ?, 'failed', ?, ?) ON CONFLICT (platform, external_id) DO NOTHING",
        (platform, external_id, raw[:10_000], error[:1000], to_iso(now)),
    )


async def pending(db: Database, limit: int = 500) -> list[tuple[int, Incoming]]:
    """The next events to handle, oldest first.

    Read in its own turn, as ``outbox.due`` is: in the middle of another task's transaction the read
    would see rows that may still be rolled back (a phantom event handled, or a different event that
    reuses the id marked done unhandled). Each row is read on its own: one that cannot be read is
    marked failed, in the same turn, instead of stopping the dispatcher at every restart."""
    rows = await db.fetchall_alone("SELECT id, event FROM inbox WHERE status = 'new' ORDER BY id LIMIT ?", (limit,))
    return await read_rows(db, rows)


async def read_rows(db: Database, rows: Sequence[Row]) -> list[tuple[int, Incoming]]:
    """(id, event) of inbox rows, oldest first; a row that cannot be read is marked failed at once."""
    found: list[tuple[int, Incoming]] = []
    unreadable: list[tuple[str, int]] = []
    for row in sorted(rows, key=lambda r: r["id"]):
        try:
            found.append((row["id"], Incoming.from_json(row["event"])))
        except Exception as exc:  # a row written by an older release, or damaged
            log.error("inbox row %s cannot be read: %r", row["id"], exc)
            unreadable.append((f"unreadable: {type(exc).__name__}: {exc}"[:1000], row["id"]))
    if unreadable:
        async with db.transaction():
            await db.executemany("UPDATE inbox SET status = 'failed', event = '', chat = '', error = ? WHERE id = ?",
                                 unreadable)
    return found


async def finish(db: Database, inbox_ids: Sequence[int]) -> None:
    """Mark handled and blank the content and the chat: message texts are not kept once handled."""
    await db.executemany("UPDATE inbox SET status = 'done', event = '', chat = '' WHERE id = ? AND status = 'new'",
                         [(i,) for i in inbox_ids])


async def fail(db: Database, inbox_id: int, error: str) -> None:
    await db.execute("UPDATE inbox SET status = 'failed', event = '', chat = '', error = ? WHERE id = ?",
                     (error[:1000], inbox_id))


async def get_cursor(db: Database, platform: str) -> str | None:
    return await db.scalar("SELECT value FROM cursors WHERE platform = ?", (platform,))


async def set_cursor(db: Database, platform: str, value: str) -> None:
    await db.execute(
        "INSERT INTO cursors (platform, value) VALUES (?, ?) "
        "ON CONFLICT (platform) DO UPDATE SET value = excluded.value",
        (platform, value),
    )


async def counts(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT status, COUNT(*) FROM inbox GROUP BY status")
    return {r[0]: r[1] for r in rows}
