"""/event: an approved organizer describes an activity in a short guided conversation, and manages it.

title → when (natural dates, echoed back in words for a yes) → where → description → neighbourhoods
(default: all the organizer's) → interests (none: for everyone) → capacity (optional) → preview →
publish. "annuler" / "cancel" (or /annuler) at any step stops without storing anything. Trusted
organizers publish directly; other events wait for a moderator of their neighbourhoods.

/myevents lists one's coming events with buttons to change a field or cancel; those who answered are
told of a new date or place, and of a cancellation.
"""

from __future__ import annotations

from datetime import datetime

from bot.activities import announcements, dates
from bot.activities.organizers import CANCEL_WORDS, deciders, may_decide, places_label
from bot.core.chat import Body
from bot.core.clock import from_iso, to_iso
from bot.core.flows import MISSED, StepFlow, Ticks, picked, picked_all, typed
from bot.core.i18n import Localized
from bot.core.interests import fold
from bot.core.router import Command, Context
from bot.storage import events, organizers, outbox
from bot.storage.conversations import Conversation
from bot.storage.events import Draft, Event
from bot.storage.organizers import Organizer
from bot.storage.rsvps import export as rsvps_export

FLOW = "event"
EDITABLE = {"title": "title", "when": "starts_at", "where": "location", "description": "description",
            "capacity": "capacity"}
NO_LIMIT_WORDS = {"non", "no", "none", "aucune", "aucun", "illimite", "unlimited", "-", "0", "pas de limite"}
EXAMPLES = "samedi 15h, 12/12 à 18h30, demain 10h, next friday 7pm"


async def approved_organizer(ctx: Context) -> Organizer | None:
    """The organizer behind this person, or None after saying who can post and how to apply."""
    organizer = await organizers.of_person(ctx.db, ctx.person.id)
    if organizer is None or organizer.status == "rejected":
        await ctx.reply(ctx.t("event-who-can-post"))
        return None
    if organizer.status == "pending":
        await ctx.reply(ctx.t("organizer-status-pending", name=organizer.name))
        return None
    return organizer


async def over_cap(ctx: Context, organizer_id: int, moment: datetime, exclude: int | None = None) -> bool:
    """The weekly cap: at most ``weekly_cap`` live events of one organizer in a Monday–Sunday week."""
    start, end = dates.week_bounds(moment, ctx.core.config.deployment.zone)
    cap = ctx.core.config.activities.weekly_cap
    return await events.count_between(ctx.db, organizer_id, start, end, exclude) >= cap


