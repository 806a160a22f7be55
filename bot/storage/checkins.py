"""Check-ins, absences and helpers as stored: the queries behind the daily pass and /quiet.

The daily pass is one ``INSERT … SELECT`` over the partial index ``people_checkins_quiet``: only
members who opted in and whose last activity is older than the threshold are read, and each is
checked with index lookups (an open or recently closed check-in, an absence, a reachable account).
A neighbourhood of a million members costs a range of that index, not a scan in Python.

"Sign of life" is the latest of: last activity (kept by the core), a check-in closed (an answer, a
helper's "seen today", a contact's "all is well"), and the end of an absence. The threshold counts
from it, so nobody is asked again the day after they answered, or the morning they come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.clock import from_iso, to_iso
from bot.storage.database import Database, Row

# Members due for a check-in at :now with the threshold cutoff :cutoff. The terms
# ``checkins = 1 AND onboarded_at IS NOT NULL`` repeat the partial index's own, so SQLite uses it.
DUE_FROM_WHERE = """
FROM people p
LEFT JOIN checkin_helpers h ON h.person_id = p.id
WHERE p.checkins = 1 AND p.onboarded_at IS NOT NULL AND p.last_active_at < :cutoff
  AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.person_id = p.id
                  AND (c.closed_at IS NULL OR c.closed_at > :cutoff))
  AND NOT EXISTS (SELECT 1 FROM checkin_away a WHERE a.person_id = p.id AND a.until > :cutoff)
  AND EXISTS (SELECT 1 FROM identities i WHERE i.person_id = COALESCE(h.helper_id, p.id)
              AND i.unreachable_at IS NULL)
