"""A month of care across the October clock change: what happens around a check-in, not only the ask.

150 residents in three neighbourhoods of the default deployment (Belleville, Ménilmontant, Charonne),
circles of eight with a host each, moderators, one admin, lived hour by hour from 10 October to
9 November 2026 (clocks go back on 25 October) with the real scheduler and the movable clock. Every
answer is a real button press, command, private message or circle message through the inbox.

What this month holds that ``test_checkin_month`` does not: chosen contacts who declined, never answer,
go away or go quiet themselves; a host who blocked the bot; the only moderator of Charonne going quiet;
people who answer only after they were escalated (in their circle, privately with a typed "ça va", or
by the button); people who ask for a chat or answer late at night; residents who use /pause.

Checked every hour and at the end: every eligible quiet member asked within 24 hours of crossing the
threshold, and again after each new silence; no check-in message to anyone in quiet hours except the
answers to what they just did; every unanswered check-in escalated, each stage of the ladder once and
nobody twice; nobody told about themself, nor while away, quiet past the threshold or unreachable; no
check-in open longer than the ladder's total time. The figures print with ``pytest -s``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from adapters.memory import MemoryPlatform
from bot.assemble import build_core
from bot.checkins.decisions import QuietHours, is_quiet, ladder_total, quiet_cutoff
from bot.core.app import Core
from bot.core.chat import ChoiceIn, CommandIn, Outgoing, TextIn
from bot.core.clock import FakeClock, from_iso, to_iso
from bot.storage import circles as circle_store
from bot.storage.database import Database
from tests.core.month_helpers import touch_due

START = datetime(2026, 10, 10, 6, 0, tzinfo=UTC)  # 08:00 in Paris, summer time
DAYS = 30
PLACES = ("nb:belleville", "nb:menilmontant", "nb:charonne")
PER_PLACE = 50
SEED = 20
CIRCLE = 8
FADING_STYLES = {"prompt": 0.2, "late_button": 0.15, "never": 0.2, "circle_after": 0.15, "typed_after": 0.15,
                 "chat_at_night": 0.15}
STAFF_ANSWERS = {"ok": 0.45, "unreached": 0.2, "never": 0.35}
CHECKIN_BUTTONS = ("checkin:fine:", "checkin:ok:", "checkin:resolved:", "checkin:talked:")
ALL_CLEAR = ("Bonne nouvelle", "a répondu à ma question")



@dataclass
class Resident:
    id: int
    user: str
    place: str
    kind: str = "active"  # active | fading | away | opted_out | unreachable | pauser | quiet_moderator
    style: str = "never"  # how a fading resident answers (FADING_STYLES)
    quiet_from: datetime | None = None
    opted_in: bool = True
    reachable: bool = True
    paused_at: datetime | None = None
    away: list[tuple[datetime, datetime]] = field(default_factory=list)
    last_life: datetime = START
    staff: str = ""  # host | moderator | admin


@dataclass
class Month:
    core: Core
    platform: MemoryPlatform
    clock: FakeClock
    rng: random.Random
    residents: dict[int, Resident] = field(default_factory=dict)
    by_user: dict[str, Resident] = field(default_factory=dict)
    events: list[tuple[datetime, str, object, str | None]] = field(default_factory=list)  # when, user, body, room
    activity: dict[int, list[datetime]] = field(default_factory=dict)
    seen: int = 0
    told: Counter = field(default_factory=Counter)  # (check-in id, recipient) -> escalation messages
    all_clears: Counter = field(default_factory=Counter)  # (recipient, subject's name) -> all-clears
    answered_late: dict[str, str] = field(default_factory=dict)  # user -> how they answered after escalation
    problems: list[str] = field(default_factory=list)
    figures: Counter = field(default_factory=Counter)

    @property
    def hours(self) -> QuietHours:
        settings = self.core.config.checkins
        return QuietHours.parse(settings.quiet_start, settings.quiet_end)

    @property
    def zone(self):
        return self.core.config.deployment.zone

    @property
    def threshold(self) -> timedelta:
        return timedelta(days=self.core.config.checkins.threshold_days)

    def away_at(self, r: Resident, moment: datetime) -> bool:
        return any(start <= moment < until for start, until in r.away)

    def local(self, moment: datetime, hour: int, minute: int = 0) -> datetime:
        """The next ``hour``:``minute`` in Paris from ``moment``."""
        here = moment.astimezone(self.zone)
        target = here.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return (target if target > here else target + timedelta(days=1)).astimezone(UTC)

    def at(self, when: datetime, user: str, body: object, room: str | None = None) -> None:
        self.events.append((when, user, body, room))


# ---- the neighbourhoods --------------------------------------------------------------------------------


def pick(rng: random.Random, shares: dict[str, float]) -> str:
    roll, total = rng.random(), 0.0
    for name, share in shares.items():
        total += share
        if roll < total:
            return name
    return name


async def populate(month: Month) -> None:
    """Three neighbourhoods of 50: circles of eight with a host, two moderators in Belleville and
    Ménilmontant, a single one in Charonne (who goes quiet on day 3), the admin in Belleville."""
    rng, db = month.rng, month.core.db
    people_rows, identity_rows, circle_rows, member_rows, role_rows = [], [], [], [], []
    pid = circle_id = 0
    for place in PLACES:
        ids = list(range(pid + 1, pid + PER_PLACE + 1))
        pid += PER_PLACE
        for i in ids:
            r = Resident(i, f"r{i}", place, last_life=START - timedelta(hours=rng.randint(0, 72)))
            month.residents[i], month.by_user[r.user] = r, r
        for start in range(0, PER_PLACE, CIRCLE):
            circle_id += 1
            members = ids[start:start + CIRCLE]
            circle_rows.append((circle_id, place, circle_id, to_iso(START)))
            for n, member in enumerate(members):
                member_rows.append((circle_id, member, "host" if n == 0 else "member", to_iso(START)))
                if n == 0:
                    month.residents[member].staff = "host"
            month.platform.rooms[f"room:{circle_id}"] = {month.residents[m].user for m in members}
        moderators = ids[1:3] if place != "nb:charonne" else ids[1:2]
        for m in moderators:
            month.residents[m].staff = "moderator"
            role_rows.append((m, place, to_iso(START)))
        if place == "nb:charonne":
            month.residents[moderators[0]].kind = "quiet_moderator"
    month.residents[4].staff = "admin"  # a Belleville resident
    month.platform.blocked.add("r57")  # a Ménilmontant host who blocked the bot (it learns when a send fails)
    for r in month.residents.values():
        shape(month, r)
        people_rows.append((r.id, f"Voisin{r.id}", "fr", to_iso(START), r.place, int(r.opted_in), to_iso(START),
                            to_iso(r.last_life), to_iso(START)))
        identity_rows.append(("fake", r.user, r.id, f"dm:{r.user}", None if r.reachable else to_iso(START)))
    async with db.transaction():
        await db.executemany(
            "INSERT INTO people (id, first_name, language, consent_at, place_id, checkins, onboarded_at, "
            "last_active_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", people_rows)
        await db.executemany("INSERT INTO identities (platform, user_id, person_id, private_chat_id, unreachable_at) "
                             "VALUES (?, ?, ?, ?, ?)", identity_rows)
        await db.executemany("INSERT INTO circles (id, place_id, number, created_at) VALUES (?, ?, ?, ?)", circle_rows)
        await db.executemany("INSERT INTO circle_members (circle_id, person_id, role, joined_at) VALUES (?, ?, ?, ?)",
                             member_rows)
        for c in range(1, circle_id + 1):
            await circle_store.set_room(db, c, "fake", f"room:{c}")
        await db.executemany("INSERT INTO roles (person_id, role, place_id, granted_at) VALUES (?, 'moderator', ?, ?)",
                             role_rows)
        await choose_contacts(month)


def shape(month: Month, r: Resident) -> None:
    """A resident's month from their kind (staff stay active, except Charonne's moderator)."""
    rng, end = month.rng, START + timedelta(days=DAYS)
    if r.kind == "quiet_moderator":
        r.quiet_from = START + timedelta(days=3)
        plan(month, r, START, r.quiet_from)
        return
    if not r.staff:
        r.kind = pick(rng, {"active": 0.40, "fading": 0.38, "away": 0.10, "opted_out": 0.04, "unreachable": 0.03,
                            "pauser": 0.05})
    if r.kind == "active":
        plan(month, r, START, end)
    elif r.kind == "fading":
        r.quiet_from = START + timedelta(days=rng.uniform(0, 14))
        r.style = pick(rng, FADING_STYLES)
        plan(month, r, START, r.quiet_from)
    elif r.kind == "away":
        leave = month.local(START + timedelta(days=rng.uniform(0, 10)), rng.randint(10, 17))
        days = rng.randint(4, 15)
        month.at(leave, r.user, CommandIn("absent", f"{days} jours"))
        plan(month, r, START, leave)
        if rng.random() < 0.6:
            plan(month, r, leave + timedelta(days=days + rng.randint(1, 3)), end)
    elif r.kind == "opted_out":
        r.opted_in = False
    elif r.kind == "unreachable":
        r.reachable = False
    elif r.kind == "pauser":
        month.at(month.local(START + timedelta(days=rng.uniform(0, 3)), rng.randint(10, 18)), r.user,
                 CommandIn("pause", ""))


def plan(month: Month, r: Resident, start: datetime, end: datetime) -> None:
    """Active: a message or a button every one to four days, at a daytime hour."""
    moments, moment = [], month.local(start, month.rng.randint(10, 19))
    while moment < end:
        moments.append(moment)
        moment = month.local(moment + timedelta(days=month.rng.randint(1, 4)) - timedelta(hours=12),
                             month.rng.randint(10, 19))
    month.activity.setdefault(r.id, []).extend(moments)


async def choose_contacts(month: Month) -> None:
    """Half of the fading residents chose a neighbour of their own neighbourhood: most said yes, some
    declined (never on the ladder). Contacts are whoever they picked: active, away, fading, unreachable."""
    db = month.core.db
    for r in [r for r in month.residents.values() if r.kind == "fading"][::2]:
        others = [o for o in month.residents.values() if o.place == r.place and o.id != r.id and not o.staff]
        contact = month.rng.choice(others)
        confirmed = month.rng.random() < 0.75
        month.figures["contacts confirmed" if confirmed else "contacts declined"] += 1
        await db.execute("UPDATE people SET contact_person_id = ?, contact_confirmed_at = ? WHERE id = ?",
                         (contact.id, to_iso(START) if confirmed else None, r.id))


# ---- an hour ---------------------------------------------------------------------------------------------


async def hour(month: Month, now: datetime) -> None:
    await quiet_activity(month, now)
    ready = sorted((e for e in month.events if e[0] <= now), key=lambda e: e[0])
    month.events = [e for e in month.events if e[0] > now]
    for _, user, body, room in ready:
        await act(month, now, user, body, room)
    await month.core.scheduler.tick()
    await month.core.settle()
    await read(month, now, acting=None)


async def quiet_activity(month: Month, now: datetime) -> None:
    """Everyday messages in circles: last activity written as the core batches it."""
    for rid in await touch_due(month.core.db, month.activity, now):
        month.residents[rid].last_life = now


async def act(month: Month, now: datetime, user: str, body: object, room: str | None) -> None:
    """One resident does something through the core; what they receive back is an answer to it."""
    r = month.by_user[user]
    month.clock.set(now)
    await month.core.receive(month.platform.event(user, body, chat=room))  # type: ignore[arg-type]
    await month.core.settle()
    r.last_life = now
    if isinstance(body, CommandIn) and body.name == "absent":
        days = int(body.args.split()[0])
        last_day = now.astimezone(month.zone).date() + timedelta(days=days)
        until = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), month.zone)
        r.away.append((now, until.astimezone(UTC)))
    if isinstance(body, CommandIn) and body.name == "pause":
        r.paused_at = now
    if isinstance(body, ChoiceIn) and body.payload.startswith("checkin:stop:"):
        r.opted_in = False
    month.figures["actions"] += 1
    await read(month, now, acting=user)


async def read(month: Month, now: datetime, acting: str | None) -> None:
    """Everything delivered since the last look: checked, then answered as each resident would."""
    sent = month.platform.sent
    for message in sent[month.seen:]:
        user = message.chat_id.removeprefix("dm:")
        r = month.by_user.get(user)
        if r is None:
            continue
        check_message(month, r, message, now, own_answer=user == acting)
        respond(month, r, message, now)
    month.seen = len(sent)


def payloads(message: Outgoing) -> list[str]:
    return [c.payload for c in message.choices]


def is_care(message: Outgoing) -> bool:
    return any(p.startswith(CHECKIN_BUTTONS) for p in payloads(message)) or any(
        phrase in message.text for phrase in ALL_CLEAR)


def check_message(month: Month, r: Resident, message: Outgoing, now: datetime, *, own_answer: bool) -> None:
    """No check-in message at night (but the answer to what one just did); nobody told about
    themself, nor while away, quiet past the threshold or unreachable."""
    if not is_care(message):
        return
    if is_quiet(now, month.hours, month.zone) and not own_answer:
        month.problems.append(f"{r.user} got a check-in message at night ({now}): {message.text[:60]}")
    about = [p for p in payloads(message) if p.startswith(("checkin:ok:", "checkin:resolved:", "checkin:talked:"))]
    if not about and not any(phrase in message.text for phrase in ALL_CLEAR):
        return
    if f"Voisin{r.id} " in message.text or f"Voisin{r.id}," in message.text:
        month.problems.append(f"{r.user} was told about themself: {message.text[:60]}")
    if month.away_at(r, now):
        month.problems.append(f"{r.user} was told while away ({now})")
    if r.last_life < quiet_cutoff(now, month.core.config.checkins.threshold_days, month.zone):
        month.problems.append(f"{r.user} was told while quiet since {r.last_life} ({now})")
    if not r.reachable:
        month.problems.append(f"{r.user} was told though unreachable")
    if any(phrase in message.text for phrase in ALL_CLEAR):
        month.all_clears[(r.user, message.text.split(" ")[3 if message.text.startswith("Bonne") else 0])] += 1
    for p in about:
        if p.startswith("checkin:ok:"):
            month.told[(int(p.split(":")[2]), r.user)] += 1


def can_answer(month: Month, r: Resident, now: datetime) -> bool:
    """Staff and active residents answer what they are told; the quiet, the away and the gone do not."""
    return r.kind in ("active", "pauser") or (r.kind == "away" and not month.away_at(r, now)) or (
        r.quiet_from is not None and now < r.quiet_from)


def respond(month: Month, r: Resident, message: Outgoing, now: datetime) -> None:
    rng, found = month.rng, payloads(message)
    by_verb = {p.split(":")[1]: p for p in found if p.startswith("checkin:")}
    if "fine" in by_verb and "redemander" not in message.text:
        asked(month, r, by_verb, now)
    elif "ok" in by_verb and can_answer(month, r, now):
        choice = pick(rng, STAFF_ANSWERS)
        if choice != "never":
            month.at(now + timedelta(hours=rng.randint(2, 20)), r.user, ChoiceIn(by_verb[choice]))
    elif "resolved" in by_verb and can_answer(month, r, now) and rng.random() < 0.3:
        month.at(now + timedelta(hours=rng.randint(10, 40)), r.user, ChoiceIn(by_verb["resolved"]))
    elif "talked" in by_verb and can_answer(month, r, now):
        month.at(now + timedelta(hours=rng.randint(2, 30)), r.user, ChoiceIn(by_verb["talked"]))
    elif any(p.startswith("checkin_away.until:") for p in found):
        month.at(now + timedelta(minutes=5), r.user, ChoiceIn("checkin_away.until:2w"))


def asked(month: Month, r: Resident, by_verb: dict[str, str], now: datetime) -> None:
    """Asked whether all is well: answered as the resident's style says, some only after an escalation."""
    rng = month.rng
    month.figures["asked"] += 1
    if not r.opted_in or month.away_at(r, now) or (r.paused_at and r.paused_at < now):
        month.problems.append(f"{r.user} ({r.kind}) asked while away, opted out or paused")
    style = r.style if r.kind == "fading" else ("prompt" if can_answer(month, r, now) else "never")
    escalated = now + timedelta(hours=month.core.config.checkins.escalation_hours + rng.randint(3, 30))
    if style == "prompt":
        month.at(now + timedelta(hours=rng.randint(1, 20)), r.user, ChoiceIn(by_verb["fine"]))
    elif style == "late_button":
        month.at(escalated, r.user, ChoiceIn(by_verb["fine"]))
        month.answered_late[r.user] = style
    elif style == "circle_after":
        month.at(escalated, r.user, TextIn("Me revoilà !"), room=month.platform.room_of(r.user))
        month.answered_late[r.user] = style
    elif style == "typed_after":
        month.at(month.local(escalated, 23, 0), r.user, TextIn("ça va, merci"))
        month.answered_late[r.user] = style
    elif style == "chat_at_night":
        month.at(month.local(now, 22, 0), r.user, ChoiceIn(by_verb["chat"]))
    r.style = "prompt" if style != "never" else style  # once they answered, they answer from then on


