"""The places where features plug into the core, beyond commands, flows and buttons (``bot.core.router``).

Each ``Core`` holds its own ``Hooks``: features add to them in their ``install(core)``, so two cores in
one process (two tests, a benchmark beside a test) never see each other's registrations, and no feature
changes another feature's module-level lists. A feature that needs to react to something another
feature does (a person being erased, a newcomer about to be placed, a word written in a circle room)
registers here instead of importing that feature's internals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.core.chat import Incoming
from bot.storage.database import Database
from bot.storage.people import Person

if TYPE_CHECKING:
    from bot.core.app import Core
    from bot.core.router import Context

# Called with the stage ("start" before onboarding begins, "place" before placement in a circle);
# returns False when it answered the person itself and onboarding must not go on now (a ban, a
# local-knowledge question).
Gate = Callable[["Context", str], Awaitable[bool]]
# /mydata: what a feature stores about a person, as plain data.
Exporter = Callable[[Database, int], Awaitable[dict[str, Any]]]
# /forget: delete what a feature stores about a person (inside the erasing transaction).
Eraser = Callable[[Database, int], Awaitable[None]]
# A moderation button "mod:<kind>:…": the handler gets the payload split on ":".
ModeratorAction = Callable[["Context", list[str]], Awaitable[None]]
# Work a handler decided but that waits on the network or burns CPU (a Telegram rights check, a chart):
# done by the delivery worker after the handler's transaction committed, outside any transaction, from
# the data queued with it (``Core.queue_work``). It returns the step that stores its outcome (or None),
# run in one transaction with the work's own "done" mark: done once, and redone from scratch after a crash.
StoreStep = Callable[[Database], Awaitable[None]]
DeferredWork = Callable[["Core", dict], Awaitable[StoreStep | None]]
# A moderator was appointed (core, db, person id, place id, now): requests that waited for someone
# to decide them are offered (bot.activities.organizers).
ModeratorAppointed = Callable[["Core", Database, int, str, datetime], Awaitable[None]]
# Words a member writes to the bot privately, outside any question: True when the hook took them
# (relayed them to a circle still waiting for its group, say); otherwise the bot explains itself.
PrivateWords = Callable[["Context"], Awaitable[bool]]
# A private text and the choices on screen: True when the hook answered it (see ``typed_at_choices``).
TypedAtChoices = Callable[["Context", list[tuple[str, str]]], Awaitable[bool]]
# A page of the bot's HTTP server (``bot.operations.web``, when ``[web] enabled``): called with the core
# and the aiohttp request, returns the aiohttp response. Public pages: nothing personal goes in them.
WebHandler = Callable[["Core", Any], Awaitable[Any]]


@dataclass(frozen=True)
class WebRoute:
    method: str
    path: str  # an aiohttp route, e.g. "/agenda/{name}"
    handler: WebHandler


@dataclass(frozen=True)
class RoomEvent:
    """Something that happened in a circle's room, with what the core already looked up for it."""

    event: Incoming
    person: Person | None  # the writer, when they are known to the bot
    circle_id: int
    rooms: list[tuple[str, str]]  # the circle's rooms (platform, chat id), found with the event
    now: datetime


# Called for every event in a circle room. A hook that returns False holds the event back from the
# hooks after it (it is how moderation stops a flooding member's words from being mirrored).
GroupHook = Callable[["Core", RoomEvent], Awaitable[bool | None]]


@dataclass(frozen=True)
class ModeratorCommand:
    """A line of /modhelp: moderation commands are not shown by /help (residents do not need them)."""

    name: str
    french_name: str
    help_key: str


@dataclass
class Hooks:
    gates: list[Gate] = field(default_factory=list)
    exporters: list[Exporter] = field(default_factory=list)
    erasers: list[Eraser] = field(default_factory=list)
    group: list[GroupHook] = field(default_factory=list)
    moderator_actions: dict[str, ModeratorAction] = field(default_factory=dict)
    moderator_help: list[ModeratorCommand] = field(default_factory=list)
    private_words: list[PrivateWords] = field(default_factory=list)
    typed_at_choices: list[TypedAtChoices] = field(default_factory=list)  # read before the choices are matched
    deferred: dict[str, DeferredWork] = field(default_factory=dict)  # work done after the commit, by name
    moderator_appointed: list[ModeratorAppointed] = field(default_factory=list)
    web_routes: list[WebRoute] = field(default_factory=list)  # public pages a feature serves

    def on_moderator_appointed(self, hook: ModeratorAppointed) -> None:
        self.moderator_appointed.append(hook)

    def web_route(self, method: str, path: str, handler: WebHandler) -> None:
        if any(r.method == method and r.path == path for r in self.web_routes):
            raise ValueError(f"web route {method} {path} registered twice")
        self.web_routes.append(WebRoute(method, path, handler))

    def gate(self, gate: Gate, *, first: bool = False) -> None:
        """``first`` for a gate that must answer before any other (a ban before a question)."""
        if first:
            self.gates.insert(0, gate)
        else:
            self.gates.append(gate)

    def person_data(self, exporter: Exporter, eraser: Eraser | None = None) -> None:
        """What a feature stores about a person: shown by /mydata, deleted by /forget."""
        self.exporters.append(exporter)
        if eraser is not None:
            self.erasers.append(eraser)

    def on_room_event(self, hook: GroupHook, *, first: bool = False) -> None:
        """``first`` for a guard that may hold an event back before it is mirrored."""
        if first:
            self.group.insert(0, hook)
        else:
            self.group.append(hook)

    def moderator_action(self, kind: str, handler: ModeratorAction) -> None:
        if kind in self.moderator_actions:
            raise ValueError(f"moderation button kind {kind!r} registered twice")
        self.moderator_actions[kind] = handler

    async def private_words_taken(self, ctx: Context) -> bool:
        for hook in self.private_words:
            if await hook(ctx):
                return True
        return False

    async def typed_at_choices_taken(self, ctx: Context, offered: list[tuple[str, str]]) -> bool:
        """A feature reads a typed private text before it is matched to the choices on screen (a
        check-in's "ça va pas" must not press "Tout va bien"); True when one took it."""
        for hook in self.typed_at_choices:
            if await hook(ctx, offered):
                return True
        return False

    async def gates_pass(self, ctx: Context, stage: str) -> bool:
        for gate in self.gates:
            if not await gate(ctx, stage):
                return False
        return True