"""
DUE_SQL = "SELECT p.id, h.helper_id " + DUE_FROM_WHERE


@dataclass(frozen=True)
class Checkin:
    id: int
    person_id: int
    helper_id: int | None
    asked_at: str
    reminded_at: str | None
    # fine | chat | away | stop | seen | active | off, and from a typed answer (bot.checkins.typed): wrote (said
    # nothing of how they are), urgent (asked whether to tell someone), alerted, declined
    answer: str | None
    answered_at: str | None
    escalated_at: str | None
    told_id: int | None
    told_role: str | None
    outcome: str | None
    outcome_by: int | None
    outcome_at: str | None
    closed_at: str | None
    resolved_at: str | None
    stage: str | None = None  # how far the ladder of people told went (see bot.checkins.decisions.STAGES)
    stage_until: str | None = None  # when it moves on to the next person

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class AskTarget:
    """A check-in just opened and the private chat it goes to (the person's, or their helper's)."""

    checkin_id: int
    person_id: int
    helper_id: int | None
    first_name: str
    platform: str
    chat_id: str
    language: str


def _checkin(row: Row) -> Checkin:
    return Checkin(**{k: row[k] for k in Checkin.__dataclass_fields__})


def _params(now: datetime, cutoff: datetime) -> dict[str, str]:
    return {"now": to_iso(now), "cutoff": to_iso(cutoff)}


# ---- the daily pass -------------------------------------------------------------------------------


async def due(db: Database, now: datetime, cutoff: datetime) -> list[tuple[int, int | None]]:
    """(person id, helper id) of every member due for a check-in; what the pass would open."""
    rows = await db.fetchall(DUE_SQL, _params(now, cutoff))  # type: ignore[arg-type]
    return [(r[0], r[1]) for r in rows]


async def open_due(db: Database, now: datetime, cutoff: datetime) -> int:
    """Open a check-in for every member due, in one statement; returns how many were opened."""
    return await db.execute(
        "INSERT INTO checkins (person_id, helper_id, asked_at) SELECT p.id, h.helper_id, :now " + DUE_FROM_WHERE,
        _params(now, cutoff),  # type: ignore[arg-type]
    )


async def opened_at(db: Database, now: datetime) -> list[AskTarget]:
    """The check-ins opened by the pass at ``now``, each with the first reachable chat to ask in."""
    rows = await db.fetchall(
        "SELECT c.id, c.person_id, c.helper_id, p.first_name, i.platform, i.private_chat_id, t.language "
        "FROM checkins c JOIN people p ON p.id = c.person_id "
        "JOIN people t ON t.id = COALESCE(c.helper_id, c.person_id) "
        "JOIN identities i ON i.person_id = t.id AND i.unreachable_at IS NULL "
        "WHERE c.asked_at = ? AND c.closed_at IS NULL ORDER BY c.id, i.platform",
        (to_iso(now),),
    )
    targets: dict[int, AskTarget] = {}
    for r in rows:
        targets.setdefault(r[0], AskTarget(r[0], r[1], r[2], r[3], r[4], r[5], r[6]))
    return list(targets.values())


async def unanswered(db: Database, asked_before: datetime) -> list[tuple[Checkin, str | None, bool, bool]]:
    """Check-ins nobody answered, asked before ``asked_before``: the open ones (escalated or not), and
    those the ladder closed at its last stage that nobody settled yet (the person may still show life).
    Each with the person's last activity, whether they still want check-ins, and whether the one
    told last turned out to be unreachable (blocked the bot since)."""
    select = ("SELECT c.*, p.last_active_at AS p_active, p.checkins AS p_on, "
              "(c.told_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.person_id = c.told_id "
              "AND i.unreachable_at IS NULL)) AS told_gone FROM checkins c JOIN people p ON p.id = c.person_id ")
    rows = await db.fetchall(
        select + "WHERE c.closed_at IS NULL AND c.asked_at <= ? AND c.answer IS NULL "
        "UNION ALL " + select + "WHERE c.resolved_at IS NULL AND c.outcome = 'services' AND c.answer IS NULL "
        "ORDER BY asked_at",
        (to_iso(asked_before),),
    )
    return [(_checkin(r), r["p_active"], bool(r["p_on"]), bool(r["told_gone"])) for r in rows]


# ---- one check-in ---------------------------------------------------------------------------------


async def get(db: Database, checkin_id: int) -> Checkin | None:
    row = await db.fetchone("SELECT * FROM checkins WHERE id = ?", (checkin_id,))
    return _checkin(row) if row else None


async def open_for(db: Database, person_id: int) -> Checkin | None:
    row = await db.fetchone("SELECT * FROM checkins WHERE person_id = ? AND closed_at IS NULL", (person_id,))
    return _checkin(row) if row else None


async def open_for_urgent(db: Database, person_id: int, now: datetime) -> int:
    """A check-in opened by the person's own urgent message (no question was asked): it follows the
    urgent path (``bot.checkins.typed``). The caller has checked that none is open."""
    return int(await db.insert("INSERT INTO checkins (person_id, asked_at) VALUES (?, ?)",
                               (person_id, to_iso(now))))


async def latest_for(db: Database, person_id: int) -> Checkin | None:
    """The person's most recent check-in, open or not: what a typed answer is read against."""
    row = await db.fetchone("SELECT * FROM checkins WHERE person_id = ? ORDER BY id DESC LIMIT 1", (person_id,))
    return _checkin(row) if row else None


async def urgent_waiting(db: Database, answered_before: datetime) -> list[Checkin]:
    """Check-ins whose person wrote something urgent before ``answered_before`` and has not said yet
    whether their contact may be told. Read from the small partial index of unresolved check-ins."""
    rows = await db.fetchall(
        "SELECT * FROM checkins WHERE resolved_at IS NULL AND answer = 'urgent' AND answered_at <= ? ORDER BY id",
        (to_iso(answered_before),),
    )
    return [_checkin(r) for r in rows]


async def mark_reminded(db: Database, checkin_id: int, now: datetime) -> None:
    await db.execute("UPDATE checkins SET reminded_at = ? WHERE id = ?", (to_iso(now), checkin_id))


async def mark_escalated(db: Database, checkin_id: int, now: datetime, told_id: int | None, role: str | None) -> bool:
    """Recorded once: a second call for the same check-in changes nothing and returns False."""
    changed = await db.execute(
        "UPDATE checkins SET escalated_at = ?, told_id = ?, told_role = ? WHERE id = ? AND escalated_at IS NULL",
        (to_iso(now), told_id, role, checkin_id),
    )
    return changed == 1


