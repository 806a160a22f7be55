"""Requests that wait for a decision (an organizer's application, an event to publish) never get lost:
/demandes (/requests) lists a moderator's, and the first moderator appointed in a neighbourhood gets
those that waited for one."""

from __future__ import annotations

from bot.activities import organizers, wizard
from bot.core import access
from bot.core.hooks import ModeratorCommand
from bot.core.router import Command, Context
from bot.storage import outbox
from bot.storage.database import Database


async def offer_pending(core, db: Database, person_id: int, place_ids: list[str] | None, now,
                        delivery_class: int = outbox.CARE, *, asked: bool = False) -> int:
    """Send one moderator every request of their neighbourhoods still waiting, each with its buttons
    (an answer when they asked with /demandes: before the line that counts them)."""
    sent = 0
    for organizer in await organizers.pending_applications(db, place_ids):
        text, buttons = organizers.application(core, organizer)
        key = f"orgapp:{organizer.id}:{now.isoformat()}:{person_id}"
        sent += await core.tell(db, person_id, text, buttons, now, dedupe_key=key, delivery_class=delivery_class)
    for event, organizer in await wizard.pending_events(db, place_ids):
        sent += await wizard.offer_event(core, db, event, organizer, person_id, now, delivery_class, asked_again=asked)
    return sent


async def requests_command(ctx: Context) -> None:
    """/demandes (/requests): a moderator's list of what waits for a decision in their neighbourhoods."""
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False:
        return
    count = await offer_pending(ctx.core, ctx.db, ctx.person.id, place_ids, ctx.now,  # type: ignore[arg-type]
                                outbox.ANSWER, asked=True)
    if count:
        await ctx.reply(ctx.t.plural("requests-listed", count))
    else:
        await ctx.reply(ctx.t("requests-none"))


async def on_moderator_appointed(core, db: Database, person_id: int, place_id: str, now) -> None:
    """The first moderator of a neighbourhood gets the requests that waited for one."""
    if await offer_pending(core, db, person_id, [place_id], now):
        await core.tell(db, person_id, lambda t: t("requests-waited"), None, now)


def install(core) -> None:
    core.router.command(Command("requests", requests_command, aliases=("demandes",), help_key=None,
                                french_name="demandes", needs_member=False, anonymous=True))
    core.hooks.moderator_help.append(ModeratorCommand("requests", "demandes", "modhelp-requests"))
    core.hooks.on_moderator_appointed(on_moderator_appointed)
