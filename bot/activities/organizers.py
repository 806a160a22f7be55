"""/organizer: a shop, artisan, association or public service applies to post local activities.

name → kind → neighbourhoods served (their own by default) → a contact line → sent to the moderators
of those neighbourhoods (or the admins when a neighbourhood has none), who approve, approve as
trusted (publishes without the queue) or reject with a button. The applicant is told either way.
"""

from __future__ import annotations

from bot.core import answers, roles
from bot.core.chat import Body
from bot.core.flows import StepFlow, picked, typed
from bot.core.i18n import Localized
from bot.core.interests import fold
from bot.core.router import Command, Context
from bot.people import after_onboarding
from bot.storage import organizers, outbox
from bot.storage.conversations import Conversation
from bot.storage.database import Database
from bot.storage.organizers import KINDS, Organizer

FLOW = "organizer"
MAX_NAME = 80
MAX_CONTACT = 200
MAX_PLACES = 8
CANCEL_WORDS = {"annuler", "cancel", "stop", "abandonner"}


def kind_label(t, kind: str) -> Localized:
    return t(f"organizer-kind-{kind}")


def places_label(ctx: Context, place_ids: list[str] | tuple[str, ...]) -> str:
    places = ctx.core.content.places
    return ", ".join(p.label if (p := places.get(pid)) else pid for pid in place_ids)


async def deciders(core, db: Database, place_ids: list[str] | tuple[str, ...]) -> list[int]:
    """Who decides for each of these neighbourhoods: its moderators, or the admins where it has none (so
    no neighbourhood of a request is left without anyone able to answer it)."""
    found: list[int] = []
    for place_id in place_ids:
        for person_id in await roles.moderators_of(db, place_id) or await roles.admin_ids(
                db, core.config.deployment.admins):
            if person_id not in found:
                found.append(person_id)
    return found or await roles.admin_ids(db, core.config.deployment.admins)


async def may_decide(ctx: Context, place_ids: list[str] | tuple[str, ...]) -> bool:
    admins = ctx.core.config.deployment.admins
    for place_id in place_ids:
        if await roles.is_moderator(ctx.db, admins, ctx.person.id, place_id):
            return True
    return await roles.is_admin(ctx.db, admins, ctx.person.id)


class OrganizerFlow(StepFlow):
    name = FLOW

    async def handle(self, ctx: Context, conv: Conversation, body: Body) -> None:
        """Typing "annuler" / "cancel" at any step stops the application without storing anything."""
        text = typed(body)
        if text is not None and fold(text) in CANCEL_WORDS:
            await self.end(ctx)
            await ctx.reply(ctx.t("organizer-cancelled"))
            return
        await super().handle(ctx, conv, body)

    async def ask_name(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("organizer-ask-name", limit=MAX_NAME))

    async def on_name(self, ctx: Context, conv: Conversation, body: Body) -> None:
        name = typed(body)
        if not name:
            await self.ask_name(ctx, conv)
        elif len(name) > MAX_NAME:
            await ctx.reply(ctx.t("answer-too-long", limit=MAX_NAME))
        else:
            conv.data["name"] = name
            await self.goto(ctx, conv, "kind")

    async def ask_kind(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("organizer-ask-kind"), [self.button("kind", k, kind_label(ctx.t, k)) for k in KINDS])

    async def on_kind(self, ctx: Context, conv: Conversation, body: Body) -> None:
        kind = picked(body)
        if kind not in KINDS:
            await self.again(ctx, conv, ctx.t("answer-with-buttons"))
            return
        conv.data["kind"] = kind
        conv.data["places"] = [ctx.person.place_id] if ctx.person.place_id else []
        await self.goto(ctx, conv, "places")

    async def ask_places(self, ctx: Context, conv: Conversation) -> None:
        chosen = conv.data.get("places", [])
        text = ctx.t("organizer-ask-places", places=places_label(ctx, chosen) or ctx.t("profile-none"))
        buttons = [self.button("places", "done", ctx.t("button-continue"))] if chosen else []
        if chosen:
            buttons.append(self.button("places", "clear", ctx.t("organizer-button-clear-places")))
        await ctx.reply(text, buttons)

    async def on_places(self, ctx: Context, conv: Conversation, body: Body) -> None:
        value, text = picked(body), typed(body)
        chosen: list[str] = conv.data.setdefault("places", [])
        if chosen and (value == "done" or (text and _means_that_is_all(ctx, text))):
            await self.goto(ctx, conv, "contact")
            return
        if value == "clear":
            chosen.clear()
        elif text:
            if len(text) > 300:
                await ctx.reply(ctx.t("answer-too-long", limit=300))
                return
            unknown, already = self._add_places(ctx, chosen, text)
            notes = [ctx.t("organizer-places-already", places=places_label(ctx, already))] if already else []
            if unknown:
                notes.append(ctx.t("organizer-places-unknown", words=", ".join(unknown)))
            if notes:  # said with the question, in one message
                ctx.note = Localized.join(notes)
        await self.save(ctx, conv)
        await self.ask_places(ctx, conv)

    def _add_places(self, ctx: Context, chosen: list[str], text: str) -> tuple[list[str], list[str]]:
        """Each comma-separated name is matched like at onboarding; only clear matches are taken.
        Returns the words not recognised and the places that were already in the list (said, so that
        typing one's own neighbourhood again is not met with the bare question)."""
        unknown, already = [], []
        for part in [p.strip() for p in text.split(",") if p.strip()][:MAX_PLACES]:
            match = ctx.core.content.places.match(part)
            if match.outcome == "found" and match.places[0].id in chosen:
                already.append(match.places[0].id)
            elif match.outcome == "found" and len(chosen) < MAX_PLACES:
                chosen.append(match.places[0].id)
            else:
                unknown.append(part[:60])
        return unknown, already

    async def ask_contact(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("organizer-ask-contact", limit=MAX_CONTACT),
                        [self.button("contact", "skip", ctx.t("button-skip"))])

    async def on_contact(self, ctx: Context, conv: Conversation, body: Body) -> None:
        text = typed(body)
        if picked(body) == "skip":
            text = ""
        elif text is None:
            await self.ask_contact(ctx, conv)
            return
        elif len(text) > MAX_CONTACT:
            await ctx.reply(ctx.t("answer-too-long", limit=MAX_CONTACT))
            return
        conv.data["contact"] = text
        await self.submit(ctx, conv)

    async def submit(self, ctx: Context, conv: Conversation) -> None:
        data = conv.data
        organizer_id = await organizers.apply(ctx.db, ctx.person.id, data["name"], data["kind"],
                                              data.get("contact", ""), data["places"], ctx.now)
        await self.end(ctx)
        organizer = await organizers.get(ctx.db, organizer_id)
        assert organizer is not None
        told = await ask_moderators(ctx, organizer)
        key = "organizer-submitted" if told else "organizer-submitted-waiting"
        await ctx.reply(ctx.t(key, name=organizer.name))


