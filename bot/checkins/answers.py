"""Check-ins, the answering side: the buttons under a check-in, an escalation or a chat request, the
"until when?" question, and the /away and /back commands.

Every button is checked against who pressed it (the person, their helper, the one who was told, a
moderator of the neighbourhood): a forwarded or stale button gets a short answer and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.checkins import rounds
from bot.checkins.decisions import Until, UntilProblem, listening, parse_until, payload
from bot.checkins.rounds import (
    answer_window,
    care_at,
    days_since,
    ladder,
    moderators_to_alert,
    services_text,
    tell_first,
)
from bot.core import roles
from bot.core.chat import Body, CommandIn
from bot.core.clock import from_iso
from bot.core.flows import StepFlow, picked, typed
from bot.core.i18n import Localized, Translator
from bot.core.router import Command, Context
from bot.storage import checkins as store
from bot.storage import outbox, people
from bot.storage.conversations import Conversation
from bot.storage.people import Person

if TYPE_CHECKING:
    from bot.core.app import Core

AWAY_FLOW = "checkin_away"
_QUICK_AWAY = {"1w": "1 semaine", "2w": "2 semaines", "1m": "1 mois"}


# ---- the buttons ------------------------------------------------------------------------------------


async def on_button(ctx: Context, verb: str, number: int) -> None:
    """The buttons under a check-in, an escalation or a chat request (``checkin:<verb>:<id>``)."""
    checkin = await store.get(ctx.db, number)
    if checkin is None:
        await ctx.reply(ctx.t("choice-expired"))
        return
    await _BY_VERB[verb](ctx, checkin)


async def _answerer(ctx: Context, checkin: store.Checkin) -> bool:
    """The person themself, or the helper who receives their check-ins."""
    return ctx.person.id == checkin.person_id or ctx.person.id == await store.helper_of(ctx.db, checkin.person_id)


async def _subject(ctx: Context, checkin: store.Checkin) -> Person | None:
    return await people.get(ctx.db, checkin.person_id)


def still_asking(core: Core, checkin: store.Checkin, now: datetime) -> bool:
    """Open, or closed by a message that did not say how they are ("wrote") and asked again with the
    same buttons, within the time a typed answer is still read (``decisions.listening``)."""
    if checkin.is_open:
        return True
    closed = from_iso(checkin.closed_at) if checkin.closed_at else None
    return checkin.answer == "wrote" and listening(False, closed, now, answer_window(core))


async def _refuse_or_noted(ctx: Context, checkin: store.Checkin) -> bool:
    """True (and answered) when this press must change nothing: not theirs, or already answered."""
    if not await _answerer(ctx, checkin):
        await ctx.reply(ctx.t("choice-expired"))
        return True
    if not still_asking(ctx.core, checkin, ctx.now):
        await ctx.reply(ctx.t("checkin-already"))
        return True
    return False


async def on_fine(ctx: Context, checkin: store.Checkin) -> None:
    if await _refuse_or_noted(ctx, checkin):
        return
    await answer_fine(ctx, checkin)


async def answer_fine(ctx: Context, checkin: store.Checkin) -> None:
    """All is well (the button, or typed): thanks, and those told hear that all is well."""
    by_helper = ctx.person.id != checkin.person_id
    await store.answer(ctx.db, checkin.id, "seen" if by_helper else "fine", ctx.now)
    subject = await _subject(ctx, checkin)
    if by_helper and subject:
        ctx.record_activity(subject.id)
        await ctx.reply(ctx.t("checkin-thanks-seen", name=subject.first_name))
    else:
        await ctx.reply(ctx.t("checkin-thanks-fine"))
    await all_clear(ctx, checkin, subject, kind="fine")


async def all_clear(ctx: Context, checkin: store.Checkin, subject: Person | None, *, kind: str,
                    skip: tuple[int | None, ...] = ()) -> None:
    """The person answered after someone was told (the ladder, moderators alerted): tell each of them,
    outside quiet hours, what the answer was (see ``rounds.all_clear``), so nobody worries for nothing
    and nobody hears "all is well" when it was not said."""
    if subject is not None:
        await rounds.all_clear(ctx.core, ctx.db, checkin, ctx.now, kind=kind, skip=(ctx.person.id, *skip))


async def on_chat(ctx: Context, checkin: store.Checkin) -> None:
    """"I'd like a chat": their contact (or host, or a moderator) is told, as they agreed at
    onboarding, and they are told who will get in touch. It stays on /quiet until done."""
    if await _refuse_or_noted(ctx, checkin):
        return
    await answer_chat(ctx, checkin)


async def answer_chat(ctx: Context, checkin: store.Checkin, told_key: str = "checkin-chat-told",
                      nobody_key: str = "checkin-chat-nobody") -> None:
    """A chat asked for (the button, or "bof" typed): the first fit person on the ladder is asked to
    get in touch; the others told before hear that a chat was asked for, not that all is well."""
    await store.answer(ctx.db, checkin.id, "chat", ctx.now, resolved=False)
    subject = await _subject(ctx, checkin)
    assert subject is not None
    who = await ask_for_chat(ctx, checkin.id, subject, told_key, nobody_key)
    await all_clear(ctx, checkin, subject, kind="chat", skip=(who,))


async def ask_for_chat(ctx: Context, checkin_id: int, subject: Person, told_key: str = "checkin-chat-told",
                       nobody_key: str = "checkin-chat-nobody") -> int | None:
    """Tell the first fit person on the ladder that ``subject`` would like a chat; returns who."""
    name = subject.first_name or ctx.t("someone")

    def text(t: Translator) -> Localized:
        return t("checkin-chat-request", name=name)

    def choices(t: Translator) -> list[tuple[str, str]]:
        return [(t("checkin-button-talked"), payload("talked", checkin_id))]

    candidates = await ladder(ctx.core, ctx.db, subject.id)
    role, who = await tell_first(ctx.core, ctx.db, candidates, text, choices, ctx.now, f"checkin-chat:{checkin_id}",
                                 subject=subject.id, checkin_id=checkin_id, place_id=subject.place_id)
    await store.set_told(ctx.db, checkin_id, who, role)
    told = await people.get(ctx.db, who) if who else None
    if told is None:
        await ctx.reply(ctx.t(nobody_key))
        return None
    await store.add_told(ctx.db, checkin_id, told.id, role or "contact", ctx.now)
    reply = ctx.t(told_key, told=told.first_name or ctx.t("someone"))
    held = care_at(ctx.core, ctx.now)
    if held is not None:  # asked at night: it waits for the morning, and they are told so
        morning = held.astimezone(ctx.core.config.deployment.zone)
        reply = reply + Localized("\n") + ctx.t("checkin-chat-held", told=told.first_name or ctx.t("someone"),
                                                 when=ctx.t.datetime(morning))
    await ctx.reply(reply)
    return told.id


async def on_away(ctx: Context, checkin: store.Checkin) -> None:
    if await _refuse_or_noted(ctx, checkin):
        return
    await answer_away(ctx, checkin)


async def answer_away(ctx: Context, checkin: store.Checkin) -> None:
    """Away (the button, or "en vacances" typed): "until when?"; the answer closes the check-in."""
    flow: AwayFlow = ctx.core.router.flows[AWAY_FLOW]  # type: ignore[assignment]
    await flow.begin(ctx, "until", person_id=checkin.person_id)


async def on_stop(ctx: Context, checkin: store.Checkin) -> None:
    if await _refuse_or_noted(ctx, checkin):
        return
    await store.answer(ctx.db, checkin.id, "stop", ctx.now)
    await people.update(ctx.db, checkin.person_id, checkins=0)
    subject = await _subject(ctx, checkin)
    if ctx.person.id != checkin.person_id and subject:
        await ctx.reply(ctx.t("checkin-stopped-helper", name=subject.first_name))
    else:
        await ctx.reply(ctx.t("checkin-stopped"))
    await all_clear(ctx, checkin, subject, kind="answered")


# ---- the one who was told, and moderators -----------------------------------------------------------


async def _may_settle(ctx: Context, checkin: store.Checkin, subject: Person | None) -> bool:
    """Anyone who was told (at any stage of the ladder), or a moderator of the person's neighbourhood
    (admins everywhere); never the person themself."""
    if subject is None or ctx.person.id == subject.id:
        return False
    if ctx.person.id == checkin.told_id or ctx.person.id in await store.told(ctx.db, checkin.id):
        return True
    return await roles.is_moderator(ctx.db, ctx.core.config.deployment.admins, ctx.person.id, subject.place_id)


async def _settleable(ctx: Context, checkin: store.Checkin, *, unreached_counts: bool = False) -> Person | None:
    """The person checked on, if the one pressing may settle this check-in and it is still open;
    otherwise they are told why not and None is returned."""
    subject = await _subject(ctx, checkin)
    if not await _may_settle(ctx, checkin, subject):
        await ctx.reply(ctx.t("choice-expired"))
        return None
    said_unreached = checkin.outcome == "unreached" and checkin.outcome_by == ctx.person.id
    if checkin.resolved_at is not None or (unreached_counts and said_unreached):
        await ctx.reply(ctx.t("checkin-already"))
        return None
    return subject


async def on_ok(ctx: Context, checkin: store.Checkin) -> None:
    """"Done, all is well" from whoever went to see them."""
    subject = await _settleable(ctx, checkin)
    if subject is None:
        return
    await store.set_outcome(ctx.db, checkin.id, "ok", ctx.person.id, ctx.now, settle=True)
    await ctx.reply(ctx.t("checkin-ok-thanks", name=subject.first_name or ctx.t("someone")))
    await all_clear(ctx, checkin, subject, kind="fine")


async def on_unreached(ctx: Context, checkin: store.Checkin) -> None:
    """"Could not reach them": up to the moderators, with the human services that can help, and the
    ladder moves on to the next person at the next follow-up (it does not wait for the stage to end)."""
    subject = await _settleable(ctx, checkin, unreached_counts=True)
    if subject is None:
        return
    await store.set_outcome(ctx.db, checkin.id, "unreached", ctx.person.id, ctx.now, settle=False)
    await store.end_stage(ctx.db, checkin.id, ctx.now)
    await ctx.reply(ctx.t("checkin-unreached-thanks", services=services_text(ctx.t)))
    await _tell_moderators(ctx, checkin, subject, "checkin-unreached-alert", ctx.person.first_name)


async def _tell_moderators(ctx: Context, checkin: store.Checkin, subject: Person, key: str, by: str) -> None:
    """The moderators fit to act (never the person it is about), held until the end of quiet hours."""
    name = subject.first_name or ctx.t("someone")
    place = ctx.core.content.places.get(subject.place_id) if subject.place_id else None
    days = days_since(subject.last_active_at, ctx.now)

    def text(t: Translator) -> Localized:
        return t(key, name=name, by=by, place=place.name if place else "", days=t.plural("checkin-days", days),
                 services=services_text(t))

    def choices(t: Translator) -> list[tuple[str, str]]:
        return [(t("checkin-button-resolved"), payload("resolved", checkin.id))]

    held = care_at(ctx.core, ctx.now)
    for moderator in await moderators_to_alert(ctx.core, ctx.db, subject, ctx.person.id, ctx.now, checkin.id):
        if await ctx.tell(moderator, text, choices, dedupe_key=f"{key}:{checkin.id}:{moderator}", not_before=held,
                          delivery_class=outbox.CARE):
            await store.add_told(ctx.db, checkin.id, moderator, "alert", ctx.now)


async def on_talked(ctx: Context, checkin: store.Checkin) -> None:
    if await _settleable(ctx, checkin) is None:
        return
    await store.set_outcome(ctx.db, checkin.id, "talked", ctx.person.id, ctx.now, settle=True)
    await ctx.reply(ctx.t("checkin-talked-thanks"))


async def on_resolved(ctx: Context, checkin: store.Checkin) -> None:
    """A moderator settles an item of the list (they went, or the services took over)."""
    subject = await _subject(ctx, checkin)
    admins = ctx.core.config.deployment.admins
    if subject is None or not await roles.is_moderator(ctx.db, admins, ctx.person.id, subject.place_id):
        await ctx.reply(ctx.t("choice-expired"))
        return
    if checkin.resolved_at is not None:
        await ctx.reply(ctx.t("checkin-already"))
        return
    await store.set_outcome(ctx.db, checkin.id, "resolved", ctx.person.id, ctx.now, settle=True)
    await ctx.reply(ctx.t("checkin-resolved-thanks", name=subject.first_name or ctx.t("someone")))


_BY_VERB = {"fine": on_fine, "chat": on_chat, "away": on_away, "stop": on_stop, "ok": on_ok,
            "unreached": on_unreached, "talked": on_talked, "resolved": on_resolved}


# ---- "until when?" ------------------------------------------------------------------------------------


class AwayFlow(StepFlow):
    """One question, asked again until it gets a date it understands. ``person_id`` is who is away:
    the person asking, or a neighbour of their helper."""

    name = AWAY_FLOW

    async def ask_until(self, ctx: Context, conv: Conversation) -> None:
        subject = await people.get(ctx.db, conv.data["person_id"])
        if subject is not None and subject.id != ctx.person.id:
            text = ctx.t("checkin-away-ask-helper", name=subject.first_name)
        else:
            text = ctx.t("checkin-away-ask")
        await ctx.reply(text, [self.button("until", key, ctx.t(f"checkin-away-{key}")) for key in _QUICK_AWAY])

    async def on_until(self, ctx: Context, conv: Conversation, body: Body) -> None:
        quick = picked(body)
        text = _QUICK_AWAY.get(quick or "") or typed(body) or ""
        done = await set_away_from_text(ctx, conv.data["person_id"], text)
        if done:
            await self.end(ctx)
        else:
            await self.ask_until(ctx, conv)


async def set_away_from_text(ctx: Context, person_id: int, text: str) -> bool:
    """Parse, and if understood record the absence and close an open check-in. On a bad answer say
    what was wrong and change nothing; returns whether it was recorded."""
    zone = ctx.core.config.deployment.zone
    limit = 60
    if len(text) > limit:
        await ctx.reply(ctx.t("answer-too-long", limit=limit))
        return False
    result = parse_until(text, ctx.now, zone, ctx.t.lang)
    if isinstance(result, UntilProblem):
        await ctx.reply(ctx.t(f"checkin-away-{result.reason}", typed=text))
        return False
    await record_away(ctx, person_id, result)
    return True


async def record_away(ctx: Context, person_id: int, until: Until) -> None:
    zone = ctx.core.config.deployment.zone
    await store.set_away(ctx.db, person_id, until.ends_at(zone), ctx.now)
    open_checkin = await store.open_for(ctx.db, person_id) or await _asked_again(ctx, person_id)
    if open_checkin is not None:
        await store.answer(ctx.db, open_checkin.id, "away", ctx.now)
        await all_clear(ctx, open_checkin, await people.get(ctx.db, person_id), kind="answered")
    day = ctx.t.date(until.day)  # type: ignore[arg-type]  # babel formats a date as well as a datetime
    if person_id != ctx.person.id:
        subject = await people.get(ctx.db, person_id)
        await ctx.reply(ctx.t("checkin-away-set-helper", name=subject.first_name if subject else "", date=day))
    else:
        await ctx.reply(ctx.t("checkin-away-set", date=day))


async def _asked_again(ctx: Context, person_id: int) -> store.Checkin | None:
    """Their last check-in, when it was closed by a message that did not say and is still asking."""
    latest = await store.latest_for(ctx.db, person_id)
    return latest if latest is not None and still_asking(ctx.core, latest, ctx.now) else None


# ---- /away and /back ----------------------------------------------------------------------------------


async def away_command(ctx: Context) -> None:
    """/away 2 weeks — /absent 2 semaines; without a date, asks until when."""
    args = ctx.body.args.strip() if isinstance(ctx.body, CommandIn) else ""
    if args and await set_away_from_text(ctx, ctx.person.id, args):
        return
    flow: AwayFlow = ctx.core.router.flows[AWAY_FLOW]  # type: ignore[assignment]
    await flow.begin(ctx, "until", person_id=ctx.person.id)


async def back_command(ctx: Context) -> None:
    if await store.back(ctx.db, ctx.person.id, ctx.now):
        await ctx.reply(ctx.t("checkin-back"))
    else:
        await ctx.reply(ctx.t("checkin-back-not-away"))


# ---- /pause ---------------------------------------------------------------------


async def pause_command(ctx: Context) -> None:
    """/pause: a resident stops the check-ins ("Est-ce que tout va bien ?") or starts them again.
    Stopping answers an open check-in, and whoever was told about it hears that all is well."""
    if ctx.person.checkins:
        await people.update(ctx.db, ctx.person.id, checkins=0)
        checkin = await store.open_for(ctx.db, ctx.person.id)
        if checkin is not None:
            await store.answer(ctx.db, checkin.id, "stop", ctx.now)
            await all_clear(ctx, checkin, ctx.person, kind="answered")
        await ctx.reply(ctx.t("checkin-paused", command="/pause"))
    else:
        await people.update(ctx.db, ctx.person.id, checkins=1)
        days = ctx.t.plural("checkin-days", ctx.core.config.checkins.threshold_days)
        await ctx.reply(ctx.t("checkin-resumed", days=days, command="/pause"))


def install(core: Core) -> None:
    core.router.command(Command("pause", pause_command, aliases=("suspendre", "reprendre", "nouvelles"),
                                help_key="help-pause", french_name="pause"))
    core.router.flow(AwayFlow())
    core.router.command(Command("away", away_command, aliases=("absent", "absente", "absence"),
                                help_key="help-away", french_name="absent"))
    core.router.command(Command("back", back_command, aliases=("retour", "revenu", "revenue"),
                                help_key="help-back", french_name="retour"))
