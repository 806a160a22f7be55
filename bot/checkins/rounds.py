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

from bot.checkins.decisions import OpenCheckin, QuietHours, escalation_order, follow_up, pass_is_due, payload
from bot.core import roles
from bot.core.chat import Choice, Outgoing
from bot.core.clock import from_iso
from bot.core.config import CONTENT_DIR
from bot.core.i18n import Localized, Translator
from bot.core.scheduler import Job, every
from bot.storage import checkins as store
from bot.storage import circles as circle_store
from bot.storage import conversations, outbox, people
from bot.storage.database import Database

if TYPE_CHECKING:
    from bot.core.app import Core

FOLLOW_UP_EVERY = timedelta(minutes=15)


# ---- settings ---------------------------------------------------------------------------------------


def quiet_hours(core: Core) -> QuietHours:
    return QuietHours.parse(core.config.checkins.quiet_start, core.config.checkins.quiet_end)


def cutoff(core: Core, now: datetime) -> datetime:
    return now - timedelta(days=core.config.checkins.threshold_days)


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


def services_text(t: Translator) -> Localized:
    """The listening line, the town hall's social service… from ``content/services.toml``."""
    lines = []
    for service in _services(str(CONTENT_DIR / "services.toml")):
        what = service.get(t.lang) or service.get("fr", "")
        key = "checkin-service-line" if service.get("phone") else "checkin-service-line-nophone"
        lines.append(t(key, name=service["name"], phone=service.get("phone", ""), what=what))
    return Localized.join(lines)


# ---- whom to tell -----------------------------------------------------------------------------------


async def ladder(core: Core, db: Database, person_id: int) -> list[tuple[str, int]]:
    """Who to tell about this person, best first (see ``bot.checkins.decisions.escalation_order``)."""
    person = await people.get(db, person_id)
    if person is None:
        return []
    circle = await circle_store.circle_of(db, person_id)
    hosts = await roles.hosts_of(db, circle.id) if circle else []
    moderators = await roles.moderators_of(db, person.place_id) if person.place_id else []
    admins = await roles.admin_ids(db, core.config.deployment.admins)
    return list(escalation_order(person_id, person.contact_person_id, person.contact_confirmed_at is not None,
                                 hosts, moderators, admins))


async def tell_first(core: Core, db: Database, candidates: list[tuple[str, int]], text, choices, now: datetime,
                     key: str) -> tuple[str | None, int | None]:
    """Tell the first candidate who can be reached; (role, id) of who was told, or (None, None)."""
    for role, who in candidates:
        if await core.tell(db, who, text, choices, now, dedupe_key=f"{key}:{who}"):
            return role, who
    return None, None


async def moderators_to_alert(core: Core, db: Database, place_id: str | None, skip: int) -> list[int]:
    """The neighbourhood's moderators (the admins if it has none), except who raised the alert."""
    found = await roles.moderators_of(db, place_id) if place_id else []
    found = found or await roles.admin_ids(db, core.config.deployment.admins)
    return [m for m in dict.fromkeys(found) if m != skip]


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
        for checkin, active, on in await store.unanswered(core.db, now - delay / 2):
            state = OpenCheckin(from_iso(checkin.asked_at), checkin.reminded_at is not None,
                                from_iso(active) if active else None, on)
            action = follow_up(state, now, delay, quiet_hours(core), core.config.deployment.zone)
            if action is None:
                continue
            await _FOLLOW_UPS[action](core, checkin, now)
            done[action] = done.get(action, 0) + 1
    return done


async def _closed_stopped(core: Core, checkin: store.Checkin, now: datetime) -> None:
    await store.answer(core.db, checkin.id, "off", now)


async def _closed_alive(core: Core, checkin: store.Checkin, now: datetime) -> None:
    await store.answer(core.db, checkin.id, "active", now)


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
    """One escalation, to the first reachable on the ladder; recorded even when nobody could be told,
    so it shows on /quiet and is never sent twice."""
    person = await people.get(core.db, checkin.person_id)
    if person is None:
        return
    candidates = [c for c in await ladder(core, core.db, person.id) if c[1] != checkin.helper_id]
    asked = local(core, checkin.asked_at)
    days = days_since(person.last_active_at, now)
    helper = await people.get(core.db, checkin.helper_id) if checkin.helper_id else None

    def text(t: Translator) -> Localized:
        name = person.first_name or t("someone")
        values = {"name": name, "asked": t.date(asked), "days": t.plural("checkin-days", days)}
        if helper is not None:
            return t("checkin-escalate-helper", helper=helper.first_name or t("someone"), **values)
        return t("checkin-escalate", **values)

    def choices(t: Translator) -> list[tuple[str, str]]:
        return [(t("checkin-button-ok"), payload("ok", checkin.id)),
                (t("checkin-button-unreached"), payload("unreached", checkin.id))]

    role, who = await tell_first(core, core.db, candidates, text, choices, now, f"checkin-escalate:{checkin.id}")
    await store.mark_escalated(core.db, checkin.id, now, who, role)


_FOLLOW_UPS = {"stopped": _closed_stopped, "alive": _closed_alive, "remind": _remind, "escalate": _escalate}


# ---- installing the feature -------------------------------------------------------------------------


def install(core: Core) -> None:
    """The whole check-in feature: the two passes, the answers, /away, /back, /helper and /quiet."""
    zone = core.config.deployment.zone
    settings = core.config.checkins
    core.scheduler.add(Job("checkins-pass", pass_is_due(settings.pass_time, quiet_hours(core), zone), daily_pass))
    core.scheduler.add(Job("checkins-follow-up", every(FOLLOW_UP_EVERY), follow_up_pass))
    core.hooks.person_data(store.export, store.erase)