# ---- checking -----------------------------------------------------------------------------------------


async def check_hour(month: Month, now: datetime) -> None:
    """Nobody eligible waits more than 24 hours past the threshold; no check-in open beyond the ladder."""
    db, settings = month.core.db, month.core.config.checkins
    longest = ladder_total(timedelta(hours=settings.escalation_hours), timedelta(hours=settings.stage_hours),
                           month.hours) + timedelta(hours=1)
    open_rows = await db.fetchall("SELECT person_id, asked_at FROM checkins WHERE closed_at IS NULL")
    for person, asked in open_rows:
        if now - from_iso(asked) > longest:
            month.problems.append(f"check-in of r{person} open since {asked} at {now}")
    opened = {r[0] for r in open_rows}
    closed = {r[0]: from_iso(r[1]) for r in await db.fetchall(
        "SELECT person_id, MAX(closed_at) FROM checkins WHERE closed_at IS NOT NULL GROUP BY person_id")}
    for r in month.residents.values():
        if not r.opted_in or not r.reachable or r.paused_at or r.id in opened or month.away_at(r, now):
            continue
        life = max([r.last_life, closed.get(r.id, r.last_life)] + [until for _, until in r.away if until <= now])
        if now - life > month.threshold + timedelta(hours=24):
            month.problems.append(f"{r.user} ({r.kind}) quiet since {life}, not asked at {now}")


