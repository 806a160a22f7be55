"""Routing: which handler an incoming event goes to, and the context a handler works with.

Features register three kinds of entry points on the ``Router``:
- commands (``/profile``, with French aliases such as ``/profil``), each saying who may use it;
- flows: guided conversations whose position is stored per person (``bot.storage.conversations``),
  so a restart in the middle of onboarding resumes at the same question;
- actions: buttons that stay valid outside any conversation (an RSVP under an announcement, a
  check-in answer), recognised by the prefix of their payload ("rsvp:42:yes").

A mistyped command gets a "did you mean" from rapidfuzz over every name and alias.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from rapidfuzz import fuzz, process

from bot.core.batch import Batch
from bot.core.chat import Address, Body, ChoiceIn, Incoming
from bot.core.i18n import Localized, Translator
from bot.core.interests import fold
from bot.storage import conversations, outbox
from bot.storage.conversations import Conversation
from bot.storage.database import Database
from bot.storage.people import Person

if TYPE_CHECKING:
    from bot.core.app import Core


@dataclass
class Context:
    """Everything a handler needs, for one incoming event, inside the transaction that handles it."""

    core: Core
    db: Database
    event: Incoming
    person: Person | None
    t: Translator
    now: datetime
    body: Body | None = None  # what was meant: a typed "2" arrives as the ChoiceIn it stands for
    batch: Batch = field(default_factory=Batch)  # the batch of events this one is handled with

    def __post_init__(self) -> None:
        if self.body is None:
            self.body = self.event.body

    @property
    def payload(self) -> str:
        """The pressed button's payload ("" when the event is not a button press)."""
        return self.body.payload if isinstance(self.body, ChoiceIn) else ""

    @property
    def address(self) -> Address:
        return self.event.address

    async def reply(self, text: Localized, choices: tuple[tuple[str, str], ...] | list[tuple[str, str]] = ()) -> None:
        """Answer in the chat the event came from, through the outbox: an answer, served before care and
        bulk (``bot.storage.outbox.ANSWER``)."""
        await self.core.queue_message(self.db, self.address.platform, self.address.chat_id, text, choices, self.now,
                                      delivery_class=outbox.ANSWER)

    async def tell(
        self,
        person_id: int,
        text: Callable[[Translator], Localized],
        choices: Callable[[Translator], list[tuple[str, str]]] | None = None,
        dedupe_key: str | None = None,
        delivery_class: int = outbox.ANSWER,
    ) -> bool:
        """Write privately to someone else, in their own language. False if they cannot be reached.
        An answer by default: what a person (or a moderator) just did, told to whom it concerns;
        ``outbox.CARE`` for an alert it raises (a report to moderators, an escalation)."""
        return await self.core.tell(self.db, person_id, text, choices, self.now, dedupe_key,
                                    delivery_class=delivery_class)

    def record_activity(self, person_id: int) -> None:
        """Someone showed life (a helper answering for them counts): written with the batch."""
        self.batch.record_activity(person_id, self.now)

    async def conversation(self) -> Conversation | None:
        return await conversations.get(self.db, self.person.id) if self.person else None


Handler = Callable[[Context], Awaitable[None]]


class Flow(Protocol):
    """A guided conversation. ``handle`` gets the person's answer to the current step."""

    name: str

    async def handle(self, ctx: Context, conv: Conversation, body: Body) -> None: ...


@dataclass(frozen=True)
class Command:
    name: str  # English name, what /help shows in English
    handler: Handler
    aliases: tuple[str, ...] = ()  # French names and other spellings
    help_key: str | None = None  # catalogue key of the one-line description; None: not listed
    needs_member: bool = True  # only after onboarding
    in_groups: bool = False  # also answered in circle groups (otherwise private chats only)
    french_name: str | None = None  # what /help shows in French
    anonymous: bool = False  # answered even to someone we hold no record of (creates none)

    def shown_name(self, lang: str) -> str:
        return self.french_name if lang == "fr" and self.french_name else self.name


@dataclass
class Router:
    commands: dict[str, Command] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    actions: dict[str, Handler] = field(default_factory=dict)
    # Action prefixes that also work before onboarding is finished (the rest answer "join first").
    open_actions: set[str] = field(default_factory=set)
    file_handler: Handler | None = None  # what a document sent in a private chat is for (calendar import)
    _listed: list[Command] = field(default_factory=list)

    def command(self, command: Command) -> None:
        for name in (command.name, *command.aliases):
            key = fold(name)
            if key in self.commands:
                raise ValueError(f"command /{name} registered twice")
            self.commands[key] = command
        self._listed.append(command)

    def flow(self, flow: Flow) -> None:
        self.flows[flow.name] = flow

    def action(self, prefix: str, handler: Handler, *, before_onboarding: bool = False) -> None:
        """``before_onboarding``: the button also acts for someone who has not finished joining (the
        "start" button, answers about /forget); every other button waits for a member."""
        self.actions[prefix] = handler
        if before_onboarding:
            self.open_actions.add(prefix)

    def on_file(self, handler: Handler) -> None:
        if self.file_handler is not None:
            raise ValueError("a handler for received files is already registered")
        self.file_handler = handler

    def listed(self) -> list[Command]:
        return [c for c in self._listed if c.help_key]

    def find(self, name: str) -> Command | None:
        return self.commands.get(fold(name))

    def suggest(self, name: str) -> str | None:
        """The closest known command to a mistyped one, or None when nothing is close."""
        found = process.extractOne(fold(name)[:40], list(self.commands), scorer=fuzz.ratio, score_cutoff=60)
        return found[0] if found else None


_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def as_choice(text: str, offered: list[tuple[str, str]]) -> ChoiceIn | int | None:
    """On platforms without buttons choices are numbered lines: "2", "2." or the label itself picks.

    Returns the choice, or the number of choices when a number outside them was typed (so the answer
    can say "between 1 and N"), or None when the text is not a pick at all.
    """
    if not offered:
        return None
    number = _NUMBER.match(text)
    if number:
        index = int(number.group(1)) - 1
        return ChoiceIn(offered[index][1]) if 0 <= index < len(offered) else len(offered)
    wanted = _plain(text)
    for label, payload in offered:
        if wanted and _plain(label) == wanted:
            return ChoiceIn(payload)
    return None


def _plain(label: str) -> str:
    """A label without its check mark, emoji and punctuation, for comparing with what was typed."""
    return re.sub(r"[^\w ]+", "", fold(label)).strip()


def flow_payload(flow: str, step: str, value: str) -> str:
    """Buttons of a flow carry their step, so a press on an old message is recognised as stale."""
    return f"{flow}.{step}:{value}"


def parse_flow_payload(payload: str) -> tuple[str, str, str] | None:
    head, sep, value = payload.partition(":")
    flow, dot, step = head.partition(".")
    if not sep or not dot:
        return None
    return flow, step, value