def application(core, organizer: Organizer):
    """The application as a moderator reads it, with its decision buttons: (text, buttons) for ``tell``."""
    places = ", ".join(p.label if (p := core.content.places.get(pid)) else pid for pid in organizer.requested)

    def text(t) -> Localized:
        return t("organizer-application", name=organizer.name, kind=kind_label(t, organizer.kind), places=places,
                 contact=organizer.contact or t("profile-none"))

    def buttons(t) -> list[tuple[str, str]]:
        return [(t("organizer-button-approve"), f"orgmod:{organizer.id}:ok"),
                (t("organizer-button-trust"), f"orgmod:{organizer.id}:trust"),
                (t("organizer-button-reject"), f"orgmod:{organizer.id}:no")]

    return text, buttons


async def ask_moderators(ctx: Context, organizer: Organizer) -> int:
    """Each moderator of the neighbourhoods served (else each admin) gets the application with decision
    buttons. Returns how many were told: none means it waits in /demandes for the first moderator."""
    text, buttons = application(ctx.core, organizer)
    told = 0
    for moderator_id in await deciders(ctx.core, ctx.db, organizer.requested):
        key = f"orgapp:{organizer.id}:{ctx.now.isoformat()}:{moderator_id}"
        told += await ctx.core.tell(ctx.db, moderator_id, text, buttons, ctx.now, dedupe_key=key,
                                    delivery_class=outbox.CARE)
    return told


# ---- requests waiting for a decision: /demandes, and the first moderator appointed ----------------------

def _in_scope(place_ids: list[str] | None, places: tuple[str, ...] | list[str]) -> bool:
    return place_ids is None or any(p in place_ids for p in places)


async def pending_applications(db: Database, place_ids: list[str] | None) -> list[Organizer]:
    """Organizer applications not yet decided, of these neighbourhoods (None: all), oldest first."""
    rows = await db.fetchall(
        "SELECT DISTINCT o.id, o.created_at FROM organizers o JOIN organizer_places p ON p.organizer_id = o.id "
        "WHERE p.status = 'pending' ORDER BY o.created_at, o.id")
    found = [o for o in [await organizers.get(db, r[0]) for r in rows] if o is not None]
    return [o for o in found if _in_scope(place_ids, o.pending)]


