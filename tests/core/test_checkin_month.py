"""A month of a 1,000-member neighbourhood, lived hour by hour with the movable clock.

Members are inserted straight into the database (onboarding them one by one would take minutes), then
the bot lives as in production: a scheduler tick every hour, deliveries settled, and every answer a
real button press or command through the inbox. Behaviours vary: active neighbours, people who fade
away and answer promptly, late or never, people who ask for a chat, go away, opt out, stop the
check-ins, or blocked the bot. Hosts answer escalations (or not), the moderator settles alerts.

The simulation keeps its own account of each member's last sign of life and checks, every hour and
at the end, what the issue asks for; the figures are printed (``pytest -s``) and any failure fails.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.checkins.decisions import QuietHours, is_quiet
from bot.core.chat import ChoiceIn, CommandIn
from bot.core.clock import from_iso, to_iso
from tests.core.conftest import Neighbours
from tests.core.month_helpers import touch_due

MEMBERS = 1000
DAYS = 30
PLACE = "nb:belleville"
KINDS = {  # share of members
    "active": 0.55, "fading": 0.15, "chatty": 0.05, "away": 0.10, "opted_out": 0.08, "unreachable": 0.02,
    "stopper": 0.05,
}
FADING_ANSWERS = {"prompt": 0.4, "late": 0.2, "never": 0.4}


@dataclass
class Member:
    id: int
    user: str
    kind: str
    answers: str = "never"  # prompt | late | never | chat | stop
    quiet_from: datetime | None = None  # silent after this moment (None: active all month)
    opted_in: bool = True
    reachable: bool = True
    away: list[tuple[datetime, datetime]] = field(default_factory=list)  # (from, until)
    last_life: datetime | None = None


@dataclass
class Month:
    hood: Neighbours
    rng: random.Random
    members: dict[int, Member] = field(default_factory=dict)
    by_user: dict[str, Member] = field(default_factory=dict)
    due_events: list[tuple[datetime, str, object]] = field(default_factory=list)  # (when, user, body)
    activity: dict[int, list[datetime]] = field(default_factory=dict)  # planned activity moments
    hosts: list[int] = field(default_factory=list)
    moderator: int = 0
    late_asks: list[str] = field(default_factory=list)
    asked_once: set[int] = field(default_factory=set)
    first_delays: list[float] = field(default_factory=list)  # hours from crossing the threshold to the ask
    seen_messages: int = 0
    escalation_messages: Counter = field(default_factory=Counter)
    asks_to_excluded: int = 0
    figures: Counter = field(default_factory=Counter)

    @property
    def core(self):
        return self.hood.core

    def away_at(self, member: Member, moment: datetime) -> bool:
        return any(start <= moment < until for start, until in member.away)


# ---- building the neighbourhood -----------------------------------------------------------------------


def pick(rng: random.Random, shares: dict[str, float]) -> str:
    roll, total = rng.random(), 0.0
    for name, share in shares.items():
        total += share
        if roll < total:
            return name
    return name


async def populate(month: Month, start: datetime) -> None:
    """1,000 members in 125 circles of 8, one host each; member 1 moderates the neighbourhood."""
    rng, db = month.rng, month.core.db
    people_rows, identity_rows, circle_rows, member_rows = [], [], [], []
    kinds = ["active"] * 125 + [pick(rng, KINDS) for _ in range(MEMBERS - 125)]  # hosts are active
    rng.shuffle(kinds[125:])
    for i, kind in enumerate(kinds, start=1):
        member = Member(i, f"m{i}", kind)
        shape(month, member, start)
        member.last_life = start - timedelta(hours=rng.randint(0, 72))
        month.members[i], month.by_user[member.user] = member, member
        people_rows.append((i, f"Voisin{i}", "fr", to_iso(start), PLACE, int(member.opted_in), to_iso(start),
                            to_iso(member.last_life), to_iso(start)))
        identity_rows.append(("fake", member.user, i, f"dm:{member.user}", None if member.reachable else to_iso(start)))
    others = list(range(126, MEMBERS + 1))
    for c in range(125):  # circle c+1: host c+1 and seven others
        circle_rows.append((c + 1, PLACE, c + 1, to_iso(start)))
        member_rows.append((c + 1, c + 1, "host", to_iso(start)))
        member_rows += [(c + 1, p, "member", to_iso(start)) for p in others[c * 7:(c + 1) * 7]]
    month.hosts = list(range(1, 126))
    month.moderator = 1
    async with db.transaction():
        await db.executemany(
            "INSERT INTO people (id, first_name, language, consent_at, place_id, checkins, onboarded_at, "
            "last_active_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", people_rows)
        await db.executemany("INSERT INTO identities (platform, user_id, person_id, private_chat_id, unreachable_at) "
                             "VALUES (?, ?, ?, ?, ?)", identity_rows)
        await db.executemany("INSERT INTO circles (id, place_id, number, created_at) VALUES (?, ?, ?, ?)", circle_rows)
        await db.executemany("INSERT INTO circle_members (circle_id, person_id, role, joined_at) VALUES (?, ?, ?, ?)",
                             member_rows)
        await db.execute("INSERT INTO roles (person_id, role, place_id, granted_at) VALUES (1, 'moderator', ?, ?)",
                         (PLACE, to_iso(start)))
        await add_contacts(month, db)


async def add_contacts(month: Month, db) -> None:
    """A third of the fading members chose a neighbour (an active host), who said yes."""
    fading = [m for m in month.members.values() if m.kind == "fading"]
    for member in fading[::3]:
        contact = month.rng.choice(month.hosts[1:])
        await db.execute("UPDATE people SET contact_person_id = ?, contact_confirmed_at = created_at WHERE id = ?",
                         (contact, member.id))


def shape(month: Month, member: Member, start: datetime) -> None:
    """Plan a member's month from their kind."""
    rng = month.rng
    end = start + timedelta(days=DAYS)
    if member.kind == "active":
        plan_activity(month, member, start, end)
    elif member.kind == "fading":
        member.quiet_from = start + timedelta(days=rng.uniform(0, 12))
        member.answers = pick(rng, FADING_ANSWERS)
        plan_activity(month, member, start, member.quiet_from)
    elif member.kind in ("chatty", "stopper"):
        member.quiet_from = start
        member.answers = "chat" if member.kind == "chatty" else "stop"
    elif member.kind == "away":
        leave = start + timedelta(days=rng.uniform(0, 6), hours=rng.randint(0, 10))
        days = rng.randint(5, 20)
        month.due_events.append((leave, member.user, CommandIn("absent", f"{days} jours")))
        plan_activity(month, member, start, leave)
        back = start + timedelta(days=DAYS + 10)
        if rng.random() < 0.5:  # half come back and talk again a few days after their return
            back = leave + timedelta(days=days + rng.randint(2, 5))
            plan_activity(month, member, back, end)
        member.answers = "prompt"
    elif member.kind == "opted_out":
        member.opted_in = False
        member.quiet_from = start
    elif member.kind == "unreachable":
        member.reachable = False
        member.quiet_from = start


