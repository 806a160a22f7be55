"""The durable outbox: what must arrive is written here first, in the transaction that decided it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.clock import to_iso
from bot.storage.database import Database

# Delivery classes, highest first (migration 091). Decided where an item is queued, by the code that
# knows why it is sent; ``bot.core.delivery`` serves the highest class first, with a share kept for the
# lower ones (``bot.core.pacing.ClassTurns``).
ANSWER = 1  # answers to what a person just did (their message, button, command), moderation actions
CARE = 2  # check-in questions, reminders, escalations, alerts to contacts and moderators
BULK = 3  # announcements, digests, event reminders, messages mirrored between a circle's rooms
CLASSES = (ANSWER, CARE, BULK)
CLASS_NAMES = {ANSWER: "answer", CARE: "care", BULK: "bulk"}


@dataclass(frozen=True)
class Item:
    id: int
    platform: str
    kind: str
    chat_id: str
    payload: str
    attempts: int
    delivery_class: int = ANSWER


async def add(
    db: Database,
    platform: str,
    kind: str,
    chat_id: str,
    payload: str,
    now: datetime,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
    delivery_class: int = ANSWER,
) -> bool:
    """Queue one delivery (for later when ``not_before`` is given, e.g. the end of a mute); a second one
    with the same ``dedupe_key`` is ignored. Returns whether queued."""
    _check_class(delivery_class)
    sql = (
        "INSERT INTO outbox (platform, kind, chat_id, payload, dedupe_key, not_before, created_at, delivery_class) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING"
    )
    params = (platform, kind, chat_id, payload, dedupe_key, to_iso(not_before or now), to_iso(now), delivery_class)
    if dedupe_key is None:  # always queued: written with the transaction's other answers, in one trip
        await db.write_later("outbox", sql, params)
        return True
    return await db.execute(sql, params) > 0


def _check_class(delivery_class: int) -> None:
    if delivery_class not in CLASSES:
        raise ValueError(f"unknown delivery class {delivery_class!r}")


# ``+not_before`` (``dialect.unindexed``): on SQLite the unary plus keeps the planner off ``outbox_due``
# (which would read every due row of the platform and sort them: 100 ms with 10,000 waiting) and on
# ``outbox_next``, an index walk in id order that stops at the limit (2 ms).
_DUE_ONE_CLASS = (
    "SELECT * FROM (SELECT id, platform, kind, chat_id, payload, attempts, delivery_class FROM outbox o "
    "WHERE platform = ? AND status = 'pending' AND delivery_class = ? AND {not_before} <= ? AND NOT EXISTS ("
    " SELECT 1 FROM outbox e WHERE e.platform = o.platform AND e.chat_id = o.chat_id AND e.id < o.id"
    " AND e.kind = 'message' AND e.delivery_class <= o.delivery_class"
    " AND e.status IN ('pending', 'sending') AND e.not_before > ?"
    " AND (e.attempts > 0 OR e.error IS NOT NULL))"
    " ORDER BY id LIMIT ?)"
)


def due_one_class(db: Database) -> str:
    """The query for one class's next items, in ``db``'s dialect."""
    return _DUE_ONE_CLASS.format(not_before=db.dialect.unindexed("not_before"))


async def due(db: Database, platform: str, now: datetime, limit: int = 100) -> list[Item]:
    """What may go out now: up to ``limit`` of each class, oldest first within a class (the caller
    decides how the classes take turns). A message waits while an earlier message to the same chat, of
    its own class or a higher one, is held back (rate limit, retry): a chat never reads "annonce 8"
    before "annonce 7", and two answers of one conversation never swap; an answer does not wait behind
    a held-back announcement. An invite waiting for its circle's group does not hold back the person's
    messages, nor does a message queued for later on purpose (``not_before``, never tried yet: a check-in
    message waiting for the morning), so a moderator still gets an answer at night. Each class is an
    index walk (``outbox_next``, migration 091), however long the queue.

    Read in its own turn: not in the middle of another task's transaction, whose rows may still be
    rolled back (and their ids given to other rows)."""
    stamp = to_iso(now)
    rows = await db.fetchall_alone(
        " UNION ALL ".join([due_one_class(db)] * len(CLASSES)),
        tuple(value for c in CLASSES for value in (platform, c, stamp, stamp, limit)),
    )
    return [Item(**dict(r)) for r in rows]


async def next_due_at(db: Database, platform: str) -> str | None:
    return await db.scalar("SELECT MIN(not_before) FROM outbox WHERE platform = ? AND status = 'pending'", (platform,))


async def claim(
    db: Database, item_ids: Sequence[int], now: datetime, delivered: Sequence[int] = (), worker: str = ""
) -> set[int]:
    """Marked before the send: after a crash an item found 'sending' may have gone out, so it is not
    resent blindly (at most once); ``recover`` decides what to do with those. Returns the ids claimed:
    an item missing there is no longer waiting (its transaction was rolled back, or it was dropped, or
    another worker took it) and must not be sent.

    ``worker`` (``Core.worker_id``) is written with the claim: a worker's sends are recovered only once
    it is dead. An item is not claimed while an earlier message to the same chat is being sent by
    another worker: a chat's messages go out in order whichever workers send them.

    ``delivered``: items already sent whose success is not written yet (see ``Delivery``). They are
    marked sent in this same statement: several messages cost one trip to the database. Only a row
    still 'sending' becomes 'sent': a success arriving late, after its row was dropped (a person
    forgotten), must not mark whatever row holds that id now."""
    rows = await db.fetchall_alone(
        f"WITH claimed AS ({db.dialect.json_values(int)}), done AS ({db.dialect.json_values(int)}) "
        "UPDATE outbox SET "
        "status = CASE WHEN id IN (SELECT value FROM claimed) THEN 'sending' ELSE 'sent' END, "
        "attempts = attempts + CASE WHEN id IN (SELECT value FROM claimed) THEN 1 ELSE 0 END, "
        "claimed_at = CASE WHEN id IN (SELECT value FROM claimed) THEN ? ELSE claimed_at END, "
        "claimed_by = CASE WHEN id IN (SELECT value FROM claimed) THEN ? ELSE claimed_by END, "
        "sent_at = CASE WHEN id IN (SELECT value FROM claimed) THEN sent_at ELSE ? END, "
        "payload = CASE WHEN id IN (SELECT value FROM claimed) THEN payload ELSE '' END, "
        "error = CASE WHEN id IN (SELECT value FROM claimed) THEN error END "
        "WHERE (id IN (SELECT value FROM claimed) AND status = 'pending' AND NOT EXISTS ("
        " SELECT 1 FROM outbox e WHERE e.platform = outbox.platform AND e.chat_id = outbox.chat_id"
        " AND e.id < outbox.id AND e.kind = 'message' AND e.status = 'sending' AND e.claimed_by <> ?))"
        " OR (id IN (SELECT value FROM done) AND status = 'sending') RETURNING id",
        (json.dumps(list(item_ids)), json.dumps(list(delivered)), to_iso(now), worker, to_iso(now), worker),
    )
    wanted = set(item_ids)
    return {row[0] for row in rows if row[0] in wanted}


async def sent(db: Database, item_ids: Sequence[int], now: datetime) -> int:
    """Delivered: the content is blanked, only the fact and the dedupe key stay. Only rows still
    'sending' (see ``claim``); returns how many."""
    marks = ", ".join("?" * len(item_ids))
    return await db.execute_alone(
        f"UPDATE outbox SET status = 'sent', sent_at = ?, payload = '', error = NULL "
        f"WHERE id IN ({marks}) AND status = 'sending'",
        (to_iso(now), *item_ids),
    )


async def retry(db: Database, item_id: int, at: datetime, error: str) -> None:
    await db.execute(
        "UPDATE outbox SET status = 'pending', not_before = ?, error = ? "
        "WHERE id = ? AND status IN ('pending', 'sending')",
        (to_iso(at), error[:500], item_id),
    )


async def failed(db: Database, item_id: int, error: str) -> None:
    await db.execute(
        "UPDATE outbox SET status = 'failed', payload = '', error = ? "
        "WHERE id = ? AND status IN ('pending', 'sending')",
        (error[:500], item_id),
    )


# How long a repeated send is recognised by a platform that deduplicates by key: Synapse keeps a
# transaction id for about 30 minutes (and forgets it when it restarts). Past this, an item found
# 'sending' is "may have arrived", never sent again.
IDEMPOTENT_FOR = timedelta(minutes=20)
MAY_HAVE_ARRIVED = "interrupted mid-send; may have arrived"


async def recover(
    db: Database, platform: str, now: datetime, idempotent: bool, alive: Sequence[str] = ()
) -> int:
    """After a crash: items left 'sending' are sent again when the platform deduplicates by key (Matrix
    transaction ids, the console) and still remembers the key (claimed less than ``IDEMPOTENT_FOR``
    ago); every other one is marked failed as "may have arrived" rather than risk a duplicate.
    Deferred work (kind 'work') is always done again: its outcome is stored with its 'sent' mark, so
    an item still 'sending' did nothing yet. Returns how many items were found 'sending'.

    ``alive``: the workers still running (``bot.core.workers``); their sends are under way, not
    interrupted, and are left alone. Only the sends of workers that died are recovered."""
    marks = ", ".join("?" * len(alive))
    dead = f" AND (claimed_by IS NULL OR claimed_by NOT IN ({marks}))" if alive else ""
    again = await db.execute(
        "UPDATE outbox SET status = 'pending', not_before = ? WHERE platform = ? AND status = 'sending' "
        "AND kind = 'work'" + dead,
        (to_iso(now), platform, *alive),
    )
    if idempotent:
        again += await db.execute(
            "UPDATE outbox SET status = 'pending', not_before = ? "
            "WHERE platform = ? AND status = 'sending' AND claimed_at >= ?" + dead,
            (to_iso(now), platform, to_iso(now - IDEMPOTENT_FOR), *alive),
        )
    given_up = await db.execute(
        f"UPDATE outbox SET status = 'failed', error = '{MAY_HAVE_ARRIVED}' WHERE platform = ? AND status = 'sending'"
        + dead,
        (platform, *alive),
    )
    return again + given_up


async def instance_salt(db: Database) -> str:
    """This database's own random word (migration 061): keys given to a platform carry it, so a new
    database starting its ids at 1 again never repeats an older one's keys."""
    return str(await db.scalar("SELECT value FROM instance WHERE key = 'salt'") or "")


