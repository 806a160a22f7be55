"""Protection of circles, applied: anti-flood, no links from newcomers, the word list, and the optional
local-knowledge question asked before a newcomer is placed.

The group hook runs before mirroring (it is put first in ``core.hooks.group``) and returns False to
hold a message back, so a muted member's words are not copied to the circle's other rooms. What it
cannot do is hide the message in the room where it was written: that needs the platform (Telegram
``restrictChatMember``, a Matrix power level) and is left to the adapters as a follow-up.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from rapidfuzz import fuzz

from bot.circles import place_in_circle
from bot.core import access, audit, roles
from bot.core.chat import Body, TextIn
from bot.core.clock import from_iso, to_iso
from bot.core.config import CONTENT_DIR
from bot.core.flows import StepFlow, typed
from bot.core.hooks import RoomEvent
from bot.core.router import Context
from bot.moderation.safety import FloodMeter, WordList, is_newcomer, judge, normalise_answer
from bot.storage import activity, outbox, people, sanctions
from bot.storage import circles as circle_store
from bot.storage.conversations import Conversation
from bot.storage.people import Person

QUESTION_FLOW = "localq"
# The running mutes are read again this often (seconds): with several workers, a mute one of them
# decided reaches the others' memory within this time (one query, not one per message).
MUTES_FRESH = 2.0
ATTEMPTS = 2


def content_path(path: str) -> Path | None:
    if not path:
        return None
    p = Path(path)
    return p if p.is_absolute() else CONTENT_DIR / p


class Guard:
    """The per-process state of the group hook: recent message times and weeks already counted."""

    def __init__(self, core) -> None:
        rules = core.config.moderation
        self.meter = FloodMeter(rules.flood_messages, rules.flood_seconds)
        self.words = WordList.load(content_path(rules.word_list))
        self._counted: set[tuple[str, int]] = set()
        self._week = ""
        # Kept in memory so a message costs no query here (a query is ~0.1 ms: half the core's budget
        # per message). Joining dates never change for a (person, circle); mutes are decided here.
        self._joined: dict[tuple[int, int], datetime | None] = {}
        self._mutes: dict[int, datetime] | None = None
        self._mutes_read_at = 0.0

    async def joined_at(self, core, person_id: int, circle_id: int) -> datetime | None:
        key = (person_id, circle_id)
        if key not in self._joined:
            if len(self._joined) > 100_000:
                self._joined.clear()
            value = await core.db.scalar(
                "SELECT joined_at FROM circle_members WHERE person_id = ? AND circle_id = ?", key
            )
            if value is None:
                return None  # not cached: they may be placed in this circle later
            self._joined[key] = from_iso(value)
            core.db.on_rollback(lambda: self._joined.pop(key, None))  # the placement may be undone
        return self._joined[key]

    async def is_muted(self, core, person_id: int, now: datetime) -> bool:
        if self._mutes is None or time.monotonic() - self._mutes_read_at > MUTES_FRESH:
            # After a start, and again every MUTES_FRESH: the mutes still running, including those another
            # worker sharing the database decided (a circle's room may be handled by either).
            rows = await core.db.fetchall("SELECT person_id, until FROM mutes WHERE until > ?", (to_iso(now),))
            self._mutes = {r[0]: from_iso(r[1]) for r in rows}
            self._mutes_read_at = time.monotonic()
            core.db.on_rollback(self._forget_mutes)  # read inside a transaction that may be undone
        until = self._mutes.get(person_id)
        if until is not None and until <= now:
            del self._mutes[person_id]
            return False
        return until is not None

    async def hook(self, core, room: RoomEvent) -> bool | None:
        event, person, circle_id, now = room.event, room.person, room.circle_id, room.now
        body = event.body
        if person is None or not isinstance(body, TextIn) or not body.text.strip():
            return None
        joined = await self.joined_at(core, person.id, circle_id)
        if joined is None:
            return None  # not a member of this circle: mirroring ignores them anyway
        await self.count_active(core, person, now)
        muted = await self.is_muted(core, person.id, now)
        verdict = judge(
            body.text,
            muted=muted,
            flooding=not muted and self._hit(core, person.id, now),
            newcomer=is_newcomer(joined, now, core.config.moderation.new_member_link_hours),
            words=self.words,
        )
        if verdict.relay:
            return None
        if verdict.reason == "flood":
            until = await mute_for_flood(core, person, circle_id, now)
            self._remember_mute(core, person.id, until)
        elif verdict.reason == "link":
            hours = core.config.moderation.new_member_link_hours
            await core.tell(core.db, person.id, lambda t: t("safety-link-wait", hours=hours), None, now,
                            delivery_class=outbox.ANSWER)
        elif verdict.reason == "word":
            await core.tell(core.db, person.id, lambda t: t("safety-word-held"), None, now,
                            delivery_class=outbox.ANSWER)
        return False

    async def count_active(self, core, person: Person, now: datetime) -> None:
        """One row per person and week, written once: the in-memory set saves a write per message."""
        week = activity.week_of(now).isoformat()
        if week != self._week:
            self._week, self._counted = week, set()
        if (week, person.id) in self._counted:
            return
        self._counted.add((week, person.id))
        core.db.on_rollback(lambda: self._counted.discard((week, person.id)))
        await activity.mark(core.db, [(week, person.id, person.place_id or "")])

    # In-memory state changes with the message being handled; if its transaction is rolled back (a
    # failed batch, replayed one event at a time), each change is taken back too, so the replay counts
    # every message once and no one stays muted by a mute that was never stored.

    def _hit(self, core, person_id: int, now: datetime) -> bool:
        before = self.meter.history(person_id)
        core.db.on_rollback(lambda: self.meter.restore(person_id, before))
        return self.meter.hit(person_id, now.timestamp())

    def _remember_mute(self, core, person_id: int, until: datetime) -> None:
        mutes = self._mutes if self._mutes is not None else {}
        before = mutes.get(person_id)
        mutes[person_id] = until
        self._mutes = mutes

        def undo() -> None:
            if self._mutes is None:
                return
            if before is None:
                self._mutes.pop(person_id, None)
            else:
                self._mutes[person_id] = before

        core.db.on_rollback(undo)

    def _forget_mutes(self) -> None:
        self._mutes = None


async def mute_for_flood(core, person: Person, circle_id: int, now: datetime) -> datetime:
    """Stop relaying the person for a while; the circle's hosts (else its moderators) are told.
    Returns when the mute ends."""
    minutes = core.config.moderation.mute_minutes
    until = now + timedelta(minutes=minutes)
    await sanctions.mute(core.db, person.id, circle_id, until, "flood", now)
    await core.queue_room_mute(core.db, circle_id, person.id, until, now)
    circle = await circle_store.get(core.db, circle_id)
    place_id = circle.place_id if circle else person.place_id
    await audit.record(core.db, None, "mute", f"person:{person.id}", f"flood {minutes} min", now, place_id=place_id)
    await core.tell(core.db, person.id, lambda t: t("safety-muted-you", minutes=minutes), None, now,
                    delivery_class=outbox.ANSWER)  # a moderation action, as it happens
    told = await roles.hosts_of(core.db, circle_id) or await roles.moderators_of(core.db, place_id or "")
    name = person.first_name or "?"
    number = circle.number if circle else "?"
    for someone in told:
        if someone != person.id:
            await core.tell(core.db, someone, lambda t: t("safety-muted-host", name=name, number=number,
                                                          minutes=minutes), None, now)
    return until


# ---- the local-knowledge question ---------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    place_id: str
    text: dict[str, str]
    answers: tuple[str, ...]

    def accepts(self, answer: str) -> bool:
        given = normalise_answer(answer)
        return bool(given) and any(fuzz.ratio(given, normalise_answer(a)) >= 85 for a in self.answers)


def load_questions(path: Path | None) -> dict[str, Question]:
    if path is None or not path.is_file():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {
        q["place"]: Question(q["place"], {"fr": q["fr"], "en": q["en"]}, tuple(q["answers"]))
        for q in data.get("question", [])
    }


_QUESTIONS: dict[str, dict[str, Question]] = {}


def questions(core) -> dict[str, Question]:
    path = core.config.moderation.local_questions
    if path not in _QUESTIONS:
        _QUESTIONS[path] = load_questions(content_path(path))
    return _QUESTIONS[path]


class LocalQuestion(StepFlow):
    """One question, two tries; a wrong answer goes to the moderators, never to a ban."""

    name = QUESTION_FLOW

    async def ask_answer(self, ctx: Context, conv: Conversation) -> None:
        question = questions(ctx.core).get(ctx.person.place_id or "")
        if question is None:  # the question was removed from the content meanwhile
            await self.end(ctx)
            await place_in_circle(ctx.core, ctx.db, ctx.person, ctx.now)
            return
        await ctx.reply(ctx.t("localq-ask", question=question.text.get(ctx.t.lang, question.text["fr"])))

    async def on_answer(self, ctx: Context, conv: Conversation, body: Body) -> None:
        question = questions(ctx.core).get(ctx.person.place_id or "")
        answer = (typed(body) or "")[:200]
        if question is None or question.accepts(answer):
            await self.end(ctx)
            await place_in_circle(ctx.core, ctx.db, ctx.person, ctx.now)
            return
        conv.data["tries"] = int(conv.data.get("tries", 0)) + 1
        if conv.data["tries"] < ATTEMPTS:
            ctx.note = ctx.t("localq-again")  # with the question, in one message
            await self.goto(ctx, conv, "answer")
            return
        await self.end(ctx)
        await ask_moderators(ctx, ctx.person, answer)
        await ctx.reply(ctx.t("localq-wait"))


async def ask_moderators(ctx: Context, person: Person, answer: str) -> None:
    place_id = person.place_id or ""
    told = await roles.moderators_of(ctx.db, place_id) or await roles.admin_ids(ctx.db, access.admins(ctx))
    place = access.place_name(ctx, place_id)
    for moderator in told:
        await ctx.tell(
            moderator,
            lambda t: t("localq-notice", name=person.first_name or "?", id=person.id, place=place, answer=answer),
            lambda t: [(t("button-localq-accept"), f"mod:lq:{person.id}:ok"),
                       (t("button-localq-refuse"), f"mod:lq:{person.id}:no")],
            dedupe_key=f"localq:{person.id}:{moderator}:{ctx.now.isoformat()}",
            delivery_class=outbox.CARE,
        )


async def question_gate(ctx: Context, stage: str) -> bool:
    """Before placement: a neighbourhood with a question asks it first."""
    if stage != "place" or ctx.person is None or ctx.person.place_id not in questions(ctx.core):
        return True
    flow: LocalQuestion = ctx.core.router.flows[QUESTION_FLOW]  # type: ignore[assignment]
    await flow.begin(ctx, "answer")
    return False


async def question_action(ctx: Context, parts: list[str]) -> None:
    """"mod:lq:<person>:<ok|no>": a moderator lets a newcomer in, or not."""
    if len(parts) != 4 or not parts[2].isdigit() or parts[3] not in ("ok", "no"):
        await ctx.reply(ctx.t("choice-expired"))
        return
    person = await people.get(ctx.db, int(parts[2]))
    if person is None or not person.onboarded or await circle_store.circle_of(ctx.db, person.id) is not None:
        await ctx.reply(ctx.t("choice-expired"))
        return
    place_ids = await access.require_some_moderator(ctx)
    if place_ids is False or not await access.require_place(ctx, place_ids, person.place_id):  # type: ignore[arg-type]
        return
    if parts[3] == "ok":
        await place_in_circle(ctx.core, ctx.db, person, ctx.now)
        await ctx.reply(ctx.t("localq-accepted", name=person.first_name))
    else:
        await ctx.tell(person.id, lambda t: t("localq-refused"))
        await ctx.reply(ctx.t("localq-refused-done", name=person.first_name))
    await audit.record(ctx.db, ctx.person.id, f"localq-{parts[3]}", f"person:{person.id}", "", ctx.now,
                       place_id=person.place_id)


def install(core) -> None:
    guard = Guard(core)
    core.hooks.on_room_event(guard.hook, first=True)
    core.router.flow(LocalQuestion())
    core.hooks.gate(question_gate)
    core.hooks.moderator_action("lq", question_action)
