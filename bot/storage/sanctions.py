"""Warnings, bans and mutes: what moderators (or the anti-flood rule) decided about a person."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database


def account_key(platform: str, user_id: str) -> str:
    """A ban remembers accounts only as a hash: enough to recognise them, nothing to read."""
    return hashlib.sha256(f"{platform}:{user_id}".encode()).hexdigest()


# ---- warnings -----------------------------------------------------------------------------------


async def warn(db: Database, person_id: int, place_id: str, given_by: int, report_id: int | None,
               now: datetime) -> int:
    """Record a warning; returns how many the person has now."""
    await db.execute(
        "INSERT INTO warnings (person_id, place_id, given_by, report_id, created_at) VALUES (?, ?, ?, ?, ?)",
        (person_id, place_id, given_by, report_id, to_iso(now)),
    )
    return await warning_count(db, person_id)


async def warning_count(db: Database, person_id: int) -> int:
    return int(await db.scalar("SELECT COUNT(*) FROM warnings WHERE person_id = ?", (person_id,)))


async def delete_warnings_older_than(db: Database, before: datetime) -> int:
    return await db.execute("DELETE FROM warnings WHERE created_at < ?", (to_iso(before),))


# ---- bans ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ban:
    id: int
    person_id: int | None
    place_id: str
    reason: str
    banned_by: int | None
    created_at: str
    lifted_at: str | None


async def ban(db: Database, person_id: int, accounts: list[tuple[str, str]], place_id: str, reason: str,
              banned_by: int, now: datetime) -> int:
    ban_id = await db.insert(
        "INSERT INTO bans (person_id, place_id, reason, banned_by, created_at) VALUES (?, ?, ?, ?, ?)",
        (person_id, place_id, reason[:200], banned_by, to_iso(now)),
    )
    await db.executemany(
        "INSERT INTO banned_accounts (ban_id, account) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(ban_id, account_key(p, u)) for p, u in accounts],
    )
    return ban_id


async def is_banned(db: Database, platform: str, user_id: str) -> bool:
    return bool(await db.scalar(
        "SELECT 1 FROM banned_accounts a JOIN bans b ON b.id = a.ban_id WHERE a.account = ? AND b.lifted_at IS NULL",
        (account_key(platform, user_id),),
    ))


async def get_ban(db: Database, ban_id: int) -> Ban | None:
    row = await db.fetchone("SELECT * FROM bans WHERE id = ?", (ban_id,))
    return Ban(**dict(row)) if row else None


async def active_bans(db: Database, place_ids: list[str] | None, limit: int = 30) -> list[Ban]:
    if place_ids is None:
        rows = await db.fetchall("SELECT * FROM bans WHERE lifted_at IS NULL ORDER BY id DESC LIMIT ?", (limit,))
    elif not place_ids:
        return []
    else:
        marks = ",".join("?" * len(place_ids))
        rows = await db.fetchall(
            f"SELECT * FROM bans WHERE lifted_at IS NULL AND place_id IN ({marks}) ORDER BY id DESC LIMIT ?",
            (*place_ids, limit),
        )
    return [Ban(**dict(r)) for r in rows]


async def lift(db: Database, ban_id: int, now: datetime) -> bool:
    changed = await db.execute(
        "UPDATE bans SET lifted_at = ? WHERE id = ? AND lifted_at IS NULL", (to_iso(now), ban_id)
    )
    return changed == 1


# ---- mutes --------------------------------------------------------------------------------------


async def mute(db: Database, person_id: int, circle_id: int, until: datetime, reason: str, now: datetime) -> None:
    await db.execute(
        "INSERT INTO mutes (person_id, circle_id, until, reason, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (person_id) DO UPDATE SET circle_id = excluded.circle_id, until = excluded.until, "
        "reason = excluded.reason, created_at = excluded.created_at",
        (person_id, circle_id, to_iso(until), reason, to_iso(now)),
    )


async def delete_expired_mutes(db: Database, now: datetime) -> int:
    return await db.execute("DELETE FROM mutes WHERE until <= ?", (to_iso(now),))


# ---- privacy ------------------------------------------------------------------------------------


async def export(db: Database, person_id: int) -> dict[str, object]:
    warnings = await db.fetchall("SELECT place_id, created_at FROM warnings WHERE person_id = ?", (person_id,))
    mutes = await db.fetchall("SELECT until, reason FROM mutes WHERE person_id = ?", (person_id,))
    bans = await db.fetchall("SELECT place_id, reason, created_at, lifted_at FROM bans WHERE person_id = ?",
                             (person_id,))
    return {"warnings": [dict(r) for r in warnings], "mutes": [dict(r) for r in mutes],
            "bans": [dict(r) for r in bans]}


async def erase(db: Database, person_id: int) -> None:
    """Warnings and mutes go; a ban stays as hashed accounts only (it must outlive /forget to work)."""
    await db.execute("DELETE FROM warnings WHERE person_id = ?", (person_id,))
    await db.execute("UPDATE warnings SET given_by = NULL WHERE given_by = ?", (person_id,))
    await db.execute("DELETE FROM mutes WHERE person_id = ?", (person_id,))
    await db.execute("UPDATE bans SET person_id = NULL, reason = '' WHERE person_id = ?", (person_id,))
    await db.execute("UPDATE bans SET banned_by = NULL WHERE banned_by = ?", (person_id,))
