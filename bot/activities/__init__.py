"""Local activities: organizers (shops, associations) apply and are approved, describe events in a short
guided conversation (``wizard``), and the events reach the circles of their neighbourhoods
(``announcements``: announcements, /agenda, RSVPs, reminders, the weekly digest), including from an
existing calendar (``imports``, ``calendar_files``). ``dates`` reads natural French and English dates.
Shops and associations bring neighbours in with posters (``posters``); each neighbourhood's agenda is
public on the bot's HTTP server, as a page and a calendar feed (``agenda_page``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.activities import agenda_page, announcements, imports, organizers, posters, requests, wizard

if TYPE_CHECKING:
    from bot.core.app import Core

# ``voisinage poster`` (bot.operations) prints a poster from a shell.
check_poster_command_line = posters.check_command_line
poster_for_command_line = posters.for_command_line


def install(core: Core) -> None:
    organizers.install(core)
    wizard.install(core)
    announcements.install(core)
    imports.install(core)
    requests.install(core)
    posters.install(core)  # /affiche: posters and cards that bring neighbours in
    agenda_page.install(core)  # the public agenda page and calendar feed of each neighbourhood
