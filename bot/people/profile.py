"""/profile to change any onboarding answer, /leave to leave the circle, /help, /cancel."""

from __future__ import annotations

from bot.circles import leave_circle, nearby_place, place_label
from bot.core.chat import Body
from bot.core.flows import StepFlow, picked
from bot.core.i18n import Localized
from bot.core.router import Command, Context
from bot.people.onboarding import FLOW as ONBOARDING
from bot.people.onboarding import Onboarding
from bot.storage import circles as circle_store
from bot.storage import conversations, people
from bot.storage.conversations import Conversation

EDITABLE = ("language", "place", "interests", "offers", "wants", "checkins")


def summary(ctx: Context) -> Localized:
    """Everything a person told us, in their words, as /profile and /mydata show it."""
    p, t, content = ctx.person, ctx.t, ctx.core.content
    none = t("profile-none")
    place = content.places.get(p.place_id) if p.place_id else None
    lines = [
        t("profile-line-name", value=p.first_name or none),
        t("profile-line-language", value="Français" if p.language == "fr" else "English"),
        t("profile-line-place", value=place.label if place else none),
        t("profile-line-interests", value=", ".join(content.interests.labels(p.interests, t.lang)) or none),
        t("profile-line-offers", value=", ".join(content.help_kinds.labels(p.offers, t.lang)) or none),
        t("profile-line-wants", value=", ".join(content.help_kinds.labels(p.wants, t.lang)) or none),
        t("profile-line-checkins", value=t("yes") if p.checkins else t("no")),
    ]
    return Localized.join(lines)


class ProfileMenu(StepFlow):
    name = "profile"

    async def ask_menu(self, ctx: Context, conv: Conversation) -> None:
        buttons = [self.button("menu", field, ctx.t(f"profile-edit-{field}")) for field in EDITABLE]
        buttons.append(self.button("menu", "done", ctx.t("button-done")))
        await ctx.reply(ctx.t("profile-header") + Localized("\n") + summary(ctx), buttons)

    async def on_menu(self, ctx: Context, conv: Conversation, body: Body) -> None:
        field = picked(body)
        if field == "done":
            await self.end(ctx)
            await ctx.reply(ctx.t("profile-saved"))
        elif field in EDITABLE:
            onboarding = ctx.core.router.flows[ONBOARDING]
            await onboarding.begin(ctx, field, mode="profile")  # type: ignore[attr-defined]
        else:
            await self.again(ctx, conv, ctx.t("answer-with-buttons"))


async def profile(ctx: Context) -> None:
    person = await people.get(ctx.db, ctx.person.id)
    ctx.person = person
    ctx.t = ctx.core.translator(person.language)
    await ctx.core.router.flows["profile"].begin(ctx, "menu")  # type: ignore[attr-defined]


async def leave(ctx: Context) -> None:
    """/leave: out of one's circle — or out of the wait for one, which is leaving it before it opens."""
    in_circle = await circle_store.circle_of(ctx.db, ctx.person.id) is not None
    wait = None if in_circle else await circle_store.wait_of(ctx.db, ctx.person.id)
    if not in_circle and wait is None:
        await ctx.reply(ctx.t("leave-not-in-circle"))
        return
    question = ctx.t("leave-confirm") if wait is None else ctx.t("leave-wait-confirm",
                                                                  place=place_label(ctx.core, wait.place_id))
    await ctx.reply(question, [(ctx.t("button-leave-yes"), "leave:yes"), (ctx.t("button-leave-no"), "leave:no")])


async def leave_answer(ctx: Context) -> None:
    if ctx.payload != "leave:yes":
        kept = await circle_store.wait_of(ctx.db, ctx.person.id)  # a wait kept is not a circle kept
        await ctx.reply(ctx.t("leave-wait-kept", place=place_label(ctx.core, kept.place_id)) if kept
                        else ctx.t("leave-kept"))
        return
    wait = await circle_store.wait_of(ctx.db, ctx.person.id)
    if await leave_circle(ctx.core, ctx.db, ctx.person, ctx.now) is None:
        await ctx.reply(ctx.t("leave-wait-done", place=place_label(ctx.core, wait.place_id)) if wait
                        else ctx.t("leave-not-in-circle"))
        return
    await ctx.reply(ctx.t("leave-done"))


async def join_nearby(ctx: Context) -> None:
    """"waitnear:<place>": a neighbour whose circle could not open joins the circle of a nearby
    neighbourhood (``bot.circles.waiting``). It is a change of neighbourhood, made as /profile makes one
    (same gates, same placement), said before it is done; nothing changes when the offer is gone."""
    wait = await circle_store.wait_of(ctx.db, ctx.person.id)
    if wait is None:
        await ctx.reply(ctx.t("circle-wait-over"))
        return
    home = place_label(ctx.core, wait.place_id)
    place = await nearby_place(ctx.core, ctx.db, wait.place_id, ctx.payload.partition(":")[2])
    if place is None:
        await ctx.reply(ctx.t("circle-wait-offer-gone", place=home))
        return
    await people.update(ctx.db, ctx.person.id, place_id=place.id)
    await ctx.reply(ctx.t("circle-wait-moving", place=place.name, home=home))
    onboarding: Onboarding = ctx.core.router.flows[ONBOARDING]  # type: ignore[assignment]
    await onboarding.move_to_new_place(ctx)


async def help_(ctx: Context) -> None:
    """The commands this chat can use: in a circle's group only those answered there."""
    lines = [ctx.t("help-header", bot=ctx.core.config.deployment.name)]
    in_group = not ctx.address.private
    for command in ctx.core.router.listed():
        if in_group and not command.in_groups:
            continue
        lines.append(Localized(f"/{command.shown_name(ctx.t.lang)} — ") + ctx.t(command.help_key))
    await ctx.reply(Localized.join(lines))


async def cancel(ctx: Context) -> None:
    if ctx.person is None:
        await ctx.reply(ctx.t("cancel-nothing"))
        return
    conv = await conversations.get(ctx.db, ctx.person.id)
    await conversations.clear(ctx.db, ctx.person.id)
    if not ctx.person.onboarded:
        await ctx.reply(ctx.t("cancel-onboarding"))
    else:
        await ctx.reply(ctx.t("cancel-done") if conv else ctx.t("cancel-nothing"))


def install(core) -> None:
    core.router.flow(ProfileMenu())
    core.router.command(
        Command(
            "help",
            help_,
            aliases=("aide",),
            help_key="help-help",
            needs_member=False,
            in_groups=True,
            french_name="aide",
            anonymous=True,
        )
    )
    core.router.command(Command("profile", profile, aliases=("profil",), help_key="help-profile", french_name="profil"))
    core.router.command(Command("leave", leave, aliases=("quitter",), help_key="help-leave", french_name="quitter"))
    core.router.command(
        Command(
            "cancel",
            cancel,
            aliases=("annuler", "stop"),
            help_key="help-cancel",
            needs_member=False,
            french_name="annuler",
            anonymous=True,
        )
    )
    core.router.action("leave", leave_answer)
    core.router.action("waitnear", join_nearby)
