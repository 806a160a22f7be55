"""The features the core installs, in order. A new feature module adds itself here.

Each module has ``install(core)``, which registers its commands, flows, actions and hooks on
``core.router`` (and ``core.group_hooks``), so the core itself never changes when a feature is added.
The imports are inside the function because feature modules import the core's types, and the core
calls this while it is being built.
"""

from __future__ import annotations

from types import ModuleType


def all_features() -> list[ModuleType]:
    from bot import (
        activities,
        announcements,
        bans,
        checkin_rounds,  # check-ins: daily pass, answers, /away, /helper, /quiet
        conversation_hooks,
        imports,
        moderation,
        onboarding,
        organizers,
        privacy,
        profile,
        protection,
        reports,
        stats,
    )

    return [
        onboarding, profile, privacy, conversation_hooks,  # joining, changing, leaving; circle rooms
        organizers, activities, announcements, imports,  # local activities
        checkin_rounds,  # check-ins
        moderation, bans, reports, protection, stats,  # moderation and safety
    ]
