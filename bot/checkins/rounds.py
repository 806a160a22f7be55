"""Check-ins, the periodic side: the daily pass that asks, and the follow-up that reminds once and
escalates once. Also who gets told (the ladder) and the human services suggested to them.

Both passes are scheduler jobs, so their last run and their lease live in the database: after
downtime the missed pass runs once, and two bot processes never both send. Everything a pass decides
is written in one transaction together with the messages it queues in the outbox, so a crash cannot
leave a check-in recorded but never sent, or sent twice (the outbox deduplicates by check-in id).
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.checkins.decisions import (
    OpenCheckin,
    QuietHours,
    care_time,
    escalation_order,
    follow_up,
    next_on_ladder,
    pass_is_due,
    payload,
    quiet_cutoff,
    unfit,
)
from bot.core import audit, roles
from bot.core.chat import Choice, CommandIn, Outgoing
from bot.core.clock import from_iso, parse_shift
from bot.core.config import CONTENT_DIR
from bot.core.i18n import Localized, Translator
from bot.core.router import Command, Context
from bot.core.scheduler import Job, every
from bot.storage import checkins as store
from bot.storage import circles as circle_store
from bot.storage import conversations, outbox, people
from bot.storage.database import Database
from bot.storage.people import Person

if TYPE_CHECKING:
    from bot.core.app import Core

FOLLOW_UP_EVERY = timedelta(minutes=15)


# ---- settings ---------------------------------------------------------------------------------------


def quiet_hours(core: Core) -> QuietHours:
    return QuietHours.parse(core.config.checkins.quiet_start, core.config.checkins.quiet_end)


def cutoff(core: Core, now: datetime) -> datetime:
    """Last active before this moment: quiet past the threshold (calendar days, see ``quiet_cutoff``)."""
    return quiet_cutoff(now, core.config.checkins.threshold_days, core.config.deployment.zone)


def care_at(core: Core, now: datetime) -> datetime | None:
    """When a check-in message may reach someone: None for now, or the end of the quiet hours. Every
    deployment has one zone today; a person's own zone would go here."""
    return care_time(now, quiet_hours(core), core.config.deployment.zone)


def answer_window(core: Core) -> timedelta:
    """How long after a check-in closed a typed message is still read as its answer (see
    ``decisions.listening``): the escalation delay."""
    return timedelta(hours=core.config.checkins.escalation_hours)


def stage_limit(core: Core) -> timedelta:
    return timedelta(hours=core.config.checkins.stage_hours)


def local(core: Core, moment: datetime | str) -> datetime:
    value = from_iso(moment) if isinstance(moment, str) else moment
    return value.astimezone(core.config.deployment.zone)


def days_since(moment: str | None, now: datetime) -> int:
    return (now - from_iso(moment)).days if moment else 0


# ---- human services ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _services(path: str) -> tuple[dict[str, str], ...]:
    with open(path, "rb") as fh:
        return tuple(tomllib.load(fh).get("service", []))


def services_text(t: Translator, *, urgent: bool = False, for_self: bool = False) -> Localized:
    """The listening line, the town hall's social service… from ``content/services.toml``.
    ``urgent``: the emergency numbers first (someone wrote that they fell); ``for_self``: to that
    person themself, each service with its line for them ("if you are hurt") where the file has one."""
    services = list(_services(str(CONTENT_DIR / "services.toml")))
    if urgent or for_self:
        services.sort(key=lambda s: not s.get("emergency", False))
    lines = []
    for service in services:
        what = (service.get(f"{t.lang}_self") if for_self else None) or service.get(t.lang) or service.get("fr", "")
        key = "checkin-service-line" if service.get("phone") else "checkin-service-line-nophone"
        lines.append(t(key, name=service["name"], phone=service.get("phone", ""), what=what))
    return Localized.join(lines)


# ---- whom to tell -----------------------------------------------------------------------------------


