"""/helper (/aidant): a family member, volunteer or postal worker registers a neighbour who has no
phone, with that neighbour's consent, and receives the check-ins for them.

What is stored about the neighbour is the least that works: a first name, a neighbourhood and the
date the helper confirmed "this person agreed". The neighbour has no account; the helper answers
"seen today", which counts as the neighbour's sign of life. If the helper does not answer a check-in
it is escalated like any other (to a moderator of the neighbourhood, as there is no circle host).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.checkins.answers import all_clear
from bot.checkins.decisions import payload
from bot.core.chat import Body
from bot.core.flows import StepFlow, picked, picked_place, place_buttons, typed
from bot.core.i18n import Localized
from bot.core.places import Place
from bot.core.router import Command, Context
from bot.storage import checkins as store
from bot.storage import people
from bot.storage.conversations import Conversation

if TYPE_CHECKING:
    from bot.core.app import Core

FLOW = "helper"
MAX_HELPED = 10
MAX_NAME = 40


# ---- /helper: the helper's list -----------------------------------------------------------------------


async def helper_command(ctx: Context) -> None:
    """The neighbours one looks in on, each with "seen today" and "remove"; or straight to registering."""
    helped = await store.helped_by(ctx.db, ctx.person.id)
    if not helped:
        days = ctx.t.plural("checkin-days", ctx.core.config.checkins.threshold_days)
        await ctx.reply(ctx.t("helper-intro", days=days))
        await _flow(ctx).begin(ctx, "name")
        return
    buttons = []
    for person_id, name in helped:
        buttons.append((ctx.t("helper-button-seen", name=name), payload("seen", person_id)))
        buttons.append((ctx.t("helper-button-remove", name=name), payload("drop", person_id)))
    if len(helped) < MAX_HELPED:
        buttons.append((ctx.t("helper-button-new"), payload("new", 0)))
    names = ", ".join(name for _, name in helped)
    await ctx.reply(ctx.t("helper-menu", names=names), buttons)


def _flow(ctx: Context) -> HelperFlow:
    return ctx.core.router.flows[FLOW]  # type: ignore[return-value]


async def on_helper_button(ctx: Context, verb: str, number: int) -> None:
    """seen / drop / dropyes / dropno for a neighbour ``number``; new starts registering another."""
    if verb == "new":
        if len(await store.helped_by(ctx.db, ctx.person.id)) >= MAX_HELPED:
            await ctx.reply(ctx.t("helper-too-many", limit=MAX_HELPED))
            return
        await _flow(ctx).begin(ctx, "name")
        return
    names = dict(await store.helped_by(ctx.db, ctx.person.id))
    if number not in names:
        await ctx.reply(ctx.t("choice-expired"))
        return
    name = names[number]
    if verb == "seen":
        await seen_today(ctx, number, name)
    elif verb == "drop":
        await ctx.reply(ctx.t("helper-remove-confirm", name=name),
                        [(ctx.t("helper-button-remove-yes"), payload("dropyes", number)),
                         (ctx.t("helper-button-remove-no"), payload("dropno", number))])
    elif verb == "dropyes":
        await store.drop_helped(ctx.db, ctx.person.id, number)
        await ctx.reply(ctx.t("helper-removed", name=name))
    else:
        await ctx.reply(ctx.t("helper-kept"))


async def seen_today(ctx: Context, person_id: int, name: str) -> None:
    """The helper saw them: a sign of life, and the answer to an open check-in if there is one."""
    ctx.record_activity(person_id)
    checkin = await store.open_for(ctx.db, person_id)
    if checkin is not None:
        await store.answer(ctx.db, checkin.id, "seen", ctx.now)
        await all_clear(ctx, checkin, await people.get(ctx.db, person_id), kind="fine")
    await ctx.reply(ctx.t("helper-seen", name=name))


# ---- registering a neighbour --------------------------------------------------------------------------


class HelperFlow(StepFlow):
    """first name → neighbourhood → "this person agreed" → registered. Nothing is stored before the
    last yes; "not yet" leaves no trace."""

    name = FLOW

    async def ask_name(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("helper-ask-name"))

    async def on_name(self, ctx: Context, conv: Conversation, body: Body) -> None:
        name = " ".join((typed(body) or "").split())
        if not name or len(name) > MAX_NAME or name.startswith("/") or any(ch.isdigit() for ch in name):
            await ctx.reply(ctx.t("helper-name-bad", limit=MAX_NAME))
            return
        conv.data["name"] = name
        await self.goto(ctx, conv, "place")

    async def ask_place(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("helper-ask-place", name=conv.data["name"], examples=_examples(ctx)))

    async def on_place(self, ctx: Context, conv: Conversation, body: Body) -> None:
        text = typed(body) or ""
        if not text or len(text) > 100:
            await ctx.reply(ctx.t("helper-place-unknown", typed=text[:100], examples=_examples(ctx)))
            return
        match = ctx.core.content.places.match(text)
        if match.outcome == "found":
            await self._placed(ctx, conv, match.places[0])
        elif match.outcome == "choose":
            conv.data["candidates"] = [p.id for p in match.places]
            await self.goto(ctx, conv, "place_pick")
        else:
            await ctx.reply(ctx.t("helper-place-unknown", typed=text, examples=_examples(ctx)))

    async def ask_place_pick(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("helper-place-pick"), place_buttons(self, ctx, conv))

    async def on_place_pick(self, ctx: Context, conv: Conversation, body: Body) -> None:
        place = picked_place(ctx, conv, body)
        if place is not None:
            await self._placed(ctx, conv, place)
            return
        value = picked(body)
        if value == "none" or typed(body):
            await self.goto(ctx, conv, "place")
            return
        await self.ask_place_pick(ctx, conv)

    async def _placed(self, ctx: Context, conv: Conversation, place: Place) -> None:
        conv.data.pop("candidates", None)
        conv.data["place_id"] = place.id
        conv.data["place_label"] = place.label
        await self.goto(ctx, conv, "consent")

    async def ask_consent(self, ctx: Context, conv: Conversation) -> None:
        name = conv.data["name"]
        days = ctx.t.plural("checkin-days", ctx.core.config.checkins.threshold_days)
        await ctx.reply(ctx.t("helper-ask-consent", name=name, days=days),
                        [self.button("consent", "yes", ctx.t("helper-button-consent-yes", name=name)),
                         self.button("consent", "no", ctx.t("helper-button-consent-no"))])

    async def on_consent(self, ctx: Context, conv: Conversation, body: Body) -> None:
        answer = picked(body)
        if answer == "no":
            await self.end(ctx)
            await ctx.reply(ctx.t("helper-consent-no"))
            return
        if answer != "yes":
            await self.again(ctx, conv, ctx.t("answer-with-buttons"))
            return
        await self.end(ctx)
        if len(await store.helped_by(ctx.db, ctx.person.id)) >= MAX_HELPED:
            await ctx.reply(ctx.t("helper-too-many", limit=MAX_HELPED))
            return
        await store.add_helped(ctx.db, ctx.person.id, conv.data["name"], ctx.person.language,
                               conv.data["place_id"], ctx.now)
        await ctx.reply(ctx.t("helper-done", name=conv.data["name"], place=conv.data["place_label"]))


def _examples(ctx: Context) -> Localized | str:
    return ", ".join(ctx.core.content.places.examples(3))


def install(core: Core) -> None:
    core.router.flow(HelperFlow())
    core.router.command(Command("helper", helper_command, aliases=("aidant", "aidante"),
                                help_key="help-helper", french_name="aidant"))