class EventFlow(StepFlow):
    name = FLOW

    async def handle(self, ctx: Context, conv: Conversation, body: Body) -> None:
        text = typed(body)
        if text is not None and fold(text) in CANCEL_WORDS:
            await self.end(ctx)
            await ctx.reply(ctx.t("event-draft-cancelled"))
            return
        await super().handle(ctx, conv, body)

    def limits(self, ctx: Context):
        return ctx.core.config.activities

    async def text_answer(self, ctx: Context, conv: Conversation, body: Body, limit: int) -> str | None:
        """A typed answer within the limit, or None after asking again (the step is unchanged)."""
        text = typed(body)
        if not text:
            await self.again(ctx, conv, ctx.t("event-type-answer"))
            return None
        if len(text) > limit:
            await ctx.reply(ctx.t("answer-too-long", limit=limit))
            return None
        return text

    async def then(self, ctx: Context, conv: Conversation, step: str) -> None:
        """Next step, or — when changing one field of an existing event — apply it and stop."""
        if conv.data.get("edit"):
            await apply_edit(ctx, conv)
        else:
            await self.goto(ctx, conv, step)

    # ---- title, when, where, description --------------------------------------------------------

    async def ask_title(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("event-ask-title", limit=self.limits(ctx).max_title))

    async def on_title(self, ctx: Context, conv: Conversation, body: Body) -> None:
        text = await self.text_answer(ctx, conv, body, self.limits(ctx).max_title)
        if text is not None:
            conv.data["title"] = text
            await self.then(ctx, conv, "when")

    async def ask_when(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("event-ask-when", examples=EXAMPLES))

    async def on_when(self, ctx: Context, conv: Conversation, body: Body) -> None:
        text = await self.text_answer(ctx, conv, body, 100)
        if text is None:
            return
        found = dates.parse_when(text, ctx.now, ctx.core.config.deployment.zone)
        if found.moment is None:
            day = ctx.t.full_date(found.day) if found.day else ""
            await ctx.reply(ctx.t(f"event-when-{found.problem}", typed=text, examples=EXAMPLES, day=day))
            return
        if await over_cap(ctx, conv.data["organizer"], found.moment, conv.data.get("edit")):
            await ctx.reply(ctx.t("event-cap-reached", cap=self.limits(ctx).weekly_cap))
            return
        conv.data["starts_at"] = to_iso(found.moment)
        conv.data["ends_at"] = to_iso(found.ends) if found.ends else None
        conv.data["when_typed"] = text if found.ambiguous else None
        await self.goto(ctx, conv, "when_ok")

    async def ask_when_ok(self, ctx: Context, conv: Conversation) -> None:
        """The date is always echoed in words; a reading that could be meant otherwise ("jeudi
        prochain", "en huit") is echoed with the year and what was typed, so a wrong guess shows."""
        zone = ctx.core.config.deployment.zone
        moment = from_iso(conv.data["starts_at"]).astimezone(zone)
        ends = from_iso(conv.data["ends_at"]).astimezone(zone) if conv.data.get("ends_at") else None
        when = ctx.t.full_datetime(moment) if conv.data.get("when_typed") or moment.year != ctx.now.year else (
            announcements.when_text(ctx.core, ctx.t, moment))
        if ends is not None:
            when = str(ctx.t("event-when-until", when=when, end=ends.strftime("%H:%M")))
        if conv.data.get("when_typed"):
            text = ctx.t("event-when-echo-check", typed=conv.data["when_typed"], when=when)
        else:
            text = ctx.t("event-when-echo", when=when)
        await ctx.reply(text, [self.button("when_ok", "yes", ctx.t("event-button-when-yes")),
                               self.button("when_ok", "no", ctx.t("event-button-when-no"))])

    async def on_when_ok(self, ctx: Context, conv: Conversation, body: Body) -> None:
        answer = picked(body)
        if answer == "yes":
            await self.then(ctx, conv, "where")
        elif answer == "no":
            await self.goto(ctx, conv, "when")
        elif typed(body):  # another date typed instead of pressing: read that one
            conv.step = "when"
            await self.on_when(ctx, conv, body)
        else:
            await self.ask_when_ok(ctx, conv)

    async def ask_where(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("event-ask-where", limit=self.limits(ctx).max_location))

    async def on_where(self, ctx: Context, conv: Conversation, body: Body) -> None:
        text = await self.text_answer(ctx, conv, body, self.limits(ctx).max_location)
        if text is not None:
            conv.data["location"] = text
            await self.then(ctx, conv, "description")

    async def ask_description(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("event-ask-description", limit=self.limits(ctx).max_description))

    async def on_description(self, ctx: Context, conv: Conversation, body: Body) -> None:
        text = await self.text_answer(ctx, conv, body, self.limits(ctx).max_description)
        if text is None:
            return
        conv.data["description"] = text
        if conv.data.get("edit"):
            await apply_edit(ctx, conv)
        elif len(conv.data["served"]) > 1:
            await self.goto(ctx, conv, "places")
        else:
            await self.goto(ctx, conv, "interests")

    # ---- neighbourhoods and interests: toggle buttons ------------------------------------------------

    async def ask_places(self, ctx: Context, conv: Conversation) -> None:
        chosen = conv.data["places"]
        places = ctx.core.content.places
        buttons = [self.button("places", pid, ("✓ " if pid in chosen else "") + (p.label if (p := places.get(pid))
                                                                                   else pid))
                   for pid in conv.data["served"]]
        buttons.append(self.button("places", "done", ctx.t("button-continue")))
        await ctx.reply(ctx.t("event-ask-places"), buttons)

    async def on_places(self, ctx: Context, conv: Conversation, body: Body) -> None:
        chosen: list[str] = conv.data["places"]
        values = picked_all(body)
        if "done" in values and chosen:
            await self.goto(ctx, conv, "interests")
            return
        if "done" in values:
            await self.again(ctx, conv, ctx.t("event-places-none"))
            return
        served = conv.data["served"]
        if not any(v in served for v in values):
            await self.again(ctx, conv, ctx.t("answer-with-buttons"))
            return
        change = Ticks(conv, ctx.now)
        for value in values:
            change.toggle(chosen, value if value in served else None, undo=Ticks.undoes(body))
        await self.acknowledge(ctx, conv, change, {pid: p.label for pid in served
                                                   if (p := ctx.core.content.places.get(pid))}, chosen, len(served))

    async def acknowledge(self, ctx: Context, conv: Conversation, change: Ticks, labels: dict[str, str],
                          chosen: list[str], count: int) -> None:
        """One short message per tick, the list offered before stays answerable (see ``Ticks``)."""
        conv.data.pop(MISSED, None)
        await self.save(ctx, conv)
        await ctx.reply(change.sentence(ctx, labels, chosen, count + 1), keep_choices=True)

    async def ask_interests(self, ctx: Context, conv: Conversation) -> None:
        chosen = conv.data["interests"]
        buttons = [self.button("interests", topic.key, ("✓ " if topic.key in chosen else "") + topic.label(ctx.t.lang))
                   for topic in ctx.core.content.interests.topics]
        buttons.append(self.button("interests", "done", ctx.t("button-continue")))
        await ctx.reply(ctx.t("event-ask-interests"), buttons)

    async def on_interests(self, ctx: Context, conv: Conversation, body: Body) -> None:
        chosen: list[str] = conv.data["interests"]
        values = picked_all(body)
        if "done" in values:
            await self.goto(ctx, conv, "capacity")
            return
        topics = ctx.core.content.interests
        if not any(v and topics.get(v) for v in values):
            await self.again(ctx, conv, ctx.t("answer-with-buttons"))
            return
        change = Ticks(conv, ctx.now)
        for value in values:
            change.toggle(chosen, value if value and topics.get(value) else None, undo=Ticks.undoes(body))
        labels = {t.key: t.label(ctx.t.lang) for t in topics.topics}
        await self.acknowledge(ctx, conv, change, labels, chosen, len(topics.topics))

    # ---- capacity, preview, publish --------------------------------------------------------------

    async def ask_capacity(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("event-ask-capacity", max=self.limits(ctx).max_capacity))

    async def on_capacity(self, ctx: Context, conv: Conversation, body: Body) -> None:
        text = await self.text_answer(ctx, conv, body, 20)
        if text is None:
            return
        folded = fold(text)
        top = self.limits(ctx).max_capacity
        if folded in NO_LIMIT_WORDS:
            conv.data["capacity"] = None
        elif folded.isdigit() and 1 <= int(folded) <= top:
            conv.data["capacity"] = int(folded)
        else:
            await ctx.reply(ctx.t("event-capacity-again", max=top))
            return
        await self.then(ctx, conv, "preview")

    async def ask_preview(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("event-preview-header") + Localized("\n") + preview(ctx, conv.data),
                        [self.button("preview", "publish", ctx.t("event-button-publish")),
                         self.button("preview", "cancel", ctx.t("event-button-discard"))])

    async def on_preview(self, ctx: Context, conv: Conversation, body: Body) -> None:
        answer = picked(body)
        if answer == "publish":
            await self.end(ctx)
            await submit(ctx, conv.data)
        elif answer == "cancel":
            await self.end(ctx)
            await ctx.reply(ctx.t("event-draft-cancelled"))
        else:
            await self.again(ctx, conv, ctx.t("answer-with-buttons"))


