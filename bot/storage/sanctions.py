"""Warnings, bans and mutes: what moderators (or the anti-flood rule) decided about a person."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.clock import to_iso
from bot.storage.database import Database

BAN_SECRET = "ban-accounts"


def account_key(secret: bytes, platform: str, user_id: str) -> str:
    """A ban remembers accounts only as a keyed hash: enough to recognise them, nothing to read — and,
    unlike a plain hash of a numeric Telegram id, not reversible by trying every id without the
    deployment's secret."""
    return hmac.new(secret, f"{platform}:{user_id}".encode(), hashlib.sha256).hexdigest()


def legacy_key(platform: str, user_id: str) -> str:
    """How accounts were hashed before (plain SHA-256), to recognise bans made then."""
    return hashlib.sha256(f"{platform}:{user_id}".encode()).hexdigest()


async def deployment_secret(db: Database, name: str = BAN_SECRET) -> bytes:
    """A random secret of this deployment, generated on first use and kept in the database (it goes with
    the data it protects: a backup restored elsewhere still recognises its bans)."""
    await db.execute(
        "INSERT INTO deployment_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
        (name, secrets.token_hex(32), to_iso(datetime.now(UTC))),
    )
    return bytes.fromhex(await db.scalar("SELECT value FROM deployment_secrets WHERE name = ?", (name,)))


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
    secret = await deployment_secret(db)
    await db.executemany(
        "INSERT INTO banned_accounts (ban_id, account, scheme) VALUES (?, ?, 'hmac') ON CONFLICT DO NOTHING",
        [(ban_id, account_key(secret, p, u)) for p, u in accounts],
    )
    return ban_id


# What SQLite's ``UPDATE OR IGNORE`` did, portably: a row whose ban already holds the keyed hash is left
# alone (its (ban_id, account) key would be taken twice); its plain hash is deleted after.
_NOT_TAKEN = (
    "AND NOT EXISTS (SELECT 1 FROM banned_accounts k WHERE k.ban_id = banned_accounts.ban_id AND k.account = ?)"
)


async def is_banned(db: Database, platform: str, user_id: str) -> bool:
    """Recognises keyed hashes, and plain ones from before (rewritten as keyed now that the account is
    known again)."""
    secret = await deployment_secret(db)
    keyed, legacy = account_key(secret, platform, user_id), legacy_key(platform, user_id)
    await db.execute(
        f"UPDATE banned_accounts SET account = ?, scheme = 'hmac' WHERE account = ? AND scheme = 'sha256' {_NOT_TAKEN}",
        (keyed, legacy, keyed),
    )
    await db.execute("DELETE FROM banned_accounts WHERE account = ? AND scheme = 'sha256'", (legacy,))
    return bool(await db.scalar(
        "SELECT 1 FROM banned_accounts a JOIN bans b ON b.id = a.ban_id WHERE a.account = ? AND a.scheme = 'hmac' "
        "AND b.lifted_at IS NULL",
        (keyed,),
    ))


async def rehash_known(db: Database) -> int:
    """Plain hashes of banned people still on record are rewritten as keyed ones from their accounts
    (the rest wait until the account is seen again: a hash cannot be turned into another)."""
    secret = await deployment_secret(db)
    rows = await db.fetchall(
        "SELECT a.ban_id, a.account, i.platform, i.user_id FROM banned_accounts a JOIN bans b ON b.id = a.ban_id "
        "JOIN identities i ON i.person_id = b.person_id WHERE a.scheme = 'sha256'"
    )
    done = 0
    for row in rows:
        if legacy_key(row["platform"], row["user_id"]) == row["account"]:
            keyed = account_key(secret, row["platform"], row["user_id"])
            done += await db.execute(
                "UPDATE banned_accounts SET account = ?, scheme = 'hmac' WHERE ban_id = ? AND account = ? "
                + _NOT_TAKEN,
                (keyed, row["ban_id"], row["account"], keyed),
            )
    return done


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
