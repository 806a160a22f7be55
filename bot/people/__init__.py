"""People: becoming a member (onboarding), changing one's answers (/profile, /help, /leave), and what
is stored about a person (/mydata, /forget). No other feature uses this package's insides: features
that hold a newcomer back add a gate (``core.hooks.gate``), and features that store something about a
person register it for /mydata and /forget (``core.hooks.person_data``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.people import onboarding, privacy, profile, retention
from bot.people.onboarding import after_onboarding

__all__ = ["after_onboarding", "install"]

if TYPE_CHECKING:
    from bot.core.app import Core


def install(core: Core) -> None:
    onboarding.install(core)
    profile.install(core)
    privacy.install(core)
    retention.install(core)  # what is no longer needed expires
