"""The features the core installs, in order. A new feature module adds itself here.

Each module has ``install(core)``, which registers its commands, flows, actions and hooks on
``core.router`` (and ``core.group_hooks``), so the core itself never changes when a feature is added.
The imports are inside the function because feature modules import the core's types, and the core
calls this while it is being built.
"""

from __future__ import annotations

from types import ModuleType


def all_features() -> list[ModuleType]:
    from bot.activities import announcements, imports, organizers
    from bot.activities import wizard as activities
    from bot.checkins import rounds as checkin_rounds
    from bot.circles import rooms as conversation_hooks
    from bot.moderation import bans, protection, reports, stats
    from bot.moderation import commands as moderation
    from bot.people import onboarding, privacy, profile

    return [
        onboarding, profile, privacy, conversation_hooks,  # joining, changing, leaving; circle rooms
        organizers, activities, announcements, imports,  # local activities
        checkin_rounds,  # check-ins
        moderation, bans, reports, protection, stats,  # moderation and safety
    ]
