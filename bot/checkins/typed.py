"""Check-ins, an answer in words: what a resident types privately to "Est-ce que tout va bien ?" is
read (``decisions.typed_meaning``), not only counted as a sign of life.

In order of care:

- urgent ("je suis tombée", "au secours", "I fell", "hôpital"): the emergency numbers at once, and
  the question whether their contact (or host…) may be told now, with two buttons — asked, not
  guessed. With no answer within ``URGENT_WAIT`` the contact is told anyway (see ``urgent_pass``);
- not fine ("bof", "pas trop", "ça va pas", "lonely"): a warm answer, and the path of "J'aimerais
  bavarder un peu" (the first fit person on the ladder is asked to get in touch);
- away ("en vacances", "chez ma fille"): "until when?", as the button;
- fine: as the button;
- anything else: thanks, and the question again with the same buttons; the check-in closes as
  "wrote", and those already told hear that the person wrote — not that all is well.

Those told before always hear what is true (``rounds.CLEAR_KEYS``), never the words themselves:
message contents are not stored. A message in the circle room is not read here (it is a sign of life,
as before); a private message with no check-in listening gets the bot's usual hint.

Where the buttons of a check-in are on screen, an urgent or not-fine message is read here before the
core tries it as a choice ("ça va pas" must not press "Tout va bien"); a plain "1", "oui" or "absent"
is still a choice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.checkins import answers
from bot.checkins.decisions import URGENT_WAIT, listening, payload, typed_action, typed_meaning
from bot.checkins.rounds import answer_window, ask_choices, ladder, services_text, tell_first, unfit_among
from bot.core.chat import TextIn
from bot.core.clock import from_iso
from bot.core.i18n import Localized, Translator
from bot.core.router import Context
from bot.core.scheduler import Job, every
from bot.storage import checkins as store
from bot.storage import people
from bot.storage.people import Person

if TYPE_CHECKING:
    from bot.core.app import Core

URGENT_PASS_EVERY = URGENT_WAIT / 10
STRONG = ("urgent", "not_fine")  # read before the core tries the text as one of the buttons


# ---- reading ----------------------------------------------------------------------------------------


def _text(ctx: Context) -> str:
    return ctx.body.text if isinstance(ctx.body, TextIn) else ""


async def read_at_buttons(ctx: Context, offered: list[tuple[str, str]]) -> bool:
    """Core hook, before a typed text is matched to the choices on screen: when they are a
    check-in's, an urgent or not-fine message is read as such (and taken); anything else is left to
    the usual matching ("1", "oui", "absent")."""
    if not any(p.startswith("checkin:") for _, p in offered):
        return False
    meaning = typed_meaning(_text(ctx))
    return meaning in STRONG and await _act(ctx, meaning)


async def read_typed(ctx: Context) -> bool:
    """Private-words hook: a message outside any question, read against the person's check-in while
    it listens; else a helper's typed "ça va" for the one neighbour whose check-in is open."""
    text = _text(ctx)
    if not text:
        return False
    meaning = typed_meaning(text)
    if await _act(ctx, meaning):
        return True
    if meaning == "urgent" and ctx.person.onboarded:
        command = ctx.core.router.find(text.strip(" ?!.").lstrip("/"))
        if command is not None:  # "help" typed alone, with no check-in listening: the command, not a fall
            await command.handler(ctx)
        else:
            await _urgent_unasked(ctx)
        return True
    return meaning == "fine" and await _helper_fine(ctx)


async def _act(ctx: Context, meaning: str) -> bool:
    checkin = await store.latest_for(ctx.db, ctx.person.id)
    if checkin is None or checkin.helper_id is not None:
        return False
    closed = from_iso(checkin.closed_at) if checkin.closed_at else None
    if not listening(checkin.is_open, closed, ctx.now, answer_window(ctx.core)):
        return False
    action = typed_action(meaning, checkin.answer, checkin.is_open)  # type: ignore[arg-type]
    if action is None:
        return False
    await _ACTIONS[action](ctx, checkin)
    return True