def preview(ctx: Context, data: dict) -> Localized:
    t = ctx.t
    interests = ", ".join(ctx.core.content.interests.labels(data["interests"], t.lang)) or t("event-for-everyone")
    capacity = str(data["capacity"]) if data.get("capacity") else t("event-no-limit")
    return t("event-preview", title=data["title"],
             when=announcements.when_text(ctx.core, t, from_iso(data["starts_at"])), where=data["location"],
             description=data["description"], places=places_label(ctx, data["places"]), interests=interests,
             capacity=capacity)


def draft_of(data: dict) -> Draft:
    ends_at = from_iso(data["ends_at"]) if data.get("ends_at") else None
    return Draft(title=data["title"], starts_at=from_iso(data["starts_at"]), ends_at=ends_at, location=data["location"],
                 description=data["description"], places=tuple(data["places"]),
                 interests=tuple(data["interests"]), capacity=data.get("capacity"))


async def submit(ctx: Context, data: dict) -> None:
    """Store the event: published and announced at once for trusted organizers, else queued."""
    organizer = await organizers.get(ctx.db, data["organizer"])
    if organizer is None or not organizer.approved:
        await ctx.reply(ctx.t("event-who-can-post"))
        return
    draft = draft_of(data)
    if await over_cap(ctx, organizer.id, draft.starts_at):
        await ctx.reply(ctx.t("event-cap-reached", cap=ctx.core.config.activities.weekly_cap))
        return
    event_id = await events.create(ctx.db, organizer.id, draft, "pending", ctx.now)
    if organizer.trusted:
        queued = await announcements.publish(ctx.core, ctx.db, event_id, ctx.now)
        await ctx.reply(ctx.t.plural("event-published", queued, title=draft.title))
        return
    told = await ask_moderators(ctx, await events.get(ctx.db, event_id), organizer)
    await ctx.reply(ctx.t("event-queued" if told else "event-queued-waiting", title=draft.title))


