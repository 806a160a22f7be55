"""The platform-neutral words the core and the adapters speak.

Adapters turn a Telegram update or a Matrix event into one of the ``Incoming`` kinds below and turn an
``Outgoing`` message back into a platform call. The core never sees a platform object, which is what
lets the same onboarding run in a terminal, on Telegram and on Matrix, and what lets the tests drive
every flow through an in-memory fake adapter.

Everything here is a frozen dataclass that round-trips through JSON, because incoming events are
written to the durable inbox and outgoing messages to the durable outbox before anything happens.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.core.i18n import Localized


@dataclass(frozen=True)
class Address:
    """Where an event came from: which platform, which chat, which user.

    ``chat_id`` is the private chat with the bot or a group/room; ``private`` tells which, because a
    text in a private chat is talking to the bot while a text in a circle room is neighbours chatting.
    """

    platform: str
    chat_id: str
    user_id: str
    private: bool = True


@dataclass(frozen=True)
class Sender:
    """What the platform tells us about the person, kept only as long as it is useful."""

    first_name: str = ""
    language: str | None = None  # the app's language, a hint for the first question


@dataclass(frozen=True)
class TextIn:
    text: str


@dataclass(frozen=True)
class CommandIn:
    name: str  # without the slash, lower case, without "@botname"
    args: str = ""
    # When the command answers a message (Telegram reply, Matrix m.in_reply_to): that message's author
    # (platform user id) and text, so "/report" in reply flags that message. Empty when not a reply.
    reply_to_user: str = ""
    reply_to_text: str = ""


@dataclass(frozen=True)
class ChoiceIn:
    """A button pressed (or, on platforms without buttons, a numbered answer the core recognised)."""

    payload: str


@dataclass(frozen=True)
class LocationIn:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class FileIn:
    """A document someone sent (an organizer's .ics calendar). ``ref`` is the platform's handle for it
    (a Telegram file id, a console path): the content stays on the platform until a handler asks the
    adapter for it (``fetch_file``), so the inbox never holds file contents."""

    ref: str
    filename: str = ""
    mime_type: str = ""
    size: int = 0


@dataclass(frozen=True)
class JoinedIn:
    """Someone joined a group or room; ``invite`` is the invite link or code they used, if known."""

    invite: str = ""


@dataclass(frozen=True)
class LeftIn:
    removed_by_admin: bool = False


Body = TextIn | CommandIn | ChoiceIn | LocationIn | FileIn | JoinedIn | LeftIn
_BODY_KINDS: dict[str, type] = {
    "text": TextIn,
    "command": CommandIn,
    "choice": ChoiceIn,
    "location": LocationIn,
    "file": FileIn,
    "joined": JoinedIn,
    "left": LeftIn,
}
_KIND_OF = {cls: kind for kind, cls in _BODY_KINDS.items()}


@dataclass(frozen=True)
class Incoming:
    """One thing that happened, addressed. ``external_id`` is the platform's id for it (update id,
    event id), used by the inbox so that an event fetched twice is handled once."""

    address: Address
    body: Body
    sender: Sender = field(default_factory=Sender)
    external_id: str = ""

    @property
    def kind(self) -> str:
        return _KIND_OF[type(self.body)]

    def to_json(self) -> str:
        # vars() rather than dataclasses.asdict: these hold only plain values, and asdict's deep copy
        # was a tenth of the time an event spends in the core.
        return json.dumps(
            {
                "address": vars(self.address),
                "sender": vars(self.sender),
                "kind": self.kind,
                "body": vars(self.body),
                "external_id": self.external_id,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str) -> Incoming:
        data = json.loads(raw)
        body_cls = _BODY_KINDS[data["kind"]]
        return cls(
            address=Address(**data["address"]),
            sender=Sender(**data["sender"]),
            body=body_cls(**data["body"]),
            external_id=data.get("external_id", ""),
        )


@dataclass(frozen=True)
class Choice:
    """A button. ``payload`` travels back in ``ChoiceIn``; it must stay under 64 bytes (Telegram).

    ``number``: the number the choice has in the question it belongs to, when this message shows
    only some of that question's choices ("which of these?" after an ambiguous answer): platforms
    without buttons show it instead of the choice's place here, so "2" still means choice 2.
    0: its place in this message."""

    label: str
    payload: str
    number: int = 0

    def __post_init__(self) -> None:
        if len(self.payload.encode()) > 64:
            raise ValueError(f"choice payload over 64 bytes: {self.payload!r}")


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    """A message for one chat.

    ``text`` is a ``Localized`` string: it came from the message catalogue, with every value put into it
    already escaped, so it is safe HTML (the Telegram subset: b, i, a, code) whatever users typed.
    ``kind`` lets adapters render a neighbour's mirrored words differently from the bot's own notices.
    """

    platform: str
    chat_id: str
    text: Localized
    choices: tuple[Choice, ...] = ()
    attachment: Attachment | None = None
    kind: Literal["notice", "relay"] = "notice"

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "platform": self.platform,
            "chat_id": self.chat_id,
            "text": str(self.text),
            "choices": [[c.label, c.payload, *([c.number] if c.number else [])] for c in self.choices],
            "kind": self.kind,
        }
        if not isinstance(self.text, Localized):
            data["raw"] = True  # a bug: see from_json
        if self.attachment:
            data["attachment"] = {
                "filename": self.attachment.filename,
                "mime_type": self.attachment.mime_type,
                "data": base64.b64encode(self.attachment.data).decode(),
            }
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Outgoing:
        data = json.loads(raw)
        att = data.get("attachment")
        return cls(
            platform=data["platform"],
            chat_id=data["chat_id"],
            text=_text_from(data),
            choices=tuple(Choice(*choice) for choice in data["choices"]),
            attachment=Attachment(att["filename"], att["mime_type"], base64.b64decode(att["data"])) if att else None,
            kind=data.get("kind", "notice"),
        )


def _text_from(data: dict[str, Any]) -> Localized | str:
    """A catalogue sentence comes back as one. A raw string (a bug: the core must only send catalogue
    sentences, whose values are escaped) comes back escaped, so it shows as plain text and never as
    markup, and as a plain ``str``, so the tests' platform can tell it from a catalogue sentence."""
    if data.get("raw"):
        return html.escape(data["text"], quote=False)
    return Localized(data["text"])


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do; the core adapts its behaviour instead of asking the adapter to fake it."""

    buttons: bool  # inline buttons; without them choices are numbered lines answered by number
    create_rooms: bool  # Matrix and the console can; a Telegram bot cannot create groups
    invite_links: bool  # Telegram hands out links; Matrix invites the user directly
    max_text: int = 4096
    messages_per_second: float = 0.0  # overall sending rate the platform allows (Telegram ~30); 0: no limit
    # Sends to different chats in flight at once (each chat's own messages still go one after the other).
    # 0: the core decides (8 where a repeated send is recognised, else 1). Where it is not, a crash gives
    # up each send in flight, so this also bounds what a crash can leave "may have arrived".
    sends_in_flight: int = 0
    move_clock: bool = False  # /clock may move time forward: only the console, to try the bot (never real people)


@dataclass(frozen=True)
class RoomSpec:
    """What the core asks for when a circle needs a room on a platform."""

    circle_id: int
    name: str
    topic: str
    #: Who the room is made for (the first member, whose invitation made it needed): a platform that
    #: invites while creating (``invites_on_create``, Matrix's createRoom ``invite``) spends one event.
    invite: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivered:
    external_id: str = ""


@dataclass(frozen=True)
class RetryLater:
    """A transient failure (rate limit, network): try again after ``seconds``."""

    seconds: float
    reason: str = ""


class PlatformBusy(Exception):
    """Raised by an adapter step that returns no ``SendResult`` (creating a room) when the platform
    refused it for its rate limit: the outbox tries again after ``seconds``, without counting it as a
    failure of the item."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


