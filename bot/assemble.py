"""The composition root: which features a deployment runs, put together on a Core.

The core knows no feature; each feature package registers its commands, flows, buttons, hooks and
scheduled passes on a Core in its ``install(core)``. A new feature is a new package under ``bot/`` and
one line in ``FEATURES``. The order matters where features add to the same list: a ban must answer
before the local-knowledge question (moderation puts its gates and guards first itself), and /help
lists commands in the order they were registered.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from bot import activities, checkins, circles, moderation, people
from bot.core.app import Content, Core
from bot.core.clock import Clock
from bot.core.config import Config
from bot.storage.database import Database

FEATURES: tuple[ModuleType, ...] = (
    people,  # joining, changing one's answers, /mydata and /forget
    circles,  # circle rooms: mirroring, leaving, merging
    activities,  # organizers, events, announcements, calendars
    checkins,  # noticing who has gone quiet
    moderation,  # moderators' commands, reports, bans, protection, stats
)


def build_core(config: Config, db: Database, content: Content, clock: Clock | None = None) -> Core:
    """A Core with every feature installed: what a run, a test or a benchmark talks to."""
    core = Core(config, db, content, clock)
    for feature in FEATURES:
        feature.install(core)
    return core


async def open_core(config: Config, clock: Clock | None = None, database: str | Path | None = None) -> Core:
    """Open the database (migrating it) and load the content: everything a run or a test starts with."""
    db = await Database.open(database or config.deployment.database,
                             password_env=config.deployment.database_password_env or None)
    return build_core(config, db, Content.load(config), clock)
