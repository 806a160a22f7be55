"""/mydata shows (and exports) everything stored about a person; /forget erases it.

Stored about a person: their record in ``people`` (first name, language, consent date, neighbourhood,
interests, help offered and welcome, check-in choice, chosen contact), their platform identities, their
circle membership, an unfinished conversation, and messages still waiting to reach them. Message
contents are not kept: the inbox blanks each event once handled, the outbox once delivered; what is
left of them (times, chat ids) expires (``retention``).
Features that store more about a person register it with ``core.hooks.person_data``.
"""

from __future__ import annotations

import json
from typing import Any

from bot.circles import leave_circle, place_label
from bot.core.chat import Attachment, Outgoing
from bot.core.clock import from_iso
from bot.core.i18n import Localized
from bot.core.router import Command, Context
from bot.people.profile import summary
from bot.storage import circles as circle_store
from bot.storage import conversations, outbox, people
from bot.storage.database import Database


async def export(core, db: Database, person_id: int) -> dict[str, Any]:
    """Everything stored about one person, as plain data."""
    person = await db.fetchone("SELECT * FROM people WHERE id = ?", (person_id,))
    data: dict[str, Any] = {"person": dict(person) if person else None}
    data["identities"] = [
        dict(r) for r in await db.fetchall("SELECT * FROM identities WHERE person_id = ?", (person_id,))
    ]
    data["circle"] = [
        dict(r) for r in await db.fetchall("SELECT * FROM circle_members WHERE person_id = ?", (person_id,))
    ]
    conv = await db.fetchone("SELECT flow, step, data FROM conversations WHERE person_id = ?", (person_id,))
    data["conversation"] = dict(conv) if conv else None
    chats = [(i["platform"], i["private_chat_id"]) for i in data["identities"]]
    data["waiting_messages"] = sum(
        [
            await db.scalar("SELECT COUNT(*) FROM outbox WHERE platform = ? AND chat_id = ? AND status = 'pending'", c)
            for c in chats
        ]
    )
    for exporter in core.hooks.exporters:
        data.update(await exporter(db, person_id))
    return data


async def erase(core, db: Database, person_id: int, now) -> None:
    """Delete a person and everything that points to them; their circle is told they left, and they are
    taken out of its rooms on every platform (a removal filed under no private chat of theirs, so that it
    survives the clearing of their outbox below and leaves nothing of them once carried out)."""
    person = await people.get(db, person_id)
    if person is None:
        return
    circle_id = await leave_circle(core, db, person, now, from_rooms=False)
    if circle_id is not None:
        await core.queue_room_removal(db, circle_id, person_id, now, anonymous=True)
    for eraser in core.hooks.erasers:
        await eraser(db, person_id)
    for identity in await people.identities(db, person_id):
        await outbox.drop_for_chat(db, identity.platform, identity.private_chat_id)
        await outbox.forget_chat(db, identity.platform, identity.private_chat_id)
        await conversations.forget_choices(db, identity.platform, identity.private_chat_id)
        await forget_account(db, identity.platform, identity.user_id)
    await db.execute(
        "UPDATE people SET contact_person_id = NULL, contact_confirmed_at = NULL WHERE contact_person_id = ?",
        (person_id,),
    )
    await people.delete(db, person_id)


# Which tables of the platforms' own records name an account, and in which column.
ACCOUNT_TABLES = {
    "telegram": (("telegram_invites", "user_id"), ("telegram_strangers", "user_id")),
}


async def forget_account(db: Database, platform: str, user_id: str) -> None:
    """What the platforms' records keep of one account: invite links and stranger sightings (Telegram),
    who invited the bot into a room (Matrix: kept as a mark that matches no one, so that room can never
    count as someone else's private chat), and updates kept raw because they could not be read."""
    for table, column in ACCOUNT_TABLES.get(platform, ()):
        await db.execute(f"DELETE FROM {table} WHERE {column} = ?", (user_id,))  # names fixed above
    if platform == "matrix":
        await db.execute("UPDATE matrix_rooms SET invited_by = '-' WHERE invited_by = ?", (user_id,))
    await db.execute(
        "DELETE FROM inbox WHERE platform = ? AND status = 'failed' AND event != '' AND "
        + db.dialect.contains("event", "?"),
        (platform, user_id),
    )


async def mydata(ctx: Context) -> None:
    if ctx.person is None:
        await ctx.reply(ctx.t("mydata-nothing"))
        return
    data = await export(ctx.core, ctx.db, ctx.person.id)
    circle = await circle_store.circle_of(ctx.db, ctx.person.id)
    lines = [ctx.t("mydata-header"), summary(ctx)]
    if ctx.person.consent_at:
        lines.append(ctx.t("mydata-consent", date=ctx.t.short_date(from_iso(ctx.person.consent_at))))
    if circle:
        lines.append(
            ctx.t("mydata-circle", place=place_label(ctx.core, circle.place_id), number=circle.number)
        )
    lines.append(ctx.t("mydata-not-kept"))
    await ctx.reply(Localized.join(lines))
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
    message = Outgoing(
        ctx.address.platform,
        ctx.address.chat_id,
        ctx.t("mydata-file-caption"),
        attachment=Attachment(f"voisinage-{ctx.person.id}.json", "application/json", body),
    )
    await ctx.core.queue_file(ctx.db, message, ctx.now)


async def forget(ctx: Context) -> None:
    if ctx.person is None:
        await ctx.reply(ctx.t("mydata-nothing"))
        return
    await ctx.reply(
        ctx.t("forget-confirm"),
        [(ctx.t("button-forget-yes"), "forget:yes"), (ctx.t("button-forget-no"), "forget:no")],
    )


async def forget_answer(ctx: Context) -> None:
    if ctx.payload != "forget:yes":
        await ctx.reply(ctx.t("forget-kept"))
        return
    goodbye = ctx.t("forget-done")
    await erase(ctx.core, ctx.db, ctx.person.id, ctx.now)
    await ctx.reply(goodbye)


def install(core) -> None:
    core.router.command(
        Command(
            "mydata",
            mydata,
            aliases=("mesdonnees", "mes-donnees", "mes_donnees"),
            help_key="help-mydata",
            needs_member=False,
            french_name="mesdonnees",
            anonymous=True,
        )
    )
    core.router.command(
        Command(
            "forget",
            forget,
            aliases=("oublier",),
            help_key="help-forget",
            needs_member=False,
            french_name="oublier",
            anonymous=True,
        )
    )
    core.router.action("forget", forget_answer, before_onboarding=True)