async def ladder(core: Core, db: Database, person_id: int) -> list[tuple[str, int]]:
    """Who to tell about this person, best first (see ``bot.checkins.decisions.escalation_order``). The
    person themself stays in it when they hold a role (a quiet host or only moderator), so that the
    ladder passes over them with a line in /journal rather than in silence."""
    person = await people.get(db, person_id)
    if person is None:
        return []
    circle = await circle_store.circle_of(db, person_id)
    hosts = await roles.hosts_of(db, circle.id) if circle else []
    moderators = await roles.moderators_of(db, person.place_id) if person.place_id else []
    admins = await roles.admin_ids(db, core.config.deployment.admins)
    return list(escalation_order(person_id, person.contact_person_id, person.contact_confirmed_at is not None,
                                 hosts, moderators, admins, with_self=True))


async def unfit_among(core: Core, db: Database, ids: list[int], subject: int, helper: int | None,
                      now: datetime) -> dict[int, str]:
    """Who among ``ids`` cannot be told about ``subject``, and why (see ``decisions.unfit``)."""
    facts = await store.fitness(db, ids)
    limit = cutoff(core, now)
    reasons: dict[int, str] = {}
    for who in ids:
        fact = facts.get(who)
        why = unfit(who, subject, helper, fact.reachable, fact.away_until, fact.last_active, now, limit) \
            if fact is not None else "unreachable"  # no record any more (erased): nobody to reach
        if why is not None:
            reasons[who] = why
    return reasons


async def note_skipped(core: Core, db: Database, checkin_id: int, place_id: str | None,
                       skipped: list[tuple[str, int, str]] | tuple[tuple[str, int, str], ...], now: datetime) -> None:
    """Who was passed over and why, in the audit log (/journal: "the bot did not tell Bob — circle
    host, away, check-in 12"), so moderators see why the ladder went past someone. Written in the
    deployment's language; no name in it, so /forget leaves nothing behind."""
    t = core.t_default
    for role, who, why in skipped:
        details = t("checkin-skipped-details", role=t(f"role-{role}"), why=t(f"checkin-unfit-{why}"), id=checkin_id)
        await audit.record(db, None, "checkin-skipped", f"person:{who}", str(details), now, place_id=place_id)


async def tell_first(core: Core, db: Database, candidates: list[tuple[str, int]], text, choices, now: datetime,
                     key: str, *, subject: int, helper: int | None = None, checkin_id: int = 0,
                     place_id: str | None = None, urgent: bool = False) -> tuple[str | None, int | None]:
    """Tell the first candidate fit to act (reachable, not away, not quiet themself, not the person
    checked on), the message held until the end of the quiet hours unless ``urgent`` (someone who
    wrote that they fell does not wait for the morning); (role, id) of who was told, or (None, None).
    Who was passed over goes to the audit log."""
    reasons = await unfit_among(core, db, [who for _, who in candidates], subject, helper, now)
    skipped = []
    for role, who in candidates:
        if who in reasons:
            skipped.append((role, who, reasons[who]))
            continue
        held = None if urgent else care_at(core, now)
        if await core.tell(db, who, text, choices, now, dedupe_key=f"{key}:{who}", not_before=held):
            await note_skipped(core, db, checkin_id, place_id, skipped, now)
            return role, who
    await note_skipped(core, db, checkin_id, place_id, skipped, now)
    return None, None


async def moderators_to_alert(core: Core, db: Database, subject: Person, skip: int | None, now: datetime,
                              checkin_id: int = 0) -> list[int]:
    """The neighbourhood's moderators fit to act (the admins if none is), except who raised the alert
    and never the person it is about — an only moderator who went quiet is not alerted about herself."""
    moderators = await roles.moderators_of(db, subject.place_id) if subject.place_id else []
    admins = await roles.admin_ids(db, core.config.deployment.admins)
    for group, role in ((moderators, "moderator"), (admins, "admin")):
        wanted = [m for m in dict.fromkeys(group) if m != skip]
        reasons = await unfit_among(core, db, wanted, subject.id, None, now)
        await note_skipped(core, db, checkin_id, subject.place_id,
                           [(role, m, reasons[m]) for m in wanted if m in reasons and reasons[m] != "self"], now)
        fit = [m for m in wanted if m not in reasons]
        if fit:
            return fit
    return []


# ---- asking -----------------------------------------------------------------------------------------


