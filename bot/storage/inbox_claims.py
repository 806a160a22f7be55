"""Inbox events claimed per chat, so several workers share the inbox (issue 16).

A worker claims the oldest waiting events, skipping every chat another worker holds a live claim in:
a chat's events are then handled in order, by one worker at a time, and any worker may handle any chat.
A claim lasts ``CLAIM_TTL`` and is renewed by each transaction that handles the events; a worker that
dies stops renewing, and once its claims have expired another worker takes the chat over.

Never handled twice: the transaction that handles events first ``confirm``s that they are still
claimed by this worker and still waiting (renewing the claim), then handles them and marks them done,
all in one transaction. On SQLite nobody else writes during it; on PostgreSQL the confirming UPDATE
locks the rows until the commit, and a worker taking them over then finds them done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core.chat import Incoming
from bot.storage import inbox
from bot.storage.database import Database
from bot.storage.leases import stamp, take_turn

CLAIM_TTL = timedelta(seconds=30)

# The rows are picked once, in a CTE, then updated. On PostgreSQL a LIMIT inside ``WHERE id IN (SELECT
# … LIMIT ? FOR UPDATE SKIP LOCKED)`` may be re-scanned by the plan (a semi-join), and each scan picks
# other rows: one claim took every waiting event. A MATERIALIZED CTE is evaluated exactly once.
_CLAIM = (
    "WITH picked AS {materialized}("
    " SELECT i.id FROM inbox i WHERE i.status = 'new' AND NOT EXISTS ("
    "  SELECT 1 FROM inbox e WHERE e.chat = i.chat AND e.status = 'new' AND e.claimed_by IS NOT NULL"
    "  AND e.claimed_by <> ? AND e.claimed_until >= ?)"
    " ORDER BY i.id LIMIT ?{lock}) "
    "UPDATE inbox SET claimed_by = ?, claimed_until = ? WHERE status = 'new' AND id IN (SELECT id FROM picked) "
    "RETURNING id, event"
)


async def claim(db: Database, worker: str, now: datetime, limit: int = 500) -> list[tuple[int, Incoming]]:
    """Claim up to ``limit`` of the oldest waiting events of chats no other worker holds; returns them,
    oldest first. Claims are taken one worker at a time (``take_turn``), so two workers never both
    find a chat free; on PostgreSQL the rows are also taken ``FOR UPDATE SKIP LOCKED``: rows a
    handling transaction holds are passed over instead of waited for."""
    postgresql = db.engine == "postgresql"
    sql = _CLAIM.format(materialized="MATERIALIZED " if postgresql else "",
                        lock=" FOR UPDATE OF i SKIP LOCKED" if postgresql else "")
    async with db.transaction():
        await take_turn(db, "inbox")
        rows = await db.fetchall(sql, (worker, stamp(now), limit, worker, stamp(now + CLAIM_TTL)))
    return await inbox.read_rows(db, rows)


async def confirm(db: Database, worker: str, inbox_ids: Sequence[int], now: datetime) -> set[int]:
    """Inside the transaction that will handle them: which of ``inbox_ids`` are still this worker's and
    still waiting (their claim renewed). The others were taken over or handled: skip them."""
    if not inbox_ids:
        return set()
    marks = ", ".join("?" * len(inbox_ids))
    rows = await db.fetchall(
        f"UPDATE inbox SET claimed_until = ? WHERE id IN ({marks}) AND status = 'new' AND claimed_by = ? "
        "RETURNING id",
        (stamp(now + CLAIM_TTL), *inbox_ids, worker),
    )
    return {r[0] for r in rows}
