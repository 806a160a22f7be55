"""Moderation and safety: the moderators' commands (``commands``: circles, hosts, announcements, the
audit log, /modhelp), reports, bans, protection of circle rooms (flood, links, words, the newcomer's
local-knowledge question; rules in ``safety``) and /stats with its chart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.moderation import bans, commands, protection, reports, stats

if TYPE_CHECKING:
    from bot.core.app import Core


def install(core: Core) -> None:
    commands.install(core)
    bans.install(core)
    reports.install(core)
    protection.install(core)
    stats.install(core)