def ask_choices(t: Translator, checkin_id: int, via_helper: bool) -> list[tuple[str, str]]:
    if via_helper:
        return [(t("checkin-button-seen"), payload("fine", checkin_id)),
                (t("checkin-button-away-helper"), payload("away", checkin_id)),
                (t("checkin-button-stop-helper"), payload("stop", checkin_id))]
    return [(t("checkin-button-fine"), payload("fine", checkin_id)),
            (t("checkin-button-chat"), payload("chat", checkin_id)),
            (t("checkin-button-away"), payload("away", checkin_id)),
            (t("checkin-button-stop"), payload("stop", checkin_id))]


async def daily_pass(core: Core, now: datetime) -> int:
    """Open a check-in for every member due and ask them (or their helper); returns how many.

    One statement opens them all, one reads where to send, and the messages go to the outbox in one
    batch: the pass costs the same few round trips whether it asks ten people or ten thousand."""
    async with core.db.transaction():
        opened = await store.open_due(core.db, now, cutoff(core, now))
        if not opened:
            return 0
        messages, offers = [], []
        for target in await store.opened_at(core.db, now):
            message = ask_message(core, target)
            key = f"checkin-ask:{target.checkin_id}:{target.platform}"
            messages.append((target.platform, "message", target.chat_id, message.to_json(), key))
            offers.append((target.platform, target.chat_id, [(c.label, c.payload) for c in message.choices]))
        await outbox.add_many(core.db, messages, now, outbox.CARE)
        await conversations.offer_choices_many(core.db, offers)
    return opened


def ask_message(core: Core, target: store.AskTarget) -> Outgoing:
    """"Is everything all right?" in the language of whoever reads it (the person, or their helper)."""
    t = core.translator(target.language)
    via_helper = target.helper_id is not None
    if via_helper:
        days = t.plural("checkin-days", core.config.checkins.threshold_days)
        text = t("checkin-ask-helper", name=target.first_name, days=days)
    else:
        text = t("checkin-ask", name=target.first_name or t("someone"))
    choices = tuple(Choice(label, data) for label, data in ask_choices(t, target.checkin_id, via_helper))
    return Outgoing(target.platform, target.chat_id, text, choices)


# ---- following up -----------------------------------------------------------------------------------


async def follow_up_pass(core: Core, now: datetime) -> dict[str, int]:
    """Remind at half-time once, escalate once after the delay, close what was answered by living."""
    delay = timedelta(hours=core.config.checkins.escalation_hours)
    done: dict[str, int] = {}
    async with core.db.transaction():
        for checkin, active, on, told_gone in await store.unanswered(core.db, now - delay / 2):
            # the one told blocked the bot (the message could not be delivered): their stage is over
            until = now if told_gone and checkin.is_open else checkin.stage_until
            state = OpenCheckin(from_iso(checkin.asked_at), checkin.reminded_at is not None,
                                from_iso(active) if active else None, on, checkin.escalated_at is not None,
                                from_iso(until) if isinstance(until, str) else until)
            action = follow_up(state, now, delay, quiet_hours(core), core.config.deployment.zone)
            if action is None or (not checkin.is_open and action not in ("alive", "stopped")):
                continue
            await _FOLLOW_UPS[action](core, checkin, now)
            done[action] = done.get(action, 0) + 1
    return done


async def _closed_stopped(core: Core, checkin: store.Checkin, now: datetime) -> None:
    await store.answer(core.db, checkin.id, "off", now)
    await all_clear(core, core.db, checkin, now, kind="answered")


async def _closed_alive(core: Core, checkin: store.Checkin, now: datetime) -> None:
    """They showed life (in their circle, a command, a button): the check-in closes, even after an
    escalation, and whoever was told hears that all is well. A private message in words never gets
    here: it is read as an answer at once (``bot.checkins.typed``), and says what it says."""
    await store.answer(core.db, checkin.id, "active", now)
    await all_clear(core, core.db, checkin, now, kind="fine")