async def set_stage(db: Database, checkin_id: int, stage: str, until: datetime | None, told_id: int | None) -> None:
    """The ladder reached ``stage``: ``told_id`` was told (the one who may settle it) until ``until``."""
    await db.execute(
        "UPDATE checkins SET stage = ?, stage_until = ?, told_id = COALESCE(?, told_id), "
        "told_role = COALESCE(?, told_role) WHERE id = ?",
        (stage, to_iso(until) if until else None, told_id, stage if told_id is not None else None, checkin_id),
    )


async def end_stage(db: Database, checkin_id: int, now: datetime) -> None:
    """The person told could not reach them: the ladder moves on at the next follow-up."""
    await db.execute("UPDATE checkins SET stage_until = ? WHERE id = ? AND closed_at IS NULL",
                     (to_iso(now), checkin_id))


async def close_unsettled(db: Database, checkin_id: int, now: datetime) -> None:
    """The ladder's last stage: closed (the person can be asked again after their next silence) but
    left on /quiet, outcome "services", until a moderator settles it or the person shows life."""
    stamp = to_iso(now)
    await db.execute(
        "UPDATE checkins SET stage = 'services', stage_until = NULL, outcome = 'services', outcome_at = ?, "
        "closed_at = COALESCE(closed_at, ?) WHERE id = ?",
        (stamp, stamp, checkin_id),
    )


async def add_told(db: Database, checkin_id: int, person_id: int, role: str, now: datetime) -> None:
    await db.execute(
        "INSERT INTO checkin_told (checkin_id, person_id, role, told_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (checkin_id, person_id) DO NOTHING",
        (checkin_id, person_id, role, to_iso(now)),
    )


async def told(db: Database, checkin_id: int) -> list[int]:
    """Everyone told about this check-in, first told first."""
    rows = await db.fetchall(
        f"SELECT person_id FROM checkin_told WHERE checkin_id = ? ORDER BY told_at, {db.dialect.insertion_order}",
        (checkin_id,),
    )
    return [r[0] for r in rows]


async def told_as(db: Database, checkin_id: int) -> dict[int, str]:
    """Who was told about this check-in, and as what (a stage, "alert", "services")."""
    rows = await db.fetchall("SELECT person_id, role FROM checkin_told WHERE checkin_id = ?", (checkin_id,))
    return {r[0]: r[1] for r in rows}


@dataclass(frozen=True)
class Fitness:
    """What decides whether someone can be told about a neighbour (``decisions.unfit``)."""

    reachable: bool
    away_until: datetime | None
    last_active: datetime | None


async def fitness(db: Database, person_ids: list[int]) -> dict[int, Fitness]:
    """For each of these people, in one query: reachable at all, away until when, last active."""
    if not person_ids:
        return {}
    marks = ",".join("?" * len(person_ids))
    rows = await db.fetchall(
        "SELECT p.id, p.last_active_at, "
        "EXISTS (SELECT 1 FROM identities i WHERE i.person_id = p.id AND i.unreachable_at IS NULL), "
        f"(SELECT a.until FROM checkin_away a WHERE a.person_id = p.id) FROM people p WHERE p.id IN ({marks})",
        tuple(person_ids),
    )
    return {r[0]: Fitness(bool(r[2]), from_iso(r[3]) if r[3] else None, from_iso(r[1]) if r[1] else None)
            for r in rows}


async def answer(db: Database, checkin_id: int, what: str, now: datetime, *, resolved: bool = True) -> None:
    """The person (or their helper) answered, or showed a sign of life: the question is closed."""
    stamp = to_iso(now)
    await db.execute(
        "UPDATE checkins SET answer = ?, answered_at = ?, closed_at = COALESCE(closed_at, ?), "
        "resolved_at = CASE WHEN ? = 1 THEN COALESCE(resolved_at, ?) ELSE NULL END WHERE id = ?",
        (what, stamp, stamp, int(resolved), stamp, checkin_id),
    )


