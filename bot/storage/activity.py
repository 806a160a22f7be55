"""Who spoke in their circle in which week: the "active per week" of /stats, nothing more.

Only (week, person, neighbourhood) is kept — never what was said. The rows of a person go with them
on /forget (foreign key cascade).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.storage.database import Database


def week_of(moment: datetime) -> date:
    """The Monday (UTC) of the week a moment falls in."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


async def mark(db: Database, rows: list[tuple[str, int, str]]) -> None:
    """(week, person id, place id) rows; repeats are ignored."""
    await db.executemany(
        "INSERT INTO weekly_active (week, person_id, place_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows
    )


async def export(db: Database, person_id: int) -> dict[str, object]:
    rows = await db.fetchall("SELECT week FROM weekly_active WHERE person_id = ? ORDER BY week", (person_id,))
    return {"active_weeks": [r[0] for r in rows]}