async def _helper_fine(ctx: Context) -> bool:
    """A helper's "ça va" answers the open check-in of the one neighbour they look in on (with
    several, the buttons say which one)."""
    helped = [pid for pid, _ in await store.helped_by(ctx.db, ctx.person.id)]
    opened = [c for c in [await store.open_for(ctx.db, pid) for pid in helped] if c is not None]
    if len(opened) != 1:
        return False
    await answers.on_fine(ctx, opened[0])
    return True


# ---- the answers --------------------------------------------------------------------------------------


async def _chat(ctx: Context, checkin: store.Checkin) -> None:
    await answers.answer_chat(ctx, checkin, "checkin-notfine-told", "checkin-notfine-nobody")


async def _noted(ctx: Context, checkin: store.Checkin) -> None:
    await ctx.reply(ctx.t("checkin-notfine-noted"))


async def _wrote(ctx: Context, checkin: store.Checkin) -> None:
    """They wrote, without saying how they are: alive, not "all is well". Asked again, same buttons."""
    await store.answer(ctx.db, checkin.id, "wrote", ctx.now)
    await answers.all_clear(ctx, checkin, ctx.person, kind="wrote")
    await ctx.reply(ctx.t("checkin-wrote", name=ctx.person.first_name or ctx.t("someone")),
                    ask_choices(ctx.t, checkin.id, via_helper=False))


async def _urgent(ctx: Context, checkin: store.Checkin) -> None:
    """The emergency numbers first, then whether to tell someone now. The check-in leaves the usual
    ladder (closed, kept on /quiet) and waits for the answer, or for ``URGENT_WAIT``."""
    await store.answer(ctx.db, checkin.id, "urgent", ctx.now, resolved=False)
    first = await _first_fit(ctx.core, ctx.person, ctx.now)
    text = ctx.t("checkin-urgent", services=services_text(ctx.t, for_self=True))
    if first is None:
        await ctx.reply(text + Localized("\n\n") + ctx.t("checkin-urgent-nobody"))
        return
    await ctx.reply(text + Localized("\n\n") + _question(ctx.t, first), _urgent_choices(ctx.t, checkin.id, first))


async def _urgent_unasked(ctx: Context) -> None:
    """"Je suis tombée" written with no check-in listening: never the bot's usual hint. A member who
    agreed to check-ins (someone may be told) gets the urgent path of a check-in, opened for it; one
    who said no to check-ins agreed to nobody being told: the emergency numbers, and their circle."""
    if ctx.person.checkins and await store.open_for(ctx.db, ctx.person.id) is None:
        checkin_id = await store.open_for_urgent(ctx.db, ctx.person.id, ctx.now)
        checkin = await store.get(ctx.db, checkin_id)
        assert checkin is not None
        await _urgent(ctx, checkin)
        return
    await ctx.reply(ctx.t("checkin-urgent", services=services_text(ctx.t, for_self=True)) + Localized("\n\n")
                    + ctx.t("checkin-urgent-numbers-only"))


async def _ask_again(ctx: Context, checkin: store.Checkin) -> None:
    """An urgent question waits: anything typed but another urgent message asks it again."""
    first = await _first_fit(ctx.core, ctx.person, ctx.now)
    if first is None:
        await ctx.reply(ctx.t("checkin-urgent-nobody"))
        return
    await ctx.reply(_question(ctx.t, first), _urgent_choices(ctx.t, checkin.id, first))


_ACTIONS = {"urgent": _urgent, "ask-again": _ask_again, "chat": _chat, "noted": _noted,
            "away": answers.answer_away, "fine": answers.answer_fine, "wrote": _wrote}


def _question(t: Translator, first: Person) -> Localized:
    return t("checkin-urgent-ask", told=first.first_name or t("someone"))


def _urgent_choices(t: Translator, checkin_id: int, first: Person) -> list[tuple[str, str]]:
    return [(t("checkin-button-tell", told=first.first_name or t("someone")), payload("tell", checkin_id)),
            (t("checkin-button-notell"), payload("notell", checkin_id))]


async def _first_fit(core: Core, subject: Person, now: datetime) -> Person | None:
    """Who would be told first now (their contact, else the host…), to name them in the question."""
    candidates = await ladder(core, core.db, subject.id)
    reasons = await unfit_among(core, core.db, [who for _, who in candidates], subject.id, None, now)
    for _, who in candidates:
        if who not in reasons:
            return await people.get(core.db, who)
    return None