async def check_ladders(month: Month) -> list[str]:
    """Every check-in unanswered after the delay escalated; each stage once; each person told once."""
    db, settings = month.core.db, month.core.config.checkins
    delay = timedelta(hours=settings.escalation_hours)
    problems = [f"r-{key} got {n} escalation messages" for key, n in month.told.items() if n > 1]
    stage_rows = await db.fetchall(
        "SELECT checkin_id, role, COUNT(*) FROM checkin_told WHERE role IN ('contact', 'host', 'moderator', "
        "'admin') GROUP BY checkin_id, role")
    problems += [f"check-in {c}: stage {role} {n} times" for c, role, n in stage_rows if n > 1]
    end = month.clock.now()
    for checkin_id, asked, answered, escalated in await db.fetchall(
            "SELECT id, asked_at, answered_at, escalated_at FROM checkins"):
        due = from_iso(asked) + delay
        if due + timedelta(hours=13) > end or (answered and from_iso(answered) < due):
            continue
        if escalated is None or from_iso(escalated) > due + timedelta(hours=13):  # a night may come first
            problems.append(f"check-in {checkin_id} asked {asked} escalated {escalated}")
        month.figures["escalated"] += 1
    return problems


async def check_all_clears(month: Month) -> tuple[set[str], list[str]]:
    """Escalated check-ins the person closed by showing life (in the circle, typed, by the button):
    each one told who can still act (staff, active residents) got the all-clear."""
    db, styles, problems = month.core.db, set(), []
    rows = await db.fetchall(
        "SELECT c.id, c.person_id, c.answer, c.outcome_by FROM checkins c WHERE c.escalated_at IS NOT NULL "
        "AND c.answer IN ('active', 'fine') AND c.answered_at > c.escalated_at")
    for checkin_id, person, answer, settled_by in rows:
        subject = month.residents[person]
        styles.add(month.answered_late.get(subject.user, answer))
        for (told,) in await db.fetchall("SELECT person_id FROM checkin_told WHERE checkin_id = ?", (checkin_id,)):
            r = month.residents[told]
            steady = (r.staff and r.kind != "quiet_moderator" and r.user != "r57") or r.kind == "active"
            if steady and told != settled_by and not month.all_clears[(r.user, f"Voisin{person}")]:
                problems.append(f"{r.user} told about check-in {checkin_id} never got the all-clear")
    return styles, problems