async def decidable(ctx: Context, place_ids: list[str] | tuple[str, ...]) -> list[str]:
    """The places among these that this person may decide for: those they moderate (an admin: all).
    The applicant chooses the list, so a moderator of one place never decides for the others."""
    admins = ctx.core.config.deployment.admins
    if await roles.is_admin(ctx.db, admins, ctx.person.id):
        return list(place_ids)
    return [p for p in place_ids if await roles.is_moderator(ctx.db, admins, ctx.person.id, p)]


async def decide(ctx: Context) -> None:
    """A moderator's button on an application: it decides for the neighbourhoods they moderate only."""
    _, organizer_id, answer = [*ctx.payload.split(":"), "", ""][:3]
    organizer = await organizers.get(ctx.db, int(organizer_id)) if organizer_id.isdigit() else None
    if organizer is None or answer not in ("ok", "trust", "no"):
        await ctx.reply(ctx.t("choice-expired"))
        return
    mine = await decidable(ctx, organizer.requested)
    if not mine:
        await ctx.reply(ctx.t("organizer-not-moderator", places=places_label(ctx, organizer.requested)))
        return
    status = "rejected" if answer == "no" else "approved"
    decided = await organizers.decide(ctx.db, organizer.id, status, answer == "trust", ctx.person.id, mine)
    if not decided:
        await ctx.reply(ctx.t("organizer-already-decided", name=organizer.name))
        return
    places = places_label(ctx, decided)
    key = f"organizer-decision-{answer}"
    await ctx.tell(organizer.person_id, lambda t: t(key, name=organizer.name, places=places),
                   dedupe_key=f"orgdec:{organizer.id}:{ctx.now.isoformat()}:{ctx.person.id}")
    await ctx.reply(ctx.t(f"organizer-decided-{answer}", name=organizer.name, places=places))


async def organizer_command(ctx: Context) -> None:
    """/organizer: apply, or see where one's application stands. Typed before joining (a shopkeeper's
    first message): a few questions about them first, then the application starts by itself."""
    if not ctx.person.onboarded:

        await ctx.reply(ctx.t("organizer-after-onboarding"))
        await after_onboarding(ctx, "organizer")
        return
    existing = await organizers.of_person(ctx.db, ctx.person.id)
    if existing is not None and existing.status == "approved":
        key = "organizer-status-trusted" if existing.trusted else "organizer-status-approved"
        await ctx.reply(ctx.t(key, name=existing.name, places=places_label(ctx, existing.places)))
        return
    if existing is not None and existing.status == "pending":
        await ctx.reply(ctx.t("organizer-status-pending", name=existing.name))
        return
    await ctx.core.router.flows[FLOW].begin(ctx, "name")  # type: ignore[attr-defined]


async def trust_command(ctx: Context) -> None:
    """/trust <organizer name>: a moderator lets an approved organizer publish without the queue."""
    args = ctx.body.args.strip() if hasattr(ctx.body, "args") else ""
    rows = await ctx.db.fetchall("SELECT id, name FROM organizers WHERE status = 'approved'")
    match = [r["id"] for r in rows if fold(r["name"]) == fold(args)] if args else []
    organizer = await organizers.get(ctx.db, match[0]) if len(match) == 1 else None
    if organizer is None:
        await ctx.reply(ctx.t("organizer-trust-usage"))
        return
    mine = await decidable(ctx, organizer.places)
    if not mine:
        await ctx.reply(ctx.t("organizer-not-moderator", places=places_label(ctx, organizer.places)))
        return
    marks = ", ".join("?" * len(mine))
    trusted_here = bool(await ctx.db.scalar(
        f"SELECT MIN(trusted) FROM organizer_places WHERE organizer_id = ? AND place_id IN ({marks})",
        (organizer.id, *mine)))
    await organizers.set_trusted(ctx.db, organizer.id, not trusted_here, mine)
    key = "organizer-trusted" if not trusted_here else "organizer-untrusted"
    await ctx.reply(ctx.t(key, name=organizer.name, places=places_label(ctx, mine)))


def _means_that_is_all(ctx: Context, text: str) -> bool:
    """ "oui", "ok", "c'est tout", "fini", "non merci" asked "which neighbourhoods, for now: X?" all
    mean the list is right as it is: continue (only when the list is not empty). A place's own name
    wins over a short word that happens to look like one."""
    if not (answers.is_finish(text) or answers.polarity(text) is not None):
        return False
    return ctx.core.content.places.match(text).outcome != "found"


def install(core) -> None:
    core.router.flow(OrganizerFlow())
    core.router.command(Command("organizer", organizer_command, aliases=("organisateur", "organisatrice"),
                                help_key="help-organizer", french_name="organisateur", needs_member=False))
    core.router.command(Command("trust", trust_command, aliases=("confiance",), french_name="confiance",
                                staff=True))
    core.router.action("orgmod", decide, before_onboarding=True)  # role-checked: admins need not join
