"""Who may do what, and where: admins > moderators (per neighbourhood) > circle hosts > residents.

Every privileged command asks here, with the place or circle it would act on, so a moderator of one
neighbourhood cannot act on another's circles or members.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.clock import to_iso
from bot.storage import admins as admin_store
from bot.storage import people
from bot.storage.database import Database

# What circle hosts and moderators get in a circle's room, where the platform has power levels (Matrix):
# enough to invite, kick and redact, not to change the room's settings.
ROOM_POWER = 50


async def is_admin(db: Database, admins: list[str], person_id: int) -> bool:
    """Admins are named in the configuration as "platform:user id", or added with ``voisinage admin add``."""
    accounts = [f"{i.platform}:{i.user_id}" for i in await people.identities(db, person_id)]
    return any(account in admins for account in accounts) or await admin_store.any_of(db, accounts)


async def is_moderator(db: Database, admins: list[str], person_id: int, place_id: str | None) -> bool:
    """Moderator of that neighbourhood (or admin). ``place_id`` None means: of any neighbourhood."""
    if await is_admin(db, admins, person_id):
        return True
    if place_id is None:
        return bool(await db.scalar("SELECT 1 FROM roles WHERE person_id = ? AND role = 'moderator'", (person_id,)))
    return bool(
        await db.scalar(
            "SELECT 1 FROM roles WHERE person_id = ? AND role = 'moderator' AND place_id = ?", (person_id, place_id)
        )
    )


async def moderated_places(db: Database, person_id: int) -> list[str]:
    rows = await db.fetchall("SELECT place_id FROM roles WHERE person_id = ? AND role = 'moderator'", (person_id,))
    return [r[0] for r in rows]


async def moderators_of(db: Database, place_id: str) -> list[int]:
    rows = await db.fetchall(
        "SELECT person_id FROM roles WHERE role = 'moderator' AND place_id = ? ORDER BY granted_at", (place_id,)
    )
    return [r[0] for r in rows]


async def admin_ids(db: Database, admins: list[str]) -> list[int]:
    ids = []
    for entry in dict.fromkeys([*admins, *await admin_store.accounts(db)]):
        platform, _, user_id = entry.partition(":")
        person = await people.by_identity(db, platform, user_id)
        if person:
            ids.append(person.id)
    return ids


async def grant_moderator(db: Database, person_id: int, place_id: str, granted_by: int | None, now: datetime) -> None:
    await db.execute(
        "INSERT INTO roles (person_id, role, place_id, granted_by, granted_at) VALUES (?, 'moderator', ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (person_id, place_id, granted_by, to_iso(now)),
    )


async def revoke_moderator(db: Database, person_id: int, place_id: str) -> None:
    await db.execute(
        "DELETE FROM roles WHERE person_id = ? AND role = 'moderator' AND place_id = ?", (person_id, place_id)
    )


async def is_staff(db: Database, admins: list[str], person_id: int) -> bool:
    """A moderator of any neighbourhood, a circle host or an admin: who the privileged commands are for."""
    if await is_moderator(db, admins, person_id, None):
        return True
    return bool(await db.scalar("SELECT 1 FROM circle_members WHERE person_id = ? AND role = 'host'", (person_id,)))


async def is_host(db: Database, person_id: int, circle_id: int) -> bool:
    return bool(
        await db.scalar(
            "SELECT 1 FROM circle_members WHERE person_id = ? AND circle_id = ? AND role = 'host'",
            (person_id, circle_id),
        )
    )


async def hosts_of(db: Database, circle_id: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT person_id FROM circle_members WHERE circle_id = ? AND role = 'host' ORDER BY joined_at", (circle_id,)
    )
    return [r[0] for r in rows]