# What those told hear, by what the person answered: "all is well" only when they said so (or lived
# as usual in their circle); a chat asked for, a message that did not say, or an answer, for the rest.
CLEAR_KEYS = {"fine": "checkin-all-clear", "answered": "checkin-all-clear-answered",
              "chat": "checkin-all-clear-chat", "wrote": "checkin-all-clear-wrote",
              "replied": "checkin-all-clear-replied"}


async def all_clear(core: Core, db: Database, checkin: store.Checkin, now: datetime, *, kind: str,
                    skip: tuple[int | None, ...] = ()) -> int:
    """The person answered or showed life after others were told (escalation, moderators alerted):
    tell each of them once per kind of answer, outside quiet hours, what is true (``CLEAR_KEYS``),
    never the words themselves (messages are not stored). Returns how many were told."""
    if checkin.escalated_at is None and checkin.outcome is None:
        return 0
    subject = await people.get(db, checkin.person_id)
    if subject is None:
        return 0
    told = list(dict.fromkeys(await store.told(db, checkin.id) + ([checkin.told_id] if checkin.told_id else [])))
    unfit_now = await unfit_among(core, db, told, subject.id, None, now)  # away, quiet, blocked: not now
    key = CLEAR_KEYS[kind]
    sent = 0
    for who in told:
        if who in skip or who == subject.id or who in unfit_now:
            continue
        dedupe = f"checkin-clear:{checkin.id}:{who}" + ("" if kind in ("fine", "answered") else f":{kind}")
        sent += await core.tell(db, who, lambda t: t(key, name=subject.first_name or t("someone")), None, now,
                                dedupe_key=dedupe, not_before=care_at(core, now))
    return sent


async def _remind(core: Core, checkin: store.Checkin, now: datetime) -> None:
    await store.mark_reminded(core.db, checkin.id, now)
    person = await people.get(core.db, checkin.person_id)
    if person is None:
        return
    via_helper = checkin.helper_id is not None
    key = "checkin-remind-helper" if via_helper else "checkin-remind"
    await core.tell(core.db, checkin.helper_id or checkin.person_id,
                    lambda t: t(key, name=person.first_name or t("someone")),
                    lambda t: ask_choices(t, checkin.id, via_helper), now, dedupe_key=f"checkin-remind:{checkin.id}")


async def _escalate(core: Core, checkin: store.Checkin, now: datetime) -> None:
    """One escalation, recorded once (so it shows on /quiet and is never sent twice), then the first
    stage of the ladder."""
    if await store.mark_escalated(core.db, checkin.id, now, None, None):
        await climb(core, checkin, now)


async def _next_stage(core: Core, checkin: store.Checkin, now: datetime) -> None:
    await climb(core, checkin, now)


async def climb(core: Core, checkin: store.Checkin, now: datetime) -> None:
    """Tell the next person on the ladder after ``checkin.stage`` (contact → host → another
    moderator → admin, each stage once, passing over who cannot act), who has ``stage_hours`` to
    settle it; when nobody is left, the last stage: the check-in closes with a note to the
    neighbourhood's moderators and the human services that can help."""
    db = core.db
    person = await people.get(db, checkin.person_id)
    if person is None:
        return
    candidates = await ladder(core, db, person.id)
    told = set(await store.told(db, checkin.id))
    reasons = await unfit_among(core, db, [who for _, who in candidates], person.id, checkin.helper_id, now)
    step = next_on_ladder(candidates, checkin.stage, told, reasons)
    await note_skipped(core, db, checkin.id, person.place_id, step.skipped, now)
    if step.who is None:
        await _last_stage(core, checkin, person, now)
        return
    held = care_at(core, now)
    helper = await people.get(db, checkin.helper_id) if checkin.helper_id else None
    await core.tell(db, step.who, _escalation_text(core, checkin, person, helper, now, again=bool(told)),
                    _escalation_choices(checkin.id), now, dedupe_key=f"checkin-escalate:{checkin.id}:{step.who}",
                    not_before=held)
    await store.add_told(db, checkin.id, step.who, step.stage, now)
    await store.set_stage(db, checkin.id, step.stage, (held or now) + stage_limit(core), step.who)