async def set_told(db: Database, checkin_id: int, told_id: int | None, role: str | None) -> None:
    await db.execute(
        "UPDATE checkins SET told_id = ?, told_role = ?, outcome = NULL WHERE id = ?", (told_id, role, checkin_id)
    )


async def set_outcome(db: Database, checkin_id: int, outcome: str, by: int, now: datetime, *, settle: bool) -> None:
    """What the person told (or a moderator) reported. ``settle`` closes and takes it off /quiet."""
    stamp = to_iso(now)
    if settle:
        await db.execute(
            "UPDATE checkins SET outcome = ?, outcome_by = ?, outcome_at = ?, closed_at = COALESCE(closed_at, ?), "
            "resolved_at = ? WHERE id = ?",
            (outcome, by, stamp, stamp, stamp, checkin_id),
        )
    else:
        await db.execute(
            "UPDATE checkins SET outcome = ?, outcome_by = ?, outcome_at = ? WHERE id = ?",
            (outcome, by, stamp, checkin_id),
        )


# ---- absences -------------------------------------------------------------------------------------


async def set_away(db: Database, person_id: int, until: datetime, now: datetime) -> None:
    await db.execute(
        "INSERT INTO checkin_away (person_id, until, set_at) VALUES (?, ?, ?) "
        "ON CONFLICT (person_id) DO UPDATE SET until = excluded.until, set_at = excluded.set_at",
        (person_id, to_iso(until), to_iso(now)),
    )


async def away_until(db: Database, person_id: int) -> datetime | None:
    value = await db.scalar("SELECT until FROM checkin_away WHERE person_id = ?", (person_id,))
    return from_iso(value) if value else None


async def back(db: Database, person_id: int, now: datetime) -> bool:
    """Back early: the absence ends now (kept as a sign of life). False if they were not away."""
    return await db.execute(
        "UPDATE checkin_away SET until = ? WHERE person_id = ? AND until > ?", (to_iso(now), person_id, to_iso(now))
    ) == 1


# ---- helpers and the neighbours they look in on ---------------------------------------------------


async def add_helped(
    db: Database, helper_id: int, first_name: str, language: str, place_id: str, now: datetime
) -> int:
    """A neighbour without a phone, with the helper's confirmation that they agreed."""
    stamp = to_iso(now)
    person_id = await db.insert(
        "INSERT INTO people (first_name, language, consent_at, place_id, checkins, onboarded_at, last_active_at, "
        "created_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
        (first_name, language, stamp, place_id, stamp, stamp, stamp),
    )
    await db.execute(
        "INSERT INTO checkin_helpers (person_id, helper_id, consent_confirmed_at, created_at) VALUES (?, ?, ?, ?)",
        (person_id, helper_id, stamp, stamp),
    )
    return person_id


async def helped_by(db: Database, helper_id: int) -> list[tuple[int, str]]:
    rows = await db.fetchall(
        "SELECT p.id, p.first_name FROM checkin_helpers h JOIN people p ON p.id = h.person_id "
        "WHERE h.helper_id = ? ORDER BY p.first_name, p.id",
        (helper_id,),
    )
    return [(r[0], r[1]) for r in rows]


async def helper_of(db: Database, person_id: int) -> int | None:
    return await db.scalar("SELECT helper_id FROM checkin_helpers WHERE person_id = ?", (person_id,))


async def drop_helped(db: Database, helper_id: int, person_id: int) -> bool:
    """Erase a neighbour a helper registered (only theirs, only if nobody else uses that record)."""
    return await db.execute(
        "DELETE FROM people WHERE id = ? AND id IN (SELECT person_id FROM checkin_helpers WHERE helper_id = ?) "
        "AND NOT EXISTS (SELECT 1 FROM identities WHERE person_id = ?)",
        (person_id, helper_id, person_id),
    ) == 1


# ---- the moderators' list -------------------------------------------------------------------------


def _place_filter(place_ids: list[str] | None, column: str) -> tuple[str, list[Any]]:
    if place_ids is None:
        return "", []
    marks = ",".join("?" * len(place_ids)) or "NULL"
    return f" AND {column} IN ({marks})", list(place_ids)