def plan_activity(month: Month, member: Member, start: datetime, end: datetime) -> None:
    """Active: a message, a button or an RSVP every one to four days, at a daytime hour."""
    moments, moment = [], start + timedelta(hours=month.rng.randint(1, 60))
    while moment < end:
        moments.append(moment)
        moment += timedelta(days=month.rng.randint(1, 4), hours=month.rng.randint(-4, 4))
    month.activity.setdefault(member.id, []).extend(moments)


# ---- living an hour --------------------------------------------------------------------------------------


async def hour(month: Month, now: datetime) -> None:
    await record_activity(month, now)
    await press_due(month, now)
    await month.core.scheduler.tick()
    await month.core.settle()
    await read_new_messages(month, now)


async def record_activity(month: Month, now: datetime) -> None:
    """Messages in circles: the core batches last activity the same way (``people.touch_many``)."""
    for member_id in await touch_due(month.core.db, month.activity, now):
        month.members[member_id].last_life = now


async def press_due(month: Month, now: datetime) -> None:
    ready = [e for e in month.due_events if e[0] <= now]
    month.due_events = [e for e in month.due_events if e[0] > now]
    for _, user, body in ready:
        member = month.by_user[user]
        await month.core.receive(month.hood.platform.event(user, body))
        member.last_life = now
        if isinstance(body, CommandIn) and body.name == "absent":
            days = int(body.args.split()[0])
            zone = month.core.config.deployment.zone
            last_day = now.astimezone(zone).date() + timedelta(days=days)
            until = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), zone)
            member.away.append((now, until))
        if isinstance(body, ChoiceIn) and body.payload.startswith("checkin:stop:"):
            member.opted_in = False
        month.figures["presses"] += 1
    if ready:
        await month.core.settle()


