"""The Telegram adapter's own records (migration 040): adopted groups, invite links, strangers.

Every function runs inside the caller's transaction, like the core's storage modules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import to_iso
from bot.storage.database import Database

PLATFORM = "telegram"


@dataclass(frozen=True)
class Group:
    chat_id: str
    place_id: str
    title: str
    circle_id: int | None


@dataclass(frozen=True)
class Stranger:
    id: int
    chat_id: str
    user_id: str
    first_name: str
    circle_id: int | None


# ---- activity, blocking, migration (applied with the offset, at poll time) -----------------------


async def touch(db: Database, user_ids: list[str], now: datetime) -> None:
    """A reaction or an edit: that person is around. Unknown users change nothing."""
    await db.executemany(
        "UPDATE people SET last_active_at = ? WHERE id IN "
        "(SELECT person_id FROM identities WHERE platform = ? AND user_id = ?)",
        [(to_iso(now), PLATFORM, user_id) for user_id in user_ids],
    )


async def set_blocked(db: Database, private_chat_id: str, blocked: bool, now: datetime) -> None:
    """The user blocked the bot (or started it again): sends to them stop (or may resume)."""
    await db.execute(
        "UPDATE identities SET unreachable_at = ? WHERE platform = ? AND private_chat_id = ?",
        (to_iso(now) if blocked else None, PLATFORM, private_chat_id),
    )


async def migrate(db: Database, old_chat_id: str, new_chat_id: str) -> None:
    """A group became a supergroup with a new id: the circle, the pool and the links follow it."""
    for table in ("circle_rooms", "telegram_groups", "telegram_invites", "telegram_strangers"):
        where = "platform = ? AND chat_id = ?" if table == "circle_rooms" else "chat_id = ?"
        params = (new_chat_id, PLATFORM, old_chat_id) if table == "circle_rooms" else (new_chat_id, old_chat_id)
        await db.execute(f"UPDATE {table} SET chat_id = ? WHERE {where}", params)  # table names are fixed above
    await db.execute(
        "UPDATE outbox SET chat_id = ? WHERE platform = ? AND chat_id = ? AND status = 'pending'",
        (new_chat_id, PLATFORM, old_chat_id),
    )


# ---- invite links -------------------------------------------------------------------------------


async def record_invite(db: Database, link: str, chat_id: str, user_id: str, now: datetime) -> None:
    await db.execute(
        "INSERT INTO telegram_invites (link, chat_id, user_id, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (link) DO NOTHING",
        (link, chat_id, user_id, to_iso(now)),
    )


async def use_invite(db: Database, link: str, user_id: str, now: datetime) -> bool:
    """Mark a link used by ``user_id``; True when it had been issued to that very person."""
    owner = await db.scalar("SELECT user_id FROM telegram_invites WHERE link = ?", (link,))
    if owner is None:
        return False
    await db.execute("UPDATE telegram_invites SET used_at = ? WHERE link = ? AND used_at IS NULL", (to_iso(now), link))
    return owner == user_id


# ---- the pool of adopted groups -----------------------------------------------------------------


async def group(db: Database, chat_id: str) -> Group | None:
    row = await db.fetchone(
        "SELECT chat_id, place_id, title, circle_id FROM telegram_groups WHERE chat_id = ?", (chat_id,)
    )
    return Group(**dict(row)) if row else None


async def adopt(db: Database, chat_id: str, place_id: str, title: str, person_id: int | None, now: datetime) -> None:
    await db.execute(
        "INSERT INTO telegram_groups (chat_id, place_id, title, adopted_by, adopted_at, rights_checked_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET place_id = excluded.place_id, "
        "title = excluded.title, rights_checked_at = excluded.rights_checked_at",
        (chat_id, place_id, title[:128], person_id, to_iso(now), to_iso(now)),
    )


async def free_groups(db: Database, place_id: str) -> list[str]:
    rows = await db.fetchall(
        "SELECT chat_id FROM telegram_groups WHERE place_id = ? AND circle_id IS NULL ORDER BY adopted_at, chat_id",
        (place_id,),
    )
    return [r[0] for r in rows]


async def give(db: Database, chat_id: str, circle_id: int) -> None:
    await db.execute("UPDATE telegram_groups SET circle_id = ? WHERE chat_id = ?", (circle_id, chat_id))
    await db.execute(
        "INSERT INTO circle_rooms (circle_id, platform, chat_id) VALUES (?, ?, ?) "
        "ON CONFLICT (circle_id, platform) DO UPDATE SET chat_id = excluded.chat_id",
        (circle_id, PLATFORM, chat_id),
    )


async def waiting_invites(db: Database) -> dict[int, list[int]]:
    """Invites waiting because their circle has no Telegram group yet: circle id → outbox ids."""
    rows = await db.fetchall(
        "SELECT o.id, o.payload FROM outbox o WHERE o.platform = ? AND o.kind = 'invite' AND o.status = 'pending'",
        (PLATFORM,),
    )
    waiting: dict[int, list[int]] = {}
    for item_id, payload in rows:
        circle_id = int(json.loads(payload)["circle_id"])
        waiting.setdefault(circle_id, []).append(item_id)
    if not waiting:
        return {}
    with_room = {
        r[0] for r in await db.fetchall("SELECT circle_id FROM circle_rooms WHERE platform = ?", (PLATFORM,))
    }
    return {c: ids for c, ids in sorted(waiting.items()) if c not in with_room}


async def due_now(db: Database, item_ids: list[int], now: datetime) -> None:
    await db.executemany(
        "UPDATE outbox SET not_before = ? WHERE id = ? AND status = 'pending'", [(to_iso(now), i) for i in item_ids]
    )


# ---- strangers ----------------------------------------------------------------------------------


async def add_stranger(
    db: Database, chat_id: str, user_id: str, first_name: str, circle_id: int, now: datetime
) -> int:
    return await db.insert(
        "INSERT INTO telegram_strangers (chat_id, user_id, first_name, circle_id, seen_at) VALUES (?, ?, ?, ?, ?)",
        (chat_id, user_id, first_name[:64], circle_id, to_iso(now)),
    )


async def pending_strangers(db: Database, limit: int = 20) -> list[Stranger]:
    rows = await db.fetchall(
        "SELECT id, chat_id, user_id, first_name, circle_id FROM telegram_strangers "
        "WHERE removed_at IS NULL AND error IS NULL ORDER BY id LIMIT ?",
        (limit,),
    )
    return [Stranger(**dict(r)) for r in rows]


async def stranger_done(db: Database, stranger_id: int, now: datetime, error: str | None = None) -> None:
    await db.execute(
        "UPDATE telegram_strangers SET removed_at = ?, error = ? WHERE id = ?",
        (None if error else to_iso(now), error, stranger_id),
    )
