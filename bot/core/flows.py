"""A small base for guided conversations: one ``ask_<step>`` and one ``on_<step>`` method per step.

The step is stored before the question goes out, so whatever happens next (a restart, an answer a
day later) the answer lands on the question that was asked.
"""

from __future__ import annotations

from bot.core.chat import Body, ChoiceIn, TextIn
from bot.core.places import Place
from bot.core.router import Context, flow_payload, parse_flow_payload
from bot.storage import conversations
from bot.storage.conversations import Conversation


class StepFlow:
    name = ""

    async def begin(self, ctx: Context, step: str, **data: object) -> None:
        assert ctx.person is not None
        await self.goto(ctx, Conversation(self.name, step, dict(data)), step)

    async def goto(self, ctx: Context, conv: Conversation, step: str) -> None:
        assert ctx.person is not None
        conv.step = step
        await conversations.put(ctx.db, ctx.person.id, conv, ctx.now)
        await getattr(self, f"ask_{step}")(ctx, conv)

    async def save(self, ctx: Context, conv: Conversation) -> None:
        assert ctx.person is not None
        await conversations.put(ctx.db, ctx.person.id, conv, ctx.now)

    async def end(self, ctx: Context) -> None:
        assert ctx.person is not None
        await conversations.clear(ctx.db, ctx.person.id)

    async def handle(self, ctx: Context, conv: Conversation, body: Body) -> None:
        if isinstance(body, TextIn) and not body.text.strip():
            await getattr(self, f"ask_{conv.step}")(ctx, conv)  # asked again (e.g. after a stale button)
            return
        await getattr(self, f"on_{conv.step}")(ctx, conv, body)

    def button(self, step: str, value: str, label: str) -> tuple[str, str]:
        return (label, flow_payload(self.name, step, value))


def picked(body: Body) -> str | None:
    """The value of a pressed flow button, or None if the answer was not a button."""
    if isinstance(body, ChoiceIn):
        parsed = parse_flow_payload(body.payload)
        return parsed[2] if parsed else None
    return None


def typed(body: Body) -> str | None:
    return body.text.strip() if isinstance(body, TextIn) else None


def place_buttons(flow: StepFlow, ctx: Context, conv: Conversation) -> list[tuple[str, str]]:
    """The candidate neighbourhoods of an ambiguous answer (stored in ``conv.data["candidates"]``) as
    buttons, and "none of these" — for every flow that asks where someone lives."""
    places = ctx.core.content.places
    buttons = [
        flow.button("place_pick", str(i), place.label)
        for i, place_id in enumerate(conv.data.get("candidates", []))
        if (place := places.get(place_id))
    ]
    buttons.append(flow.button("place_pick", "none", ctx.t("button-none-of-these")))
    return buttons


def picked_place(ctx: Context, conv: Conversation, body: Body) -> Place | None:
    """The candidate a "place_pick" button stands for, or None."""
    value = picked(body)
    candidates = conv.data.get("candidates", [])
    if value is not None and value.isdigit() and int(value) < len(candidates):
        return ctx.core.content.places.get(candidates[int(value)])
    return None
