"""One sending budget per platform, shared by every worker (migration 102).

A platform's overall limit (Telegram: about 30 messages a second for the whole bot) is the bot's, not
each process's: two workers pacing themselves separately would send twice too fast. The budget is one
row per platform holding the moment the next send may start; each send takes the next slot with one
atomic UPSERT (a row lock on PostgreSQL, the single writer on SQLite), so slots are handed out one
interval apart whoever asks, and a backlog never turns into a burst. This is ``bot.core.pacing.Pacer``'s
rule with its one number kept in the database.
"""

from __future__ import annotations

from bot.storage.database import Database


async def take_slot(db: Database, platform: str, now: float, interval: float) -> float:
    """Reserve the next send slot of ``platform`` (``now`` and the answer: seconds since the epoch);
    returns when that slot starts (``now`` or later: the caller waits until then)."""
    row = await db.fetchall_alone(
        "INSERT INTO send_budget (platform, next_at) VALUES (?, ?) "
        "ON CONFLICT (platform) DO UPDATE SET next_at = "
        "(CASE WHEN send_budget.next_at > ? THEN send_budget.next_at ELSE ? END) + ? RETURNING next_at",
        (platform, now + interval, now, now, interval),
    )
    return float(row[0][0]) - interval