async def read_new_messages(month: Month, now: datetime) -> None:
    """What members received this hour: they answer (or not) as their kind does."""
    sent = month.hood.platform.sent
    for message in sent[month.seen_messages:]:
        user = message.chat_id.removeprefix("dm:")
        member = month.by_user.get(user)
        payloads = [c.payload for c in message.choices]
        if member is None:
            continue
        if any(p.startswith("checkin:fine:") for p in payloads):
            on_asked(month, member, payloads, now, reminder="redemander" in message.text)
        elif any(p.startswith("checkin:ok:") for p in payloads):
            on_escalation(month, member, payloads, now)
        elif any(p.startswith("checkin:resolved:") for p in payloads):
            month.figures["moderator alerts"] += 1
            schedule(month, now + timedelta(hours=24), user, payloads[0])
        elif any(p.startswith("checkin:talked:") for p in payloads):
            month.figures["chat requests"] += 1
            schedule(month, now + timedelta(hours=month.rng.randint(2, 30)), user, payloads[0])
        elif any(p.startswith("checkin_away.until:") for p in payloads):
            schedule(month, now + timedelta(minutes=5), user, "checkin_away.until:2w")
    month.seen_messages = len(sent)


def schedule(month: Month, when: datetime, user: str, payload: str) -> None:
    month.due_events.append((when, user, ChoiceIn(payload)))


def on_asked(month: Month, member: Member, payloads: list[str], now: datetime, *, reminder: bool) -> None:
    month.figures["reminders" if reminder else "asked"] += 1
    if not member.opted_in or month.away_at(member, now):
        month.asks_to_excluded += 1
    if reminder:
        return
    if member.kind in ("fading", "chatty", "stopper") and member.id not in month.asked_once:
        month.asked_once.add(member.id)
        crossing = member.last_life + timedelta(days=month.core.config.checkins.threshold_days)
        month.first_delays.append((now - crossing).total_seconds() / 3600)
    rng = month.rng
    by_answer = {p.split(":")[1]: p for p in payloads}
    if member.answers == "prompt":
        schedule(month, now + timedelta(hours=rng.randint(1, 20)), member.user, by_answer["fine"])
    elif member.answers == "late":
        schedule(month, now + timedelta(hours=rng.randint(50, 80)), member.user, by_answer["fine"])
    elif member.answers in ("chat", "stop"):
        schedule(month, now + timedelta(hours=rng.randint(1, 6)), member.user, by_answer[member.answers])


def on_escalation(month: Month, host: Member, payloads: list[str], now: datetime) -> None:
    checkin_id = int(payloads[0].split(":")[2])
    month.escalation_messages[checkin_id] += 1
    month.escalation_messages[(checkin_id, host.user)] += 1
    roll = month.rng.random()
    if roll < 0.6:
        schedule(month, now + timedelta(hours=month.rng.randint(2, 10)), host.user, payloads[0])
    elif roll < 0.8:
        schedule(month, now + timedelta(hours=month.rng.randint(2, 10)), host.user, payloads[1])


# ---- checking, every hour and at the end ---------------------------------------------------------------


async def check_nobody_waits(month: Month, now: datetime, threshold: timedelta) -> None:
    """Every member past the threshold (counted from their last sign of life) has been asked within
    24 hours: nobody eligible is left quiet and un-asked for longer."""
    db = month.core.db
    open_ids = {r[0] for r in await db.fetchall("SELECT person_id FROM checkins WHERE closed_at IS NULL")}
    closed = {r[0]: from_iso(r[1]) for r in await db.fetchall(
        "SELECT person_id, MAX(closed_at) FROM checkins WHERE closed_at IS NOT NULL GROUP BY person_id")}
    for member in month.members.values():
        if not member.opted_in or not member.reachable or member.id in open_ids or month.away_at(member, now):
            continue
        life = max([member.last_life, closed.get(member.id, member.last_life)]
                   + [until for _, until in member.away if until <= now])
        if now - life > threshold + timedelta(hours=24):
            month.late_asks.append(f"{member.user} ({member.kind}) quiet since {life}, not asked at {now}")