async def unresolved(db: Database, place_ids: list[str] | None, limit: int = 50) -> list[Row]:
    """Check-ins still on the list: open, escalated, a chat asked for, someone not reached."""
    where, params = _place_filter(place_ids, "p.place_id")
    return await db.fetchall(
        "SELECT c.*, p.first_name AS name, p.place_id, t.first_name AS told_name FROM checkins c "
        "JOIN people p ON p.id = c.person_id LEFT JOIN people t ON t.id = c.told_id "
        f"WHERE c.resolved_at IS NULL{where} ORDER BY c.asked_at LIMIT ?",
        (*params, limit),
    )


async def quiet_not_asked(
    db: Database, place_ids: list[str] | None, now: datetime, cutoff: datetime, limit: int = 50
) -> list[Row]:
    """Members quiet past the threshold with nothing open: not asked yet, or unreachable everywhere
    (``reachable`` 0) — those are never asked and wait here for a human."""
    where, params = _place_filter(place_ids, "p.place_id")
    return await db.fetchall(
        "SELECT p.id, p.first_name AS name, p.place_id, p.last_active_at, "
        "EXISTS (SELECT 1 FROM identities i WHERE i.person_id = COALESCE(h.helper_id, p.id) "
        "AND i.unreachable_at IS NULL) AS reachable FROM people p "
        "LEFT JOIN checkin_helpers h ON h.person_id = p.id "
        "WHERE p.checkins = 1 AND p.onboarded_at IS NOT NULL AND p.last_active_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.person_id = p.id "
        "AND (c.closed_at IS NULL OR c.closed_at > ? OR c.resolved_at IS NULL)) "
        f"AND NOT EXISTS (SELECT 1 FROM checkin_away a WHERE a.person_id = p.id AND a.until > ?){where} "
        "ORDER BY p.last_active_at LIMIT ?",
        (to_iso(cutoff), to_iso(cutoff), to_iso(cutoff), *params, limit),
    )


# ---- privacy --------------------------------------------------------------------------------------


async def export(db: Database, person_id: int) -> dict[str, Any]:
    """What /mydata shows of check-ins: theirs, an absence, and the neighbours they help."""
    rows = await db.fetchall("SELECT * FROM checkins WHERE person_id = ? ORDER BY id", (person_id,))
    away = await db.fetchone("SELECT until, set_at FROM checkin_away WHERE person_id = ?", (person_id,))
    helped = await db.fetchall(
        "SELECT p.id, p.first_name, p.place_id, h.consent_confirmed_at FROM checkin_helpers h "
        "JOIN people p ON p.id = h.person_id WHERE h.helper_id = ?",
        (person_id,),
    )
    told_rows = await db.fetchall(
        "SELECT checkin_id, role, told_at FROM checkin_told WHERE person_id = ? ORDER BY told_at", (person_id,)
    )
    return {
        "checkins": [dict(r) for r in rows],
        "told_about_neighbours": [dict(r) for r in told_rows],
        "away": dict(away) if away else None,
        "helping": [dict(r) for r in helped],
    }


async def erase(db: Database, person_id: int) -> None:
    """Their check-ins and absence go with their record (cascade); neighbours they registered, who
    exist here only through them, are erased too; check-ins that named them as told forget it."""
    await db.execute(
        "DELETE FROM people WHERE id IN (SELECT person_id FROM checkin_helpers WHERE helper_id = ?) "
        "AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.person_id = people.id)",
        (person_id,),
    )
    await db.execute("DELETE FROM checkins WHERE person_id = ?", (person_id,))
    await db.execute("DELETE FROM checkin_away WHERE person_id = ?", (person_id,))
    await db.execute("UPDATE checkins SET told_id = NULL WHERE told_id = ?", (person_id,))
    await db.execute("DELETE FROM checkin_told WHERE person_id = ?", (person_id,))
    await db.execute("UPDATE checkins SET helper_id = NULL WHERE helper_id = ?", (person_id,))
    await db.execute("UPDATE checkins SET outcome_by = NULL WHERE outcome_by = ?", (person_id,))