async def drop_for_chat(db: Database, platform: str, chat_id: str) -> None:
    """Forget what was still waiting for someone who asked to be forgotten or cannot be reached."""
    await db.execute(
        "DELETE FROM outbox WHERE platform = ? AND chat_id = ? AND status IN ('pending', 'sending')",
        (platform, chat_id),
    )


async def forget_chat(db: Database, platform: str, chat_id: str) -> None:
    """/forget: what was sent to (or failed for) someone keeps their chat id: blank it, with the content
    and the deduplication key (which only ever stopped a second message to this very person). The rows
    stay, blank: deleting the newest would hand their ids (transaction ids on Matrix) to new messages."""
    await db.execute(
        "UPDATE outbox SET chat_id = '', payload = '', error = NULL, dedupe_key = NULL "
        "WHERE platform = ? AND chat_id = ? AND status IN ('sent', 'failed')",
        (platform, chat_id),
    )


async def counts(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")
    return {r[0]: r[1] for r in rows}


async def add_many(
    db: Database, rows: list[tuple[str, str, str, str, str | None]], now: datetime, delivery_class: int
) -> None:
    """Queue many deliveries at once — (platform, kind, chat_id, payload, dedupe_key) — for a fan-out:
    one statement instead of one per target; a target already queued under its key is skipped. The
    class is the caller's to say (a check-in round is care, an announcement bulk): no default."""
    _check_class(delivery_class)
    stamp = to_iso(now)
    await db.executemany(
        "INSERT INTO outbox (platform, kind, chat_id, payload, dedupe_key, not_before, created_at, delivery_class) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
        [(platform, kind, chat_id, payload, key, stamp, stamp, delivery_class)
         for platform, kind, chat_id, payload, key in rows],
    )