async def check_asks(month: Month, start: datetime, threshold: timedelta) -> list[str]:
    """Each check-in: outside quiet hours, to someone opted in and not away."""
    config = month.core.config
    hours = QuietHours.parse(config.checkins.quiet_start, config.checkins.quiet_end)
    problems = []
    for row in await month.core.db.fetchall("SELECT person_id, asked_at FROM checkins"):
        member, asked = month.members[row[0]], from_iso(row[1])
        if is_quiet(asked, hours, config.deployment.zone):
            problems.append(f"{member.user} asked at night {asked}")
        if month.away_at(member, asked) or member.kind == "opted_out":
            problems.append(f"{member.user} ({member.kind}) asked while away or opted out")
    return problems


async def check_escalations(month: Month, end: datetime) -> tuple[int, int, list[str]]:
    """Every check-in unanswered after the delay was escalated exactly once (then one message per
    stage of the ladder, nobody twice), and no answered one was."""
    delay = timedelta(hours=month.core.config.checkins.escalation_hours)
    stages = {r[0]: r[1] for r in await month.core.db.fetchall(
        "SELECT checkin_id, COUNT(*) FROM checkin_told WHERE role IN ('contact', 'host', 'moderator', 'admin') "
        "GROUP BY checkin_id")}
    twice = [key for key, n in month.escalation_messages.items() if isinstance(key, tuple) and n > 1]
    rows = await month.core.db.fetchall("SELECT id, asked_at, answered_at, escalated_at, told_id FROM checkins")
    unanswered = escalated_once = 0
    problems = []
    for checkin_id, asked, answered, escalated, told in rows:
        asked_at = from_iso(asked)
        if asked_at + delay + timedelta(hours=1) > end:
            continue
        sent = month.escalation_messages[checkin_id]
        on_time = answered and from_iso(answered) < asked_at + delay
        if on_time:
            if escalated or sent:
                problems.append(f"check-in {checkin_id} answered in time but escalated")
            continue
        unanswered += 1
        if escalated and from_iso(escalated) - asked_at <= delay + timedelta(hours=1) and sent == stages.get(
                checkin_id, 0) and (sent >= 1) == bool(told):
            escalated_once += 1
        else:
            problems.append(f"check-in {checkin_id}: escalated {escalated}, {sent} messages")
    problems += [f"told twice: {key}" for key in twice]
    return unanswered, escalated_once, problems


async def test_a_month_of_a_thousand_neighbours(hood: Neighbours) -> None:
    started = time.perf_counter()
    month = Month(hood, random.Random(6))
    start = hood.clock.now()
    threshold = timedelta(days=hood.core.config.checkins.threshold_days)
    await populate(month, start)
    month.due_events.sort(key=lambda e: e[0])
    for _ in range(DAYS * 24):
        now = hood.clock.advance(hours=1)
        await hour(month, now)
        await check_nobody_waits(month, now, threshold)
    end = hood.clock.now()
    ask_problems = await check_asks(month, start, threshold)
    unanswered, escalated_once, escalation_problems = await check_escalations(month, end)
    rows = await hood.core.db.fetchall("SELECT answer, outcome, COUNT(*) FROM checkins GROUP BY answer, outcome")
    delays = month.first_delays
    kinds = Counter(m.kind for m in month.members.values())
    print(f"\nA month of {MEMBERS} members ({dict(kinds)}), hourly ticks, {time.perf_counter() - started:.1f} s")
    print(f"check-ins asked: {month.figures['asked']}, reminders: {month.figures['reminders']}, "
          f"presses: {month.figures['presses']}")
    print("answers / outcomes:", {f"{a or '-'}/{o or '-'}": n for a, o, n in rows})
    print(f"unanswered after the delay: {unanswered}, escalated exactly once: {escalated_once}; "
          f"moderator alerts: {month.figures['moderator alerts']}, chat requests: {month.figures['chat requests']}")
    print(f"quiet → asked: max {max(delays, default=0):.1f} h, mean {sum(delays) / max(1, len(delays)):.1f} h "
          f"over {len(delays)} first check-ins; members past threshold not asked within 24 h: {len(month.late_asks)}")
    print(f"check-ins to members away or opted out: {month.asks_to_excluded}; problems: "
          f"{len(ask_problems) + len(escalation_problems)}")
    assert month.figures["asked"] > 100 and unanswered > 20
    assert month.late_asks == [], month.late_asks[:5]
    assert ask_problems == [], ask_problems[:5]
    assert escalation_problems == [], escalation_problems[:5]
    assert unanswered == escalated_once
    assert month.asks_to_excluded == 0
    assert max(delays) <= 24