def _escalation_text(core: Core, checkin: store.Checkin, person: Person, helper: Person | None, now: datetime, *,
                     again: bool):
    asked = local(core, checkin.asked_at)
    days = days_since(person.last_active_at, now)

    def text(t: Translator) -> Localized:
        name = person.first_name or t("someone")
        values = {"name": name, "asked": t.date(asked), "days": t.plural("checkin-days", days)}
        if helper is not None:
            body = t("checkin-escalate-helper", helper=helper.first_name or t("someone"), **values)
        else:
            body = t("checkin-escalate", **values)
        return body + Localized("\n\n") + t("checkin-escalate-again") if again else body

    return text


def _escalation_choices(checkin_id: int):
    def choices(t: Translator) -> list[tuple[str, str]]:
        return [(t("checkin-button-ok"), payload("ok", checkin_id)),
                (t("checkin-button-unreached"), payload("unreached", checkin_id))]

    return choices


async def _last_stage(core: Core, checkin: store.Checkin, person: Person, now: datetime) -> None:
    """Nobody left on the ladder: closed, so the person is asked again after their next silence, and
    left on /quiet with a note to the moderators (the admins if none can act) naming the services."""
    db = core.db
    await store.close_unsettled(db, checkin.id, now)
    place = core.content.places.get(person.place_id) if person.place_id else None
    days = days_since(person.last_active_at, now)

    def text(t: Translator) -> Localized:
        return t("checkin-services-note", name=person.first_name or t("someone"), place=place.name if place else "",
                 days=t.plural("checkin-days", days), services=services_text(t))

    def choices(t: Translator) -> list[tuple[str, str]]:
        return [(t("checkin-button-resolved"), payload("resolved", checkin.id))]

    alerted = {who for who, role in (await store.told_as(db, checkin.id)).items() if role == "alert"}
    for moderator in await moderators_to_alert(core, db, person, None, now, checkin.id):
        if moderator in alerted:  # "could not reach" gave them the services already
            continue
        if await core.tell(db, moderator, text, choices, now, dedupe_key=f"checkin-services:{checkin.id}:{moderator}",
                           not_before=care_at(core, now)):
            await store.add_told(db, checkin.id, moderator, "services", now)


_FOLLOW_UPS = {"stopped": _closed_stopped, "alive": _closed_alive, "remind": _remind, "escalate": _escalate,
               "next": _next_stage}


# ---- trying it: the console's clock -------------------------------------------------------------------

async def clock_command(ctx: Context) -> None:
    """/clock +11d (/horloge +11j): move time forward to watch a check-in go from silence to the
    contact's alert. Only where the platform declares ``move_clock`` (the console): a real chat
    platform refuses it, whatever anyone types."""
    transport = ctx.core.transports.get(ctx.address.platform)
    clock = ctx.core.clock
    if transport is None or not transport.capabilities.move_clock or not hasattr(clock, "advance"):
        await ctx.reply(ctx.t("clock-console-only"))
        return
    zone = ctx.core.config.deployment.zone
    args = ctx.body.args.strip() if isinstance(ctx.body, CommandIn) else ""
    shift = parse_shift(args, clock.now(), zone) if args else None
    if shift is None:
        await ctx.reply(ctx.t("clock-usage", now=ctx.t.full_datetime(clock.now().astimezone(zone))))
        return
    moved = clock.advance(shift)
    await ctx.reply(ctx.t("clock-moved", now=ctx.t.full_datetime(moved.astimezone(zone))))


# ---- installing the feature -------------------------------------------------------------------------


def install(core: Core) -> None:
    """The whole check-in feature: the two passes, the answers, /away, /back, /helper and /quiet."""
    zone = core.config.deployment.zone
    settings = core.config.checkins
    core.scheduler.add(Job("checkins-pass", pass_is_due(settings.pass_time, quiet_hours(core), zone), daily_pass))
    core.scheduler.add(Job("checkins-follow-up", every(FOLLOW_UP_EVERY), follow_up_pass))
    core.hooks.person_data(store.export, store.erase)
    core.router.command(Command("clock", clock_command, aliases=("horloge",), needs_member=False,
                                french_name="horloge"))