# ---- the answer to the urgent question ---------------------------------------------------------------


async def on_button(ctx: Context, verb: str, number: int) -> None:
    """"Yes, tell them" / "No need" under the urgent question: only the person themself, only while
    the question waits."""
    checkin = await store.get(ctx.db, number)
    if checkin is None or checkin.person_id != ctx.person.id:
        await ctx.reply(ctx.t("choice-expired"))
        return
    if checkin.answer != "urgent":
        await ctx.reply(ctx.t("checkin-already"))
        return
    if verb == "tell":
        told = await alert(ctx.core, checkin, ctx.person, ctx.now, silent=False)
        key = "checkin-urgent-told" if told else "checkin-urgent-nobody"
        await ctx.reply(ctx.t(key, told=told.first_name if told else ""))
        return
    await store.answer(ctx.db, checkin.id, "declined", ctx.now)
    await ctx.reply(ctx.t("checkin-urgent-declined"))
    await answers.all_clear(ctx, checkin, ctx.person, kind="replied")


async def alert(core: Core, checkin: store.Checkin, subject: Person, now: datetime, *, silent: bool) -> Person | None:
    """Tell the first fit person on the ladder at once (even at night: an urgent message is not a
    routine worry), with the buttons of an escalation ("done, all is well" / "could not reach").
    ``silent``: the person did not answer the question. Returns who was told (None: nobody fit)."""
    name = subject.first_name
    key = "checkin-urgent-alert-silent" if silent else "checkin-urgent-alert"
    minutes = int(URGENT_WAIT.total_seconds() // 60)

    def text(t: Translator) -> Localized:
        return t(key, name=name or t("someone"), minutes=minutes, services=services_text(t, urgent=True))

    def choices(t: Translator) -> list[tuple[str, str]]:
        return [(t("checkin-button-ok"), payload("ok", checkin.id)),
                (t("checkin-button-unreached"), payload("unreached", checkin.id))]

    candidates = await ladder(core, core.db, subject.id)
    role, who = await tell_first(core, core.db, candidates, text, choices, now,
                                 f"checkin-urgent:{checkin.id}:{checkin.answered_at}", subject=subject.id,
                                 checkin_id=checkin.id, place_id=subject.place_id, urgent=True)
    await store.answer(core.db, checkin.id, "alerted", now, resolved=False)
    if who is None:
        return None
    await store.set_told(core.db, checkin.id, who, role)
    await store.add_told(core.db, checkin.id, who, role or "contact", now)
    return await people.get(core.db, who)


async def urgent_pass(core: Core, now: datetime) -> int:
    """An urgent message whose question got no answer within ``URGENT_WAIT``: the contact is told
    anyway, and the person hears who was.

    Why not wait longer, or not tell at all: the person said they fell, are hurt or need help, and
    then went silent — after such a message, silence is itself the warning (a fall can leave someone
    unable to reach the phone again). The one told is the person they chose at onboarding to be told
    when they do not answer (else the host, a moderator), which is the consent the escalation already
    rests on; a false alarm costs one phone call, a fall left alone can cost far more. Ten minutes
    leave time to read the numbers, call the 15 and press a button."""
    told = 0
    async with core.db.transaction():
        for checkin in await store.urgent_waiting(core.db, now - URGENT_WAIT):
            subject = await people.get(core.db, checkin.person_id)
            if subject is None:
                continue
            who = await alert(core, checkin, subject, now, silent=True)
            told += who is not None
            key = "checkin-urgent-told-anyway" if who else "checkin-urgent-nobody"
            name = who.first_name if who else ""
            await core.tell(core.db, subject.id, lambda t, key=key, name=name: t(key, told=name), None, now,
                            dedupe_key=f"checkin-urgent-anyway:{checkin.id}:{checkin.answered_at}")
    return told


def install(core: Core) -> None:
    core.hooks.typed_at_choices.append(read_at_buttons)
    core.hooks.private_words.append(read_typed)
    core.scheduler.add(Job("checkins-urgent", every(URGENT_PASS_EVERY), urgent_pass))
