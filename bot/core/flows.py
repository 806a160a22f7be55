"""A small base for guided conversations: one ``ask_<step>`` and one ``on_<step>`` method per step.

The step is stored before the question goes out, so whatever happens next (a restart, an answer a
day later) the answer lands on the question that was asked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core import answers
from bot.core.chat import Body, ChoiceIn, TextIn
from bot.core.clock import from_iso, to_iso
from bot.core.i18n import Localized
from bot.core.places import Place
from bot.core.router import ChoicesIn, Context, TypedChoice, flow_payload, parse_flow_payload
from bot.storage import conversations
from bot.storage.conversations import Conversation

#: Wrong answers closer together than this are one burst, answered once (see ``StepFlow.again``).
#: Short on purpose: nobody reads a reminder and types a new answer in under 5 s, while a resident
#: who does (after 6, 8, 12 s) must never meet silence. It was 15 s, and a quick second try went
#: unanswered.
FLOOD_WINDOW = timedelta(seconds=5)
MISSED = "missed_at"  # in a conversation's data: when the last wrong answer came
#: A second press of the same button this soon after ticking it is a double tap, not "take it off".
DOUBLE_TAP = timedelta(seconds=3)
LAST_TICK = "last_tick"  # in a conversation's data: [key, when] of the last item ticked


class StepFlow:
    name = ""
    greeting_steps: tuple[str, ...] = ()  # steps where a greeting is an answer (the language question)

    async def begin(self, ctx: Context, step: str, **data: object) -> None:
        assert ctx.person is not None
        await self.goto(ctx, Conversation(self.name, step, dict(data)), step)

    async def goto(self, ctx: Context, conv: Conversation, step: str) -> None:
        assert ctx.person is not None
        conv.step = step
        conv.data.pop(MISSED, None)
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
        if isinstance(body, TextIn) and conv.step not in self.greeting_steps and answers.is_greeting(body.text):
            await self.again(ctx, conv, ctx.t("greeting-back"))  # politeness, not a wrong answer
            return
        await getattr(self, f"on_{conv.step}")(ctx, conv, body)

    async def again(self, ctx: Context, conv: Conversation, note: Localized) -> None:
        """A wrong answer: what was wrong and the question again, in one message.

        In a burst of wrong answers (each within ``FLOOD_WINDOW`` of the one before: a flood, a
        pasted text, a child at the keyboard) only the first is answered; then the bot waits for a
        right answer instead of sending one reminder per message."""
        last = conv.data.get(MISSED)
        conv.data[MISSED] = to_iso(ctx.now)
        await self.save(ctx, conv)
        if last and timedelta(0) <= ctx.now - from_iso(last) < FLOOD_WINDOW:
            return
        ctx.note = note
        await getattr(self, f"ask_{conv.step}")(ctx, conv)

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


def picked_all(body: Body) -> list[str | None]:
    """The values of the flow buttons an answer stands for: one pressed, or several typed ("2, 5 et 9")."""
    if isinstance(body, ChoicesIn):
        return [parsed[2] for p in body.payloads if (parsed := parse_flow_payload(p))]
    return [picked(body)]


class Ticks:
    """What one answer did to a "pick several" list, for the one short message that answers it.

    A pressed button toggles (and the answer says what was taken off); a typed number or word only
    ticks, so typing "2" twice on Matrix never unticks silently; and a button pressed twice within
    ``DOUBLE_TAP`` of ticking it (a shaky double tap) leaves it ticked."""

    def __init__(self, conv: Conversation | None = None, now: datetime | None = None) -> None:
        self.added: list[str] = []
        self.removed: list[str] = []
        self.already: list[str] = []
        self._conv, self._now = conv, now

    def _just_ticked(self, key: str) -> bool:
        if self._conv is None or self._now is None:
            return False
        last = self._conv.data.get(LAST_TICK)
        return bool(last and last[0] == key and timedelta(0) <= self._now - from_iso(last[1]) < DOUBLE_TAP)

    @staticmethod
    def undoes(body: Body) -> bool:
        """Whether this answer may untick: only a real button press."""
        return isinstance(body, ChoiceIn) and not isinstance(body, TypedChoice)

    def toggle(self, chosen: list[str], key: str | None, *, undo: bool) -> None:
        if key is None:
            return
        if key not in chosen:
            chosen.append(key)
            self.added.append(key)
            if self._conv is not None and self._now is not None:
                self._conv.data[LAST_TICK] = [key, to_iso(self._now)]
        elif undo and not self._just_ticked(key):
            chosen.remove(key)
            self.removed.append(key)
        else:
            self.already.append(key)

    def sentence(self, ctx: Context, labels: dict[str, str], chosen: list[str], done_number: int) -> Localized:
        def names(keys: list[str]) -> str:
            return ", ".join(labels.get(k, k) for k in keys)

        lines = [ctx.t(key, items=names(keys)) for key, keys in
                 (("many-added", self.added), ("many-removed", self.removed), ("many-already", self.already)) if keys]
        lines.append(ctx.t("many-chosen", items=names(chosen)) if chosen else ctx.t("many-chosen-none"))
        transport = ctx.core.transports.get(ctx.address.platform)
        if transport is not None and transport.capabilities.buttons:
            lines.append(ctx.t("many-next-buttons"))
        else:
            lines.append(ctx.t("many-next", number=done_number))  # typed: the number of "Continue"
        return Localized.join(lines)