@dataclass(frozen=True)
class Undeliverable:
    """A permanent failure (the user blocked the bot, the room is gone): never retry.

    ``chat_gone`` says whether the chat itself is closed to the bot (blocked, deleted, kicked) — then
    the person is marked unreachable there — or only this one message was refused (its content).
    """

    reason: str
    chat_gone: bool = True


SendResult = Delivered | RetryLater | Undeliverable


@dataclass(frozen=True)
class InviteResult:
    """``link`` is set when the platform invites by link (Telegram) and the core must pass it on."""

    outcome: SendResult
    link: str = ""


class Transport(Protocol):
    """What the core needs from an adapter to deliver. ``adapters.base.Adapter`` implements it."""

    platform: str
    capabilities: Capabilities

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult: ...

    async def create_room(self, spec: RoomSpec) -> str: ...

    async def invite(self, room_id: str, user_id: str, *, idempotency_key: str) -> InviteResult: ...

    async def fetch_file(self, ref: str, max_bytes: int) -> bytes:
        """The content of a document someone sent (``FileIn.ref``); raises ``FileTooBig`` past ``max_bytes``."""
        ...


class FileTooBig(Exception):
    """A received document is larger than the handler accepts."""


def numbered(number: int, label: str) -> str:
    """ "2. Label" for platforms without buttons, where a typed number answers; a label that already
    starts with its number (an old message, a deployment's wording) is not numbered twice."""
    stripped = label.lstrip()
    for mark in (f"{number}.", f"{number})", f"{number} -", f"{number}-"):
        if stripped.startswith(mark):
            return f"{number}. {stripped[len(mark):].lstrip()}"
    return f"{number}. {label}"
