"""A neighbourhood with roles for the moderation tests: an admin, moderators, a host, residents."""

from __future__ import annotations

from dataclasses import replace

from adapters.memory import MemoryPlatform
from bot.assemble import build_core
from bot.core.app import Content
from bot.core.clock import FakeClock
from bot.core.config import Config
from bot.storage.database import Database
from tests.core.conftest import Neighbours

# Tables that change with any answer at all (the delivery machinery), and activity times: a refusal is
# still an answer, so these are left out of "nothing changed".
VOLATILE_TABLES = {"inbox", "outbox", "offered_choices", "jobs", "cursors"}
VOLATILE_COLUMNS = {"last_active_at"}


def with_admin(config: Config, **moderation: object) -> Config:
    config = replace(config, deployment=replace(config.deployment, admins=["fake:admin"]))
    if moderation:
        config = replace(config, moderation=replace(config.moderation, **moderation))
    return config


async def neighbours(tmp_path, config: Config, content: Content, name: str = "m.sqlite3") -> Neighbours:
    db = await Database.open(tmp_path / name)
    core = build_core(config, db, content, FakeClock())
    platform = MemoryPlatform()
    core.attach(platform)
    return Neighbours(core, platform, core.clock)  # type: ignore[arg-type]


async def dump(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table that holds decisions (not the delivery machinery)."""
    state = {}
    for table in sorted(await db.tables()):
        if table in VOLATILE_TABLES:
            continue
        columns = [r[1] for r in await db.fetchall(f"PRAGMA table_info({table})") if r[1] not in VOLATILE_COLUMNS]
        rows = await db.fetchall(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1, 2")
        state[table] = [tuple(r) for r in rows]
    return state


async def person_id(hood: Neighbours, user: str) -> int:
    return await hood.core.db.scalar("SELECT person_id FROM identities WHERE platform = 'fake' AND user_id = ?",
                                     (user,))


async def setup_roles(hood: Neighbours) -> dict[str, int]:
    """alice (host) and bob in Belleville, carol in Charonne; mona moderates Belleville, otto Charonne."""
    for user, place in (("alice", "belleville"), ("bob", "belleville"), ("carol", "charonne"),
                        ("mona", "belleville"), ("otto", "charonne")):
        await hood.join(user, place)
    await hood.say("admin", "/start")
    ids = {u: await person_id(hood, u) for u in ("alice", "bob", "carol", "mona", "otto", "admin")}
    await hood.say("admin", f"/moderator #{ids['mona']} belleville")
    await hood.say("admin", f"/moderator #{ids['otto']} charonne")
    await hood.say("mona", f"/host #{ids['alice']}")
    return ids
