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

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from rapidfuzz import fuzz, process

from bot.core import answers
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
    # Said before the next reply, in the same message ("Je n'ai pas compris." + the question again).
    note: Localized | None = None

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

    async def reply(
        self, text: Localized, choices: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (), *,
        keep_choices: bool = False, numbers: Sequence[int] = (),
    ) -> None:
        """Answer in the chat the event came from, through the outbox, after the pending ``note``: an
        answer, served before care and bulk (``bot.storage.outbox.ANSWER``).

        ``keep_choices``: a short answer without buttons that leaves the choices offered before still
        answerable by number (a tick acknowledged in a "pick several" list). ``numbers``: the numbers the
        choices have in the question they belong to, when only some of it are shown."""
        if self.note is not None:
            text, self.note = self.note + Localized("\n\n") + text, None
        await self.core.queue_message(self.db, self.address.platform, self.address.chat_id, text, choices, self.now,
                                      keep_choices=keep_choices, delivery_class=outbox.ANSWER, numbers=numbers)

    async def tell(
        self,
        person_id: int,
        text: Callable[[Translator], Localized],
        choices: Callable[[Translator], list[tuple[str, str]]] | None = None,
        dedupe_key: str | None = None,
        not_before: datetime | None = None,
        delivery_class: int = outbox.ANSWER,
    ) -> bool:
        """Write privately to someone else, in their own language (held until ``not_before`` when
        given). False if they cannot be reached. An answer by default: what a person (or a moderator)
        just did, told to whom it concerns; ``outbox.CARE`` for an alert it raises (a report to
        moderators, an escalation)."""
        return await self.core.tell(self.db, person_id, text, choices, self.now, dedupe_key, not_before,
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
    staff: bool = False  # for moderators, circle hosts and admins: never suggested to residents

    def shown_name(self, lang: str) -> str:
        return self.french_name if lang == "fr" and self.french_name else self.name


@dataclass
class Router:
    commands: dict[str, Command] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    actions: dict[str, Handler] = field(default_factory=dict)
    # Action prefixes that also work before onboarding is finished (the rest answer "join first").
    open_actions: set[str] = field(default_factory=set)
    multi_steps: set[str] = field(default_factory=set)  # "flow.step" of the "pick several" questions
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

    def many(self, flow: str, *steps: str) -> None:
        """Declare "pick several" questions: their buttons toggle and their last button continues, so
        "2, 5 et 9" ticks three and "fini" / "non" continues."""
        self.multi_steps.update(f"{flow}.{step}" for step in steps)

    def is_multi(self, offered: list[tuple[str, str]]) -> bool:
        heads = {payload.partition(":")[0] for _, payload in offered}
        return len(heads) == 1 and next(iter(heads)) in self.multi_steps

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

    def suggest(self, name: str, allowed: Callable[[Command], bool] = lambda c: True) -> Command | None:
        """The closest command to a mistyped one among those ``allowed``, or None when nothing is close."""
        names = [key for key, command in self.commands.items() if allowed(command)]
        found = process.extractOne(fold(name)[:40], names, scorer=fuzz.ratio, score_cutoff=60)
        return self.commands[found[0]] if found else None


@dataclass(frozen=True)
class ChoicesIn:
    """Several choices of a "pick several" question in one typed answer ("2, 5 et 9")."""

    payloads: tuple[str, ...]


@dataclass(frozen=True)
class TypedChoice(ChoiceIn):
    """A choice recognised in typed words rather than pressed: a toggle list only ticks with it, so a
    number typed twice never unticks silently."""


@dataclass(frozen=True)
class Ambiguous:
    """A typed answer that fits several of the offered choices ("oui" where two choices mean yes):
    their places in the list (from 0, in the list's order), and what was understood — "yes", "no",
    or None for the words of the choices. The bot asks which was meant; nothing is decided."""

    fits: tuple[int, ...]
    meaning: str | None = None


def as_choice(
    text: str, offered: list[tuple[str, str]], multi: bool = False,
) -> ChoiceIn | ChoicesIn | Ambiguous | int | None:
    """On platforms without buttons choices are numbered lines; people also type words. See
    ``bot.core.answers``: a number, several numbers on a "pick several" question, yes or no, the
    words of a choice or a clear part of them, with small typos.

    Returns the choice(s); ``Ambiguous`` when the answer fits several choices of a one-answer
    question; the number of choices when a number outside them was typed (so the answer can say
    "between 1 and N"); or None when the text is not a pick at all. ``multi``: the choices are a
    "pick several" list whose last choice is "continue" (see ``Router.many``): there the words go to
    the question's own matching (which may tick several), never to a question back.
    """
    if not offered or len(text) > 200:
        return None
    number = answers.number(text)
    if number is not None:
        return TypedChoice(offered[number - 1][1]) if 1 <= number <= len(offered) else len(offered)
    several = _several(text, offered, multi)
    if several is not None:
        return several
    labels = [label for label, _ in offered]
    fits = answers.fitting_words(text, labels, in_sentence=not multi)
    if len(fits) == 1:
        return TypedChoice(offered[fits[0]][1])
    meaning = answers.polarity(text)
    if meaning is not None:
        if multi and meaning == "no":
            return TypedChoice(offered[-1][1])
        fitting = _meaning(offered, meaning)
        if len(fitting) == 1:
            return TypedChoice(offered[fitting[0]][1])
        if len(fitting) > 1 and not multi:
            return Ambiguous(tuple(fitting), meaning)
    if multi:
        return TypedChoice(offered[-1][1]) if answers.is_finish(text) else None
    return _yes_and_which(text, offered) or (Ambiguous(tuple(sorted(fits))) if fits else None)


def _meaning(offered: list[tuple[str, str]], meaning: str) -> list[int]:
    """The places of the choices that mean yes (or no)."""
    return [i for i, (label, payload) in enumerate(offered) if answers.choice_polarity(label, payload) == meaning]


def _yes_and_which(text: str, offered: list[tuple[str, str]]) -> ChoiceIn | Ambiguous | None:
    """ "oui, le voisin" where two choices mean yes: the words after the yes pick among those."""
    meanings = [answers.choice_polarity(label, payload) for label, payload in offered]
    if all(meanings.count(meaning) < 2 for meaning in ("yes", "no")):
        return None  # one choice at most says yes (or no): the yes itself would have picked it
    said = answers.yes_or_no_and(text)
    if said is None:
        return None
    meaning, rest = said
    fitting = [i for i, said_so in enumerate(meanings) if said_so == meaning]
    if len(fitting) < 2:
        return None
    within = answers.fitting_words(rest, [offered[i][0] for i in fitting], in_sentence=True)
    if len(within) == 1:
        return TypedChoice(offered[fitting[within[0]]][1])
    return Ambiguous(tuple(sorted(fitting[i] for i in within)), meaning) if within else None


def _several(text: str, offered: list[tuple[str, str]], multi: bool) -> ChoicesIn | int | None:
    """ "2, 5 et 9" or "cuisine et jardin" on a "pick several" question; a number out of range → N."""
    if not multi:
        return None
    picks = answers.numbers(text)
    if picks is not None:
        if not all(1 <= n <= len(offered) for n in picks):
            return len(offered)
        return ChoicesIn(tuple(offered[n - 1][1] for n in picks))
    parts = answers.split_parts(text)
    if len(parts) < 2:
        return None
    labels = [label for label, _ in offered]
    found = [answers.by_words(part, labels) for part in parts]
    if any(i is None for i in found):
        return None
    return ChoicesIn(tuple(dict.fromkeys(offered[i][1] for i in found if i is not None)))


def flow_payload(flow: str, step: str, value: str) -> str:
    """Buttons of a flow carry their step, so a press on an old message is recognised as stale."""
    return f"{flow}.{step}:{value}"


def parse_flow_payload(payload: str) -> tuple[str, str, str] | None:
    head, sep, value = payload.partition(":")
    flow, dot, step = head.partition(".")
    if not sep or not dot:
        return None
    return flow, step, value
