"""The features the core installs, in order. A new feature module adds itself here.

Each module has ``install(core)``, which registers its commands, flows, actions and hooks on
``core.router`` (and ``core.group_hooks``), so the core itself never changes when a feature is added.
"""

from __future__ import annotations

from types import ModuleType


def _all() -> list[ModuleType]:
    import bot.checkin_rounds as checkin_rounds  # check-ins: daily pass, answers, /away, /helper, /quiet
    from bot import activities, announcements, conversation_hooks, imports, onboarding, organizers, privacy, profile

    return [onboarding, profile, privacy, conversation_hooks, organizers, activities, announcements, imports,
            checkin_rounds, *_moderation()]


def _moderation() -> list[ModuleType]:
    """Moderation and safety (issue 7): roles in use, reports, bans, circle protection, /stats."""
    from bot import bans, moderation, protection, reports, stats

    return [moderation, bans, reports, protection, stats]


class _Lazy:
    """Imported on first use: feature modules import the core's types, the core imports this list."""

    def __iter__(self):
        return iter(_all())


ALL = _Lazy()