async def test_a_month_of_care_across_the_clock_change(tmp_path, config, content) -> None:
    started = time.perf_counter()
    db = await Database.open(tmp_path / "care.sqlite3")
    clock = FakeClock(START)
    config = replace(config, deployment=replace(config.deployment, admins=["fake:r4"]))
    core = build_core(config, db, content, clock)
    platform = MemoryPlatform()
    core.attach(platform)
    month = Month(core, platform, clock, random.Random(SEED))
    try:
        await populate(month)
        for _ in range(DAYS * 24):
            now = clock.advance(hours=1)
            await hour(month, now)
            await check_hour(month, now)
        month.problems += await check_ladders(month)
        styles, clear_problems = await check_all_clears(month)
        month.problems += clear_problems
        rows = await db.fetchall("SELECT answer, outcome, stage, COUNT(*) FROM checkins GROUP BY 1, 2, 3")
        figures = {f"{a or '-'}/{o or '-'}/{s or '-'}": n for a, o, s, n in rows}
        roles = dict(await db.fetchall("SELECT role, COUNT(*) FROM checkin_told GROUP BY role"))
        skipped = await db.scalar("SELECT COUNT(*) FROM audit WHERE action = 'checkin-skipped'")
        kinds = Counter(r.kind for r in month.residents.values())
        print(f"\nA month of care, {len(month.residents)} residents {dict(kinds)}, "
              f"{time.perf_counter() - started:.1f} s")
        print(f"asked {month.figures['asked']}, escalated {month.figures['escalated']}, told by role {roles}, "
              f"passed over (journal) {skipped}, actions {month.figures['actions']}")
        print("answer/outcome/stage:", figures)
        print(f"answered after an escalation: {sorted(styles)}; all-clears {sum(month.all_clears.values())}")
        print(f"problems: {len(month.problems)}", month.problems[:10])
        assert month.problems == [], month.problems[:10]
        assert month.figures["asked"] > 60 and month.figures["escalated"] > 15
        assert sum(n for key, n in figures.items() if key.startswith(("active/", "fine/"))) > 10
        assert roles.get("moderator", 0) > 0 and roles.get("alert", 0) > 0 and skipped > 0
        assert any(key.endswith("/services/services") for key in figures)
        assert {"circle_after", "typed_after", "late_button"} <= styles, styles
    finally:
        await db.close()