async def ask_moderators(ctx: Context, event: Event | None, organizer: Organizer) -> int:
    assert event is not None
    return await queue_for_moderators(ctx.core, ctx.db, event, organizer, ctx.now)


async def queue_for_moderators(core, db, event: Event, organizer: Organizer, now: datetime) -> int:
    """Each moderator of the event's neighbourhoods (else each admin) gets it with approve / reject
    buttons. Returns how many: none means it waits in /demandes for the first moderator appointed."""
    told = 0
    for moderator_id in await deciders(core, db, event.places):
        told += await offer_event(core, db, event, organizer, moderator_id, now)
    return told


async def offer_event(core, db, event: Event, organizer: Organizer, moderator_id: int, now: datetime,
                      delivery_class: int = outbox.CARE, *, asked_again: bool = False) -> int:
    """``asked_again``: the moderator asked for it (/demandes), so it is sent even though it was
    offered before (the earlier message may be far up the chat)."""
    def text(t) -> Localized:
        return t("event-to-moderate", organizer=organizer.name) + Localized("\n") + t(
            "event-card", title=event.title, when=announcements.when_text(core, t, event.starts_at),
            where=event.location or t("profile-none"), organizer=organizer.name) + Localized("\n") + t(
            "event-card-description", description=event.description or t("profile-none"))

    key = f"evmod:{event.id}:{moderator_id}" + (f":{now.isoformat()}" if asked_again else "")
    return int(await core.tell(db, moderator_id, text,
                               lambda t: [(t("event-button-approve"), f"evmod:{event.id}:ok"),
                                          (t("event-button-reject"), f"evmod:{event.id}:no")],
                               now, dedupe_key=key, delivery_class=delivery_class))


async def pending_events(db, place_ids: list[str] | None) -> list[tuple[Event, Organizer]]:
    """Events waiting for a moderator in these neighbourhoods (None: all), soonest first."""
    rows = await db.fetchall("SELECT id FROM events WHERE status = 'pending' ORDER BY starts_at, id")
    found = []
    for row in rows:
        event = await events.get(db, row[0])
        organizer = await organizers.get(db, event.organizer_id) if event else None
        if event and organizer and (place_ids is None or any(p in place_ids for p in event.places)):
            found.append((event, organizer))
    return found


async def moderate(ctx: Context) -> None:
    """evmod:<event>:ok|no — a moderator of one of the event's neighbourhoods decides."""
    _, event_id, answer = [*ctx.payload.split(":"), "", ""][:3]
    event = await events.get(ctx.db, int(event_id)) if event_id.isdigit() else None
    if event is None or answer not in ("ok", "no"):
        await ctx.reply(ctx.t("choice-expired"))
        return
    if not await may_decide(ctx, event.places):
        await ctx.reply(ctx.t("organizer-not-moderator", places=places_label(ctx, event.places)))
        return
    if event.status != "pending":
        await ctx.reply(ctx.t("event-already-decided", title=event.title))
        return
    organizer = await organizers.get(ctx.db, event.organizer_id)
    if answer == "ok":
        queued = await announcements.publish(ctx.core, ctx.db, event.id, ctx.now)
        await ctx.reply(ctx.t.plural("event-approved", queued, title=event.title))
    else:
        await events.set_status(ctx.db, event.id, "rejected", ctx.now, expected="pending")
        await ctx.reply(ctx.t("event-rejected", title=event.title))
    if organizer is not None:
        await ctx.tell(organizer.person_id, lambda t: t(f"event-decision-{answer}", title=event.title),
                       dedupe_key=f"evdec:{event.id}")


# ---- an organizer's own events ----------------------------------------------------------------

async def event_command(ctx: Context) -> None:
    organizer = await approved_organizer(ctx)
    if organizer is None:
        return
    flow: EventFlow = ctx.core.router.flows[FLOW]  # type: ignore[assignment]
    await flow.begin(ctx, "title", organizer=organizer.id, served=list(organizer.places),
                     places=list(organizer.places), interests=[], capacity=None)


async def my_events(ctx: Context) -> None:
    organizer = await approved_organizer(ctx)
    if organizer is None:
        return
    found = await events.of_organizer(ctx.db, organizer.id, ctx.now)
    if not found:
        await ctx.reply(ctx.t("myevents-none"))
        return
    lines = [ctx.t("myevents-header")]
    lines += [ctx.t("myevents-line", when=announcements.when_text(ctx.core, ctx.t, e.starts_at), title=e.title,
                    status=ctx.t(f"event-status-{e.status}")) for e in found[:20]]
    await ctx.reply(Localized.join(lines), [(e.title[:30], f"evo:{e.id}:show") for e in found[:8]])


