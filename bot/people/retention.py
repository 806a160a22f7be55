"""Data kept only while useful: an hourly pass blanks or deletes what no longer serves anyone.

How long each kind is kept (the README's privacy section says the same):
- a message still to deliver: until delivered; its content is blanked then (``outbox.sent``), and at
  once when it failed — including a message interrupted by a crash, kept as "may have arrived";
- what is left of a delivered or failed message (which chat, when, its deduplication key): the chat is
  blanked after ``OUTBOX_CHAT_HOURS`` (nothing reads it once the message is out: so even the goodbye
  sent after /forget points to no one an hour later), the row deleted after ``OUTBOX_DAYS``;
- a received event: its content is blanked once handled; an update that could not be read is kept
  raw ``INBOX_FAILED_DAYS`` for a look at what went wrong, then blanked; every inbox row is deleted after
  ``INBOX_DAYS`` (the platforms' cursors, not these rows, keep an event from being fetched twice);
- Telegram invite links: ``INVITE_DAYS`` (they expire after 7); strangers removed from a circle group:
  ``STRANGER_DAYS`` after their removal;
- someone who started a conversation but never said yes to what is stored: erased after
  ``NO_CONSENT_DAYS`` (there is nothing to keep without their consent).
Reports and warnings have their own retention (``[moderation] report_retention_days``). A ban outlives
/forget on purpose, as keyed hashes of the accounts only; bans from before keyed hashing are rewritten
here for people still on record.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bot.core.clock import to_iso
from bot.core.scheduler import Job, every
from bot.people import privacy
from bot.storage import sanctions
from bot.storage.database import Database

OUTBOX_CHAT_HOURS = 1
OUTBOX_DAYS = 90
INBOX_FAILED_DAYS = 7
INBOX_DAYS = 30
INVITE_DAYS = 14
STRANGER_DAYS = 30
NO_CONSENT_DAYS = 7


def _ago(now: datetime, days: int) -> str:
    return to_iso(now - timedelta(days=days))


async def expire_messages(db: Database, now: datetime) -> None:
    """Outbox and inbox rows past their time (see the module's docstring)."""
    await db.execute("UPDATE outbox SET payload = '' WHERE status = 'failed' AND payload != ''")
    await db.execute(
        "UPDATE outbox SET chat_id = '' WHERE status IN ('sent', 'failed') AND chat_id != '' AND created_at < ?",
        (to_iso(now - timedelta(hours=OUTBOX_CHAT_HOURS)),),
    )
    await db.execute("DELETE FROM outbox WHERE status IN ('sent', 'failed') AND created_at < ?",
                     (_ago(now, OUTBOX_DAYS),))
    await db.execute("UPDATE inbox SET event = '' WHERE status = 'failed' AND event != '' AND received_at < ?",
                     (_ago(now, INBOX_FAILED_DAYS),))
    await db.execute("DELETE FROM inbox WHERE status != 'new' AND received_at < ?", (_ago(now, INBOX_DAYS),))


async def expire_platform_records(db: Database, now: datetime) -> None:
    await db.execute("DELETE FROM telegram_invites WHERE created_at < ?", (_ago(now, INVITE_DAYS),))
    await db.execute("DELETE FROM telegram_strangers WHERE removed_at IS NOT NULL AND removed_at < ?",
                     (_ago(now, STRANGER_DAYS),))


async def never_consented(db: Database, now: datetime, admins: list[str]) -> list[int]:
    """People who wrote once and never agreed to what is stored — except admins and moderators, whose
    record exists for their role (an admin need not join as a resident)."""
    rows = await db.fetchall(
        "SELECT id FROM people WHERE consent_at IS NULL AND created_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM roles r WHERE r.person_id = people.id) "
        "AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.person_id = people.id "
        f" AND i.platform || ':' || i.user_id IN ({db.dialect.json_values(str)}))",
        (_ago(now, NO_CONSENT_DAYS), json.dumps(admins)),
    )
    return [r[0] for r in rows]


async def retention_pass(core, now: datetime) -> None:
    """Blank and delete what is no longer needed; erase those who never consented, like /forget does."""
    async with core.db.transaction():
        await expire_messages(core.db, now)
        await expire_platform_records(core.db, now)
        await sanctions.rehash_known(core.db)
        for person_id in await never_consented(core.db, now, core.config.deployment.admins):
            await privacy.erase(core, core.db, person_id, now)


def install(core) -> None:
    core.scheduler.add(Job("privacy-retention", every(timedelta(hours=1)), retention_pass))
