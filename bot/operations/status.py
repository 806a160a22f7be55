"""``voisinage status``: what the bot is doing, read from the database (so it works from any shell),
and the same figures for /healthz and /metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.core.clock import from_iso
from bot.storage import leases as leases_store
from bot.storage import outbox as outbox_store
from bot.storage import runtime
from bot.storage.database import Database


@dataclass
class Status:
    now: datetime
    process: str | None  # "pid@host" while its heartbeat is fresh
    started: datetime | None
    contacts: dict[str, datetime]  # platform → last successful poll/sync
    scheduler_tick: datetime | None
    inbox: dict[tuple[str, str], int]  # (platform, status) → events
    outbox: dict[tuple[str, str, str, str], int]  # (platform, kind, class, status) → items
    outbox_oldest: dict[tuple[str, str, str], datetime]  # (platform, kind, class) → oldest waiting item
    jobs: list[tuple[str, datetime | None]]  # pass name, last run
    waiting_rooms: dict[str, int]  # platform → circles whose members wait for a room there (Telegram groups)
    checkins: dict[str, int] = field(default_factory=dict)  # open, escalated_open, asked, answered, escalated
    workers: list[str] = field(default_factory=list)  # workers alive (their "worker:" lease is fresh)
    leases: list[leases_store.Lease] = field(default_factory=list)  # who holds what (intake, rooms), live ones

    def problems(self, stale: timedelta) -> list[str]:
        """What /healthz fails on: a platform silent for too long, a scheduler that stopped looking."""
        found = [f"{platform}: no poll or sync for {_ago(self.now - seen)}"
                 for platform, seen in sorted(self.contacts.items()) if self.now - seen > stale]
        if self.process is None:
            found.append("no running process (no heartbeat)")
        elif self.scheduler_tick is None or self.now - self.scheduler_tick > stale:
            found.append("the scheduler has not looked for due passes lately")
        return found


async def gather(db: Database, now: datetime | None = None) -> Status:
    now = now or datetime.now(UTC)
    marks = await runtime.read(db)
    process = marks.get("process")
    alive = process is not None and runtime.alive(process[1], now)
    inbox = {(r[0], r[1]): r[2] for r in await db.fetchall_alone(
        "SELECT platform, status, COUNT(*) FROM inbox WHERE status != 'done' GROUP BY platform, status")}
    outbox = {(r[0], r[1], _class_name(r[2]), r[3]): r[4] for r in await db.fetchall_alone(
        "SELECT platform, kind, delivery_class, status, COUNT(*) FROM outbox WHERE status != 'sent' "
        "GROUP BY platform, kind, delivery_class, status")}
    oldest = {(r[0], r[1], _class_name(r[2])): from_iso(r[3]) for r in await db.fetchall_alone(
        "SELECT platform, kind, delivery_class, MIN(created_at) FROM outbox WHERE status IN ('pending', 'sending') "
        "GROUP BY platform, kind, delivery_class")}
    circle = db.dialect.json_field("o.payload", "circle_id", int)
    waiting_rooms = {r[0]: r[1] for r in await db.fetchall_alone(
        f"SELECT o.platform, COUNT(DISTINCT {circle}) FROM outbox o "
        "WHERE o.kind = 'invite' AND o.status = 'pending' AND NOT EXISTS (SELECT 1 FROM circle_rooms r "
        f"WHERE r.platform = o.platform AND r.circle_id = {circle}) "
        "GROUP BY o.platform")}
    jobs = [(r[0], from_iso(r[1]) if r[1] else None)
            for r in await db.fetchall_alone("SELECT name, last_run_at FROM jobs ORDER BY name")]
    return Status(
        now=now,
        process=process[0] if alive and process else None,
        started=marks["started"][1] if "started" in marks and alive else None,
        contacts={key.partition(":")[2]: when for key, (_, when) in marks.items() if key.startswith("contact:")},
        scheduler_tick=from_iso(marks["scheduler"][0]) if "scheduler" in marks else None,
        inbox=inbox, outbox=outbox, outbox_oldest=oldest, jobs=jobs, waiting_rooms=waiting_rooms,
        checkins=await _checkins(db),
        workers=await leases_store.alive_workers(db, now),
        leases=[lease for lease in await leases_store.all_leases(db)
                if lease.expires_at >= now and not lease.name.startswith((leases_store.WORKER_PREFIX, "turn:"))],
    )


def _class_name(delivery_class: int) -> str:
    """answer, care or bulk (``bot.storage.outbox``): the first question when a queue grows is whose it is."""
    return outbox_store.CLASS_NAMES.get(delivery_class, str(delivery_class))


async def _checkins(db: Database) -> dict[str, int]:
    row = await db.fetchall_alone(
        "SELECT COUNT(*), COUNT(answered_at), COUNT(escalated_at), "
        "COUNT(CASE WHEN closed_at IS NULL THEN 1 END), "  # COUNT of a CASE: no SUM of booleans (PostgreSQL)
        "COUNT(CASE WHEN closed_at IS NULL AND escalated_at IS NOT NULL THEN 1 END) "
        "FROM checkins")
    asked, answered, escalated, still_open, escalated_open = row[0]
    return {"asked": asked, "answered": answered, "escalated": escalated,
            "open": still_open, "escalated_open": escalated_open}


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h" if seconds < 172800 else f"{seconds // 86400} days"


def _workers(status: Status) -> list[str]:
    """Several `voisinage run` on one database: which are alive, and who holds which lease."""
    if not status.workers:
        return []
    lines = [f"Workers alive: {len(status.workers)}"]
    lines.extend(f"  {worker}" for worker in status.workers)
    for lease in status.leases:
        left = max(0, int((lease.expires_at - status.now).total_seconds()))
        lines.append(f"  {lease.name}: held by {lease.holder} for {_ago(status.now - lease.acquired_at)}"
                     f" (renewed, {left} s left)")
    return lines


def render(status: Status) -> str:
    """Plain lines for a person at a terminal."""
    lines = []
    if status.process:
        since = f", started {_ago(status.now - status.started)} ago" if status.started else ""
        lines.append(f"Running: yes ({status.process}{since})")
    else:
        lines.append("Running: no (no heartbeat in the last minute)")
    for platform, seen in sorted(status.contacts.items()):
        lines.append(f"  {platform}: last poll/sync {_ago(status.now - seen)} ago")
    lines.extend(_workers(status))
    tick = f"{_ago(status.now - status.scheduler_tick)} ago" if status.scheduler_tick else "never"
    lines.append(f"Scheduler: last looked for due passes {tick}")
    for name, ran in status.jobs:
        lines.append(f"  {name}: {'last ran ' + _ago(status.now - ran) + ' ago' if ran else 'never ran'}")
    waiting = sum(n for (_, state), n in status.inbox.items() if state == "new")
    failed = sum(n for (_, state), n in status.inbox.items() if state == "failed")
    lines.append(f"Inbox: {waiting} waiting, {failed} failed")
    lines.append("Outbox:" if status.outbox else "Outbox: nothing waiting")
    rank = {name: number for number, name in outbox_store.CLASS_NAMES.items()}
    for platform, kind, cls in sorted({key[:3] for key in status.outbox},
                                      key=lambda k: (k[0], rank.get(k[2], 9), k[1])):
        counts = {key[3]: n for key, n in status.outbox.items() if key[:3] == (platform, kind, cls)}
        oldest = status.outbox_oldest.get((platform, kind, cls))
        age = f", oldest {_ago(status.now - oldest)}" if oldest else ""
        lines.append(f"  {platform} {cls} {kind}: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
                     + age)
    for platform, circles in sorted(status.waiting_rooms.items()):
        lines.append(f"Circles waiting for a {platform} group: {circles} (moderators are asked once a day)")
    c = status.checkins
    lines.append(f"Check-ins: {c['open']} open ({c['escalated_open']} escalated); "
                 f"{c['asked']} asked in all, {c['answered']} answered, {c['escalated']} escalated")
    return "\n".join(lines)