async def own_event(ctx: Context) -> None:
    """evo:<event>:show|edit:<field>|cancel|cancelyes — the organizer's buttons on their own event."""
    parts = ctx.payload.split(":")
    event = await events.get(ctx.db, int(parts[1])) if len(parts) > 2 and parts[1].isdigit() else None
    organizer = await organizers.of_person(ctx.db, ctx.person.id)
    if event is None or organizer is None or event.organizer_id != organizer.id or event.status not in events.LIVE:
        await ctx.reply(ctx.t("event-not-available"))
        return
    what = parts[2]
    t = ctx.t
    if what == "show":
        buttons = [(t(f"myevents-edit-{field}"), f"evo:{event.id}:edit:{field}") for field in EDITABLE]
        buttons.append((t("myevents-cancel"), f"evo:{event.id}:cancel"))
        status = t(f"event-status-{event.status}")
        await ctx.reply(await announcements.card(ctx.core, ctx.db, t, event) + Localized("\n") + status, buttons)
    elif what == "edit" and len(parts) == 4 and parts[3] in EDITABLE:
        flow: EventFlow = ctx.core.router.flows[FLOW]  # type: ignore[assignment]
        await flow.begin(ctx, parts[3], organizer=organizer.id, edit=event.id)
    elif what == "cancel":
        await ctx.reply(t("myevents-cancel-confirm", title=event.title),
                        [(t("myevents-cancel-yes"), f"evo:{event.id}:cancelyes"), (t("myevents-cancel-no"),
                                                                                   f"evo:{event.id}:show")])
    elif what == "cancelyes":
        await events.set_status(ctx.db, event.id, "cancelled", ctx.now)
        told = await announcements.tell_attendees(ctx.core, ctx.db, event, "event-cancelled-notice", ctx.now)
        await ctx.reply(t.plural("myevents-cancelled", told, title=event.title))
    else:
        await ctx.reply(t("choice-expired"))


async def apply_edit(ctx: Context, conv: Conversation) -> None:
    """Store the one changed field; a new date or place is told to everyone who answered."""
    flow = ctx.core.router.flows[FLOW]
    await flow.end(ctx)  # type: ignore[attr-defined]
    event = await events.get(ctx.db, conv.data["edit"])
    if event is None or event.status not in events.LIVE:
        await ctx.reply(ctx.t("event-not-available"))
        return
    field = EDITABLE[conv.step if conv.step != "when_ok" else "when"]
    value = conv.data[field]
    changes = {field: from_iso(value) if field == "starts_at" else value}
    if field == "starts_at":  # a new date replaces the old range's end too
        changes["ends_at"] = from_iso(conv.data["ends_at"]) if conv.data.get("ends_at") else None
    await events.update(ctx.db, event.id, ctx.now, **changes)
    event = await events.get(ctx.db, event.id)
    assert event is not None
    told = 0
    if event.status == "published" and field in ("starts_at", "location"):
        told = await announcements.tell_attendees(ctx.core, ctx.db, event, "event-changed-notice", ctx.now)
    if field == "capacity":
        await announcements.fill_places(ctx.core, ctx.db, event, ctx.now)
    await ctx.reply(ctx.t.plural("myevents-changed", told, title=event.title))


def install(core) -> None:
    core.hooks.person_data(export_activities, erase_activities)
    core.router.flow(EventFlow())
    core.router.many(FLOW, "places", "interests")
    core.router.command(Command("event", event_command, aliases=("evenement", "evenements"),
                                help_key="help-event", french_name="evenement"))
    core.router.command(Command("myevents", my_events, aliases=("mesevenements", "mes-evenements"),
                                help_key="help-myevents", french_name="mesevenements"))
    core.router.action("evmod", moderate, before_onboarding=True)  # role-checked: admins need not join
    core.router.action("evo", own_event)


async def export_activities(db, person_id: int) -> dict:
    """For /mydata: an organizer record, answers to events, the digest choice."""
    data: dict = {}
    data.update(await organizers.export(db, person_id))
    data.update(await rsvps_export(db, person_id))
    data["weekly_digest"] = bool(await db.scalar("SELECT 1 FROM digest_members WHERE person_id = ?", (person_id,)))
    return data


async def erase_activities(db, person_id: int) -> None:
    """For /forget: answers and the digest choice go (an organizer's events go with their record)."""
    await db.execute("DELETE FROM rsvps WHERE person_id = ?", (person_id,))
    await db.execute("DELETE FROM digest_members WHERE person_id = ?", (person_id,))
    await db.execute("DELETE FROM organizers WHERE person_id = ?", (person_id,))
