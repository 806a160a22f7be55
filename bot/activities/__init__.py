"""Local activities: organizers (shops, associations) apply and are approved, describe events in a short
guided conversation (``wizard``), and the events reach the circles of their neighbourhoods
(``announcements``: announcements, /agenda, RSVPs, reminders, the weekly digest), including from an
existing calendar (``imports``, ``calendar_files``). ``dates`` reads natural French and English dates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.activities import announcements, imports, organizers, requests, wizard

if TYPE_CHECKING:
    from bot.core.app import Core


def install(core: Core) -> None:
    organizers.install(core)
    wizard.install(core)
    announcements.install(core)
    imports.install(core)
    requests.install(core)
