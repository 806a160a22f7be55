"""A Telegram Bot API emulator for end-to-end tests with the real python-telegram-bot.

Why: unit tests with mocks only check what we *believe* Telegram does. This emulator answers
over real HTTP with the Bot API's JSON shapes, error texts and limits, so the real
``telegram.Bot`` (and our adapter on top of it) meets the same failures it meets in production:
429 flood control, 403 for blocked users, 400 for bad markup or oversized callback data,
409 while a webhook is set, lost answers after a timeout, group → supergroup migration.

Usage::

    async with BotApiEmulator(token="123:ABC") as emu:
        bot = telegram.Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url)
        alice = emu.add_user("Alice", username="alice")
        emu.send_text(alice, "/start")           # queues a `message` update
        async with bot:
            updates = await bot.get_updates()
            await bot.send_message(alice.id, "Bonjour !")
        assert emu.sent(alice.id)[0].text == "Bonjour !"

Facts the behaviour follows (checked in tdlib/telegram-bot-api ``Client.cpp`` and PTB 22.8):

* Requests: GET query strings, ``application/json``, url-encoded and ``multipart/form-data``
  bodies are all accepted. PTB posts form data (JSON-encoded values for non-strings) and
  multipart when it uploads a file. Method names are case-insensitive, as on Telegram.
* ``getUpdates``: ``offset`` confirms (forgets) every update with a smaller id; a negative offset
  keeps only the last ``-offset`` updates; ``limit`` is clamped to 1..100 and ``timeout`` to 0..50.
  ``allowed_updates`` is a *server-side* setting: absent keeps the previous one, ``[]`` restores
  the default (everything except ``chat_member``, ``message_reaction``,
  ``message_reaction_count``), and updates of a type not allowed are dropped when they are
  created, not when they are fetched (see ``dropped_updates``). A second ``getUpdates`` ends a
  pending long poll with 409 "terminated by other getUpdates request". Not emulated: Telegram's
  quirk that forces a 3 s long poll when the same offset is polled again within 3 s.
* Flood control (:class:`Limits`): the message-sending methods *and the message edits* count —
  Telegram's Bot API developer confirmed that edits share the sending limit
  (https://github.com/tdlib/td/issues/2592). ``answerCallbackQuery``, ``getUpdates``,
  ``deleteMessage``, ``getChat…`` and invite-link calls do not count. Refused calls do not
  count either. Every 429, injected or not, is recorded in :attr:`BotApiEmulator.rate_limited`.
* Group chats receive only commands, replies to the bot and mentions while the bot is in privacy
  mode and not an administrator (Telegram's default); service messages always arrive.
  ``chat_member`` and ``message_reaction`` updates in groups need the bot to be an administrator.
* ``editMessageText`` without ``reply_markup`` removes the inline keyboard, as on Telegram.

The test-side methods are plain (synchronous) methods: call them from the event loop that runs
the emulator (any pytest-asyncio test does).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = [
    "ADMIN_RIGHTS",
    "DEFAULT_ALLOWED_UPDATES",
    "DEFAULT_BOT_RIGHTS",
    "UPDATE_TYPES",
    "BotApiEmulator",
    "EmuChat",
    "EmuUser",
    "EmulatorUsageError",
    "EntityParseError",
    "JoinRefused",
    "Limits",
    "Member",
    "RateLimitHit",
    "RequestRecord",
    "SentMessage",
    "UploadedFile",
    "parse_html",
]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_INVITE_MEMBER_LIMIT = 99_999
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
LONG_POLL_MAX_TIMEOUT = 50

UPDATE_TYPES: tuple[str, ...] = (
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
    "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query",
    "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
    "my_chat_member", "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
    "managed_bot", "guest_message",
)  # fmt: skip
DEFAULT_ALLOWED_UPDATES = frozenset(UPDATE_TYPES) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}

#: Methods that post or change a message and therefore count against flood control.
COUNTED_METHODS = frozenset(
    m.lower()
    for m in (
        "sendMessage", "sendDocument", "sendPhoto", "sendVideo", "sendAudio", "sendVoice",
        "sendAnimation", "sendSticker", "sendLocation", "sendVenue", "sendContact", "sendPoll",
        "sendDice", "sendMediaGroup", "copyMessage", "forwardMessage", "editMessageText",
        "editMessageCaption", "editMessageMedia", "editMessageReplyMarkup",
    )
)  # fmt: skip

ADMIN_RIGHTS: tuple[str, ...] = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories", "can_pin_messages", "can_manage_topics",
)  # fmt: skip
#: What a group owner typically grants a management bot: invite, moderate, tidy up.
DEFAULT_BOT_RIGHTS: Mapping[str, bool] = {
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_restrict_members": True,
    "can_invite_users": True,
    "can_pin_messages": True,
}
MEMBER_PERMISSIONS: tuple[str, ...] = (
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews", "can_change_info", "can_invite_users",
    "can_pin_messages", "can_manage_topics", "can_edit_tag", "can_react_to_messages",
)  # fmt: skip
INLINE_BUTTON_ACTIONS = frozenset(
    {
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
        "callback_game", "pay",
    }
)  # fmt: skip
IN_CHAT = frozenset({"creator", "administrator", "member", "restricted"})

CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
CONFLICT_POLLER = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: injected failure",
    404: "Not Found",
    409: "Conflict: injected failure",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answered to the bot in Telegram's shape (``ok: false`` + ``error_code``)."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


class EmulatorUsageError(Exception):
    """A test drove the emulator into something a real user could not do (a test bug)."""


class JoinRefused(EmulatorUsageError):
    """Telegram would refuse this join: the link is revoked, expired or used up, or the user is banned."""


class EntityParseError(ValueError):
    """HTML that Telegram refuses with "can't parse entities"."""


# --------------------------------------------------------------------------------------------
# Text helpers: UTF-16 offsets, HTML parse mode, command entities
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Entity offsets and lengths are counted in UTF-16 code units on Telegram."""
    return len(text.encode("utf-16-le")) // 2


_HTML_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "span": "spoiler", "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NUMERIC_ENTITY = re.compile(r"#(x[0-9a-fA-F]{1,6}|[0-9]{1,7});")
_NAMED_ENTITY = re.compile(r"([a-zA-Z]{2,4});")
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTR_NAME = re.compile(r"[a-zA-Z0-9_-]*")


class _HtmlParser:
    """Telegram's HTML parse mode: the supported tags, four named entities, strict nesting.

    Error texts follow TDLib's (``Unsupported start tag "x" at byte offset N`` …) so code that
    matches them behaves as in production.
    """

    def __init__(self, source: str):
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.out16 = 0
        self.stack: list[tuple[str, dict[str, str], int, int]] = []  # tag, attrs, start16, src pos
        self.entities: list[dict[str, Any]] = []

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "<":
                self._tag()
            elif char == "&":
                self._emit(self._entity())
            else:
                self._emit(char)
                self.pos += 1
        if self.stack:
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def _byte_offset(self, pos: int) -> int:
        return len(self.src[:pos].encode("utf-8"))

    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.out16 += utf16_len(text)

    def _entity(self) -> str:
        """Decode ``&…;`` at pos; unknown entities stay literal text, as on Telegram."""
        rest = self.src[self.pos + 1 : self.pos + 12]
        numeric = _NUMERIC_ENTITY.match(rest)
        if numeric:
            digits = numeric.group(1)
            code = int(digits[1:], 16) if digits[0] == "x" else int(digits)
            if 0 < code <= 0x10FFFF:
                self.pos += 1 + numeric.end()
                return chr(code)
        named = _NAMED_ENTITY.match(rest)
        if named and named.group(1) in _NAMED_ENTITIES:
            self.pos += 1 + named.end()
            return _NAMED_ENTITIES[named.group(1)]
        self.pos += 1
        return "&"

    def _tag(self) -> None:
        if self.src.startswith("</", self.pos):
            self._end_tag()
        else:
            self._start_tag()

    def _start_tag(self) -> None:
        begin = self.pos
        name_match = _TAG_NAME.match(self.src, begin + 1)
        assert name_match is not None
        name = name_match.group().lower()
        if name not in _HTML_ENTITY_TYPES:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {self._byte_offset(begin)}')
        self.pos = name_match.end()
        attrs = self._attributes(name, begin)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset(begin)}')
        self.stack.append((name, attrs, self.out16, begin))

    def _attributes(self, tag: str, begin: int) -> dict[str, str]:
        attrs: dict[str, str] = {}
        while True:
            self._skip_spaces()
            if self.pos >= len(self.src):
                raise EntityParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
            if self.src[self.pos] == ">":
                self.pos += 1
                return attrs
            attr_match = _ATTR_NAME.match(self.src, self.pos)
            assert attr_match is not None
            if not attr_match.group():
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self._byte_offset(self.pos)}'
                )
            self.pos = attr_match.end()
            attrs[attr_match.group().lower()] = self._attribute_value(begin)

    def _attribute_value(self, begin: int) -> str:
        self._skip_spaces()
        if self.pos >= len(self.src) or self.src[self.pos] != "=":
            return ""
        self.pos += 1
        self._skip_spaces()
        if self.pos >= len(self.src):
            raise EntityParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        quote = self.src[self.pos]
        if quote in "\"'":
            end = self.src.find(quote, self.pos + 1)
            if end < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
            raw, self.pos = self.src[self.pos + 1 : end], end + 1
        else:
            unquoted = re.match(r"[^\s>]*", self.src[self.pos :])
            raw = unquoted.group() if unquoted else ""
            self.pos += len(raw)
        return parse_html(raw)[0] if "&" in raw else raw

    def _skip_spaces(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos].isspace():
            self.pos += 1

    def _end_tag(self) -> None:
        begin = self.pos
        name_match = _TAG_NAME.match(self.src, begin + 2)
        assert name_match is not None
        name = name_match.group().lower()
        self.pos = name_match.end()
        self._skip_spaces()
        if self.pos >= len(self.src) or self.src[self.pos] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {self._byte_offset(begin)}")
        self.pos += 1
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._byte_offset(begin)}")
        top = self.stack[-1][0]
        if name != top:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {self._byte_offset(begin)}, expected "</{top}>", found "</{name}>"'
            )
        self._close(*self.stack.pop()[:3])

    def _close(self, tag: str, attrs: dict[str, str], start16: int) -> None:
        length = self.out16 - start16
        parent = self.stack[-1] if self.stack else None
        if tag == "code" and parent and parent[0] == "pre":
            if attrs.get("class", "").startswith("language-"):
                parent[1]["language"] = attrs["class"][len("language-") :]
            return  # <pre><code> is one pre entity on Telegram
        entity = _entity_for(tag, attrs, start16, length)
        if entity is not None:
            self.entities.append(entity)


def _entity_for(tag: str, attrs: dict[str, str], offset: int, length: int) -> dict[str, Any] | None:
    if length <= 0:
        return None
    entity: dict[str, Any] = {"type": _HTML_ENTITY_TYPES[tag], "offset": offset, "length": length}
    if tag == "a":
        if not attrs.get("href"):
            return None
        entity["url"] = attrs["href"]
    elif tag == "pre" and attrs.get("language"):
        entity["language"] = attrs["language"]
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        if not attrs.get("emoji-id"):
            return None
        entity["custom_emoji_id"] = attrs["emoji-id"]
    return entity


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, MessageEntity dicts); raise :class:`EntityParseError`."""
    return _HtmlParser(source).parse()


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims leading and trailing whitespace and shifts or cuts the entities to match."""
    stripped = text.strip()
    lead16 = utf16_len(text[: len(text) - len(text.lstrip())])
    total16 = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead16, 0)
        end = min(entity["offset"] + entity["length"] - lead16, total16)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{4,31}")


def user_text_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram's clients attach to what a user types: bot commands and @mentions."""
    entities = []
    for kind, pattern in (("bot_command", _COMMAND), ("mention", _MENTION)):
        for match in pattern.finditer(text):
            entities.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
    return sorted(entities, key=lambda e: e["offset"])


# --------------------------------------------------------------------------------------------
# Flood control
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits (the Bot FAQ's numbers); 0 disables a limit.

    Every limit is a sliding window: at most ``n`` counted calls in any ``window`` seconds.
    Real Telegram tolerates short bursts in one private chat; this emulator does not (strict
    is the safe side for testing pacing). Raise ``private`` for conversation tests.
    """

    overall: int = 30
    overall_window: float = 1.0
    private: int = 1
    private_window: float = 1.0
    group: int = 20
    group_window: float = 60.0
    counted_methods: frozenset[str] = COUNTED_METHODS

    @classmethod
    def unlimited(cls) -> Limits:
        """No flood control at all, for tests about something else."""
        return cls(overall=0, private=0, group=0)


class FloodControl:
    """Sliding-window counters keyed by "overall" and by chat id."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._windows: dict[object, deque[float]] = {}

    def acquire(self, chat_id: int, now: float) -> int | None:
        """Count one call to ``chat_id``; return the seconds to wait instead if over a limit."""
        is_private = chat_id > 0
        per_chat = self.limits.private if is_private else self.limits.group
        chat_window = self.limits.private_window if is_private else self.limits.group_window
        checks = [("overall", self.limits.overall, self.limits.overall_window), (chat_id, per_chat, chat_window)]
        waits = [self._wait(key, n, window, now) for key, n, window in checks if n > 0]
        wait = max(waits, default=0.0)
        if wait > 0:
            return max(1, math.ceil(wait))
        for key, n, _ in checks:
            if n > 0:
                self._windows.setdefault(key, deque()).append(now)
        return None

    def _wait(self, key: object, n: int, window: float, now: float) -> float:
        stamps = self._windows.setdefault(key, deque())
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        return stamps[0] + window - now if len(stamps) >= n else 0.0


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass
class EmuUser:
    """A Telegram user. ``started``: has a private chat with the bot (sent it anything)."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None
    last_name: str | None = None
    is_bot: bool = False
    started: bool = False
    blocked: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass
class Member:
    """A user's membership in a group: status, admin rights or restrictions, how they joined."""

    status: str
    rights: dict[str, bool] = field(default_factory=dict)
    until_date: int = 0
    invite_link: str | None = None


@dataclass
class InviteLink:
    link: str
    chat_id: int
    creator: EmuUser
    name: str | None = None
    expire_date: int | None = None
    member_limit: int | None = None
    creates_join_request: bool = False
    is_revoked: bool = False
    joins: int = 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"invite_link": self.link, "creator": self.creator.to_json()}
        if self.name:
            data["name"] = self.name
        if self.expire_date:
            data["expire_date"] = self.expire_date
        if self.member_limit:
            data["member_limit"] = self.member_limit
        data.update(creates_join_request=self.creates_join_request, is_primary=False, is_revoked=self.is_revoked)
        return data


@dataclass
class UploadedFile:
    """A file the bot uploaded (or referred to by file_id / URL)."""

    file_id: str
    file_unique_id: str
    filename: str | None
    content: bytes
    mime_type: str | None = None
    url: str | None = None

    @property
    def file_path(self) -> str:
        return f"documents/{self.file_unique_id}"


@dataclass
class SentMessage:
    """A message the bot sent, kept current: edits change ``text``/``reply_markup``, deletes set ``deleted``."""

    chat_id: int
    message_id: int
    method: str
    time: float
    text: str | None = None
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    document: UploadedFile | None = None
    caption: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False

    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, flattened row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


@dataclass
class StoredMessage:
    json: dict[str, Any]
    from_bot: bool
    sent: SentMessage | None = None


@dataclass
class EmuChat:
    """A chat: private (id = user id), group or supergroup, with members, messages and links."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    user: EmuUser | None = None
    members: dict[int, Member] = field(default_factory=dict)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    invite_links: dict[str, InviteLink] = field(default_factory=dict)
    migrated_to: int | None = None
    next_message_id: int = 1

    def to_json(self) -> dict[str, Any]:
        if self.type == "private":
            assert self.user is not None
            data = {"id": self.id, "first_name": self.user.first_name}
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
            data["type"] = "private"
            return data
        data = {"id": self.id, "title": self.title, "type": self.type}
        if self.username:
            data["username"] = self.username
        return data

    def status_of(self, user_id: int) -> str:
        member = self.members.get(user_id)
        return member.status if member else "left"


@dataclass
class RequestRecord:
    method: str
    params: dict[str, Any]
    time: float
    status: int = 200
    description: str | None = None


@dataclass
class RateLimitHit:
    """One 429 answered to the bot (``injected``: from :meth:`BotApiEmulator.fail_next`)."""

    method: str
    chat_id: int | None
    retry_after: int
    time: float
    injected: bool = False


@dataclass
class _Fault:
    status: int
    description: str
    remaining: int
    retry_after: int | None


@dataclass
class _Delay:
    seconds: float
    remaining: int
    apply: bool


class _Params:
    """Request parameters from any encoding, read with Telegram's lenient type coercion."""

    def __init__(self, values: dict[str, Any], files: dict[str, web.FileField]):
        self.values = values
        self.files = files

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def str(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def int(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f'invalid value "{value}" of the parameter "{name}"') from None

    def bool(self, name: str) -> bool:
        return self.values.get(name) in (True, 1, "true", "True", "1")

    def json(self, name: str, what: str = "JSON object") -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what}") from None

    def loggable(self) -> dict[str, Any]:
        logged = dict(self.values)
        for name, upload in self.files.items():
            logged[name] = f"<file {upload.filename}>"
        return logged


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class BotApiEmulator:
    """An aiohttp server on 127.0.0.1 speaking the Bot API for one bot token.

    Test-side API (all synchronous unless marked async):

    * users and chats: :meth:`add_user`, :meth:`add_group`, :meth:`set_bot_rights`,
      :meth:`chat`, :meth:`user`, :meth:`block`, :meth:`unblock`, :meth:`migrate`;
    * what users do (queues updates): :meth:`send_text`, :meth:`edit_text`, :meth:`press`,
      :meth:`share_location`, :meth:`join`, :meth:`leave`, :meth:`react`;
    * what the bot did: :meth:`sent`, :meth:`all_sent`, :attr:`requests`, :meth:`calls`,
      :attr:`rate_limited`, :attr:`callback_answers`, :meth:`commands`, :attr:`webhook`,
      :meth:`pending_updates`, :attr:`dropped_updates`, async :meth:`wait_for_sent`,
      async :meth:`wait_until_consumed`;
    * trouble: :meth:`fail_next`, :meth:`delay_next`, :class:`Limits`.
    """

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        limits: Limits | None = None,
        bot_username: str = "voisinage_test_bot",
        bot_first_name: str = "Voisinage",
        privacy_mode: bool = True,
        allowed_updates: Sequence[str] | None = None,
        round_trip: float = 0.0,
    ):
        """``round_trip``: seconds every call but getUpdates waits before it is handled, as the network
        between a bot and Telegram's servers would (30-100 ms from France); 0 on the loopback."""
        self.token = token
        self.round_trip = round_trip
        self.in_flight = 0  # calls being answered now (getUpdates aside)
        self.most_in_flight = 0
        self.limits = limits or Limits()
        self.privacy_mode = privacy_mode
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot = EmuUser(bot_id, bot_first_name, username=bot_username, is_bot=True)
        self.requests: list[RequestRecord] = []
        self.rate_limited: list[RateLimitHit] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.dropped_updates: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}
        self.files: dict[str, UploadedFile] = {}
        self._flood = FloodControl(self.limits)
        self._users: dict[int, EmuUser] = {}
        self._chats: dict[int, EmuChat] = {}
        self._sent: list[SentMessage] = []
        self._queue: list[dict[str, Any]] = []
        self._allowed = frozenset(allowed_updates) if allowed_updates else DEFAULT_ALLOWED_UPDATES
        self._callbacks: dict[str, tuple[int, int]] = {}
        self._reactions: dict[tuple[int, int, int], list[dict[str, Any]]] = {}
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[_Delay]] = {}
        self._ids = itertools.count(1_000_001)
        self._update_ids = itertools.count(100_000_001)
        self._group_ids = itertools.count(4_100_000_001)
        self._supergroup_ids = itertools.count(1_001_234_567_890)
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._poll_generation = 0
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._handlers = self._method_table()

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving; pending long polls and delayed answers end at once."""
        self._closing.set()
        self._wake()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """For ``telegram.Bot(token, base_url=...)``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``telegram.Bot(token, base_file_url=...)``."""
        return f"{self.url}/file/bot"

    @property
    def bot_user(self) -> EmuUser:
        return self.bot

    # ---------------------------------------------------------------- HTTP layer

    def _method_table(self) -> dict[str, Callable[[_Params], Any]]:
        table = {
            "getMe": self._get_me,
            "logOut": self._ok,
            "close": self._ok,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "createChatInviteLink": self._create_chat_invite_link,
            "revokeChatInviteLink": self._revoke_chat_invite_link,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatMemberCount": self._get_chat_member_count,
            "getChatAdministrators": self._get_chat_administrators,
            "banChatMember": self._ban_chat_member,
            "unbanChatMember": self._unban_chat_member,
            "restrictChatMember": self._restrict_chat_member,
            "leaveChat": self._leave_chat,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        return {name.lower(): handler for name, handler in table.items()}

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            well_formed = re.fullmatch(r"\d+:[\w-]+", request.match_info["token"]) is not None
            error = ApiError(401, "Unauthorized") if well_formed else ApiError(404, "Not Found")
            self.requests.append(RequestRecord(method, {}, time.monotonic(), error.status, error.description))
            return web.json_response(error.body(), status=error.status)
        params = await self._read_params(request)
        record = RequestRecord(method, params.loggable(), time.monotonic())
        self.requests.append(record)
        try:
            body = {"ok": True, "result": await self._dispatch(method, params)}
        except ApiError as error:
            record.status, record.description = error.status, error.description
            return web.json_response(error.body(), status=error.status)
        return web.json_response(body)

    async def _dispatch(self, method: str, params: _Params) -> Any:
        key = method.lower()
        handler = self._handlers.get(key)
        if handler is None:
            raise ApiError(404, "Not Found")
        if key == "getupdates":
            return await self._answer(key, handler, params)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.round_trip:
                await self._sleep(self.round_trip)
            return await self._answer(key, handler, params)
        finally:
            self.in_flight -= 1

    async def _answer(self, key: str, handler: Callable[[_Params], Any], params: _Params) -> Any:
        delay = self._take(self._delays, key)
        if delay is not None:
            await self._sleep(delay.seconds)
            if not delay.apply:
                raise ApiError(504, "Gateway Timeout")
        fault = self._take(self._faults, key)
        if fault is not None:
            self._raise_fault(key, fault)
        result = handler(params)
        return await result if asyncio.iscoroutine(result) else result

    async def _read_params(self, request: web.Request) -> _Params:
        values: dict[str, Any] = dict(request.query)
        files: dict[str, web.FileField] = {}
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else None
            if isinstance(body, dict):
                values.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[name] = value
                else:
                    values[name] = value
        return _Params(values, files)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        for upload in self.files.values():
            if upload.file_path == request.match_info["path"]:
                return web.Response(body=upload.content)
        return web.json_response(ApiError(404, "Not Found").body(), status=404)

    @staticmethod
    def _take(queues: Mapping[str, deque[Any]], key: str) -> Any:
        queue = queues.get(key)
        if not queue:
            return None
        item = queue[0]
        item.remaining -= 1
        if item.remaining <= 0:
            queue.popleft()
        return item

    def _raise_fault(self, method: str, fault: _Fault) -> None:
        if fault.status == 429:
            retry_after = fault.retry_after or 1
            self.rate_limited.append(RateLimitHit(method, None, retry_after, time.monotonic(), injected=True))
            raise too_many_requests(retry_after)
        parameters = {"retry_after": fault.retry_after} if fault.retry_after else None
        raise ApiError(fault.status, fault.description, parameters)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    # ---------------------------------------------------------------- updates queue

    def _wake(self) -> None:
        """Wake every long poll (and every ``wait_for_…``): something changed."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(timeout, 0))

    def _push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update, or drop it as Telegram does when its type is not allowed."""
        update = {"update_id": next(self._update_ids), kind: payload}
        if kind not in self._allowed:
            self.dropped_updates.append(update)
            return None
        self._queue.append(update)
        self._wake()
        return update

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._queue = self._queue[offset:]
        elif offset > 0:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]

    def _set_allowed(self, params: _Params) -> None:
        allowed = params.json("allowed_updates", "allowed_updates JSON array")
        if isinstance(allowed, list):
            known = {str(kind).lower() for kind in allowed} & set(UPDATE_TYPES)
            self._allowed = frozenset(known) or DEFAULT_ALLOWED_UPDATES

    async def _get_updates(self, p: _Params) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise ApiError(409, CONFLICT_WEBHOOK)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()  # ends an older long poll with 409
        offset = p.int("offset", 0) or 0
        limit = min(max(p.int("limit", 100) or 100, 1), 100)
        timeout = min(max(p.int("timeout", 0) or 0, 0), LONG_POLL_MAX_TIMEOUT)
        self._set_allowed(p)
        self._confirm(offset)
        deadline = time.monotonic() + timeout
        while not self._queue and time.monotonic() < deadline and not self._closing.is_set():
            await self._wait_change(deadline - time.monotonic())
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT_POLLER)
        return copy.deepcopy(self._queue[:limit])

    def _set_webhook(self, p: _Params) -> bool:
        url = p.str("url") or ""
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if p.bool("drop_pending_updates"):
            self._queue.clear()
        self._set_allowed(p)
        self.webhook = {"url": url, "secret_token": p.str("secret_token")} if url else {}
        return True

    def _delete_webhook(self, p: _Params) -> bool:
        if p.bool("drop_pending_updates"):
            self._queue.clear()
        self.webhook = {}
        return True

    def _get_webhook_info(self, p: _Params) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook:
            info["max_connections"] = 40
            if self._allowed != DEFAULT_ALLOWED_UPDATES:
                info["allowed_updates"] = sorted(self._allowed)
        return info

    # ---------------------------------------------------------------- resolving chats and users

    def _chat_ref(self, value: Any) -> EmuChat:
        try:
            chat_id = int(value)
        except (TypeError, ValueError):
            if value in (None, ""):
                raise bad_request("chat_id is empty") from None
            raise bad_request("chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _writable_chat(self, value: Any) -> EmuChat:
        """The chat the bot may post in, or the 400/403 Telegram answers instead."""
        chat = self._chat_ref(value)
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.type == "private":
            assert chat.user is not None
            if chat.user.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.user.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        else:
            self._require_bot_member(chat)
        return chat

    def _require_bot_member(self, chat: EmuChat) -> None:
        kind = "group" if chat.type == "group" else "supergroup"
        status = chat.status_of(self.bot.id)
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if status not in IN_CHAT:
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")

    def _group_ref(self, value: Any) -> EmuChat:
        chat = self._chat_ref(value)
        if chat.type == "private":
            raise bad_request("method is available for supergroup and channel chats only")
        self._require_bot_member(chat)
        return chat

    def _require_right(self, chat: EmuChat, right: str, error: str) -> None:
        bot = chat.members.get(self.bot.id)
        if bot is None or not (bot.status == "creator" or (bot.status == "administrator" and bot.rights.get(right))):
            raise bad_request(error)

    def _user_ref(self, value: Any) -> EmuUser:
        try:
            user = self.bot if int(value) == self.bot.id else self._users.get(int(value))
        except (TypeError, ValueError):
            user = None
        if user is None:
            raise bad_request("user not found")
        return user

    def _message_ref(self, chat: EmuChat, value: Any, what: str) -> StoredMessage:
        try:
            message = chat.messages.get(int(value))
        except (TypeError, ValueError):
            message = None
        if message is None:
            raise bad_request(f"{what} not found")
        return message

    def _flood_check(self, method: str, chat: EmuChat) -> None:
        if method.lower() not in self.limits.counted_methods:
            return
        retry_after = self._flood.acquire(chat.id, time.monotonic())
        if retry_after is not None:
            self.rate_limited.append(RateLimitHit(method, chat.id, retry_after, time.monotonic()))
            raise too_many_requests(retry_after)

    # ---------------------------------------------------------------- building messages

    def _new_message(self, chat: EmuChat, sender: EmuUser, content: dict[str, Any], from_bot: bool) -> StoredMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        data = {
            "message_id": message_id,
            "from": sender.to_json(),
            "chat": chat.to_json(),
            "date": int(time.time()),
            **content,
        }
        stored = StoredMessage(data, from_bot)
        chat.messages[message_id] = stored
        return stored

    def _formatted(
        self, p: _Params, name: str, max_length: int, too_long: str, empty: str | None
    ) -> tuple[str, list[dict[str, Any]]]:
        """Text or caption after entity parsing and trimming, validated like Telegram."""
        raw = p.str(name) or ""
        mode = (p.str("parse_mode") or "").lower()
        entities_param = "entities" if name == "text" else "caption_entities"
        if mode == "html":
            try:
                text, entities = parse_html(raw)
            except EntityParseError as error:
                raise bad_request(f"can't parse entities: {error}") from None
        elif mode in ("", "markdown", "markdownv2"):  # Markdown is passed through unvalidated
            text, entities = raw, list(p.json(entities_param, "message entities") or [])
        else:
            raise bad_request(f"unsupported parse_mode {p.str('parse_mode')}")
        text, entities = strip_text(text, entities)
        if not text and empty:
            raise bad_request(empty)
        if len(text) > max_length:
            raise bad_request(too_long)
        return text, entities

    def _reply_markup(self, p: _Params) -> dict[str, Any] | None:
        markup = p.json("reply_markup", "reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
        return markup

    @staticmethod
    def _check_inline_keyboard(rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        buttons = [button for row in rows for button in row]
        if len(buttons) > 100:
            raise bad_request("reply markup is too long")
        for button in buttons:
            if not isinstance(button, dict) or not button.get("text"):
                raise bad_request("BUTTON_TEXT_INVALID")
            if "callback_data" in button:
                data = str(button["callback_data"]).encode("utf-8")
                if not 1 <= len(data) <= MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
            elif not INLINE_BUTTON_ACTIONS & button.keys():
                raise bad_request("text buttons are unallowed in the inline keyboard")
            if "url" in button and not re.match(r"(https?|tg)://\S+$", str(button["url"])):
                raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")

    def _reply_to(self, chat: EmuChat, p: _Params) -> dict[str, Any] | None:
        reply = p.json("reply_parameters", "reply parameters JSON object") or {}
        message_id = reply.get("message_id") if isinstance(reply, dict) else None
        message_id = message_id or p.int("reply_to_message_id")
        if not message_id:
            return None
        stored = chat.messages.get(int(message_id))
        if stored is None:
            if isinstance(reply, dict) and reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return copy.deepcopy(stored.json)

    def _bot_message(
        self, method: str, chat: EmuChat, content: dict[str, Any], p: _Params, markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Store a message from the bot and remember it in the sent log."""
        reply_to = self._reply_to(chat, p)
        self._flood_check(method, chat)
        if reply_to:
            content = {"reply_to_message": reply_to, **content}
        if markup and "inline_keyboard" in markup:
            content["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        stored = self._new_message(chat, self.bot, content, from_bot=True)
        stored.sent = SentMessage(
            chat_id=chat.id,
            message_id=stored.json["message_id"],
            method=method,
            time=time.monotonic(),
            text=content.get("text"),
            parse_mode=p.str("parse_mode"),
            entities=content.get("entities") or content.get("caption_entities") or [],
            reply_markup=markup,
            caption=content.get("caption"),
            params=p.loggable(),
        )
        self._sent.append(stored.sent)
        self._wake()
        return copy.deepcopy(stored.json)

    # ---------------------------------------------------------------- Bot API methods

    def _ok(self, p: _Params) -> bool:
        return True

    def _get_me(self, p: _Params) -> dict[str, Any]:
        return {
            **self.bot.to_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _send_message(self, p: _Params) -> dict[str, Any]:
        chat = self._writable_chat(p.raw("chat_id"))
        text, entities = self._formatted(p, "text", MAX_TEXT_LENGTH, "message is too long", "message text is empty")
        markup = self._reply_markup(p)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._bot_message("sendMessage", chat, content, p, markup)

    def _send_chat_action(self, p: _Params) -> bool:
        self._writable_chat(p.raw("chat_id"))
        return True

    def _send_document(self, p: _Params) -> dict[str, Any]:
        chat = self._writable_chat(p.raw("chat_id"))
        upload = self._document_from(p)
        caption, entities = self._formatted(p, "caption", MAX_CAPTION_LENGTH, "message caption is too long", None)
        markup = self._reply_markup(p)
        content: dict[str, Any] = {"document": self._document_json(upload)}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        message = self._bot_message("sendDocument", chat, content, p, markup)
        self.files[upload.file_id] = upload
        sent = self._sent[-1]
        sent.document = upload
        return message

    def _document_from(self, p: _Params) -> UploadedFile:
        part = p.files.get("document")
        if part is None:
            reference = p.str("document") or ""
            if reference.startswith("attach://"):
                part = p.files.get(reference[len("attach://") :])
            elif reference in self.files:
                return self.files[reference]
            elif re.match(r"https?://", reference):
                return self._new_file(reference.rsplit("/", 1)[-1], b"", None, url=reference)
            else:
                raise bad_request("there is no document in the request")
        if part is None:
            raise bad_request("there is no document in the request")
        content = part.file.read()
        if len(content) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        return self._new_file(part.filename, content, part.content_type)

    def _new_file(self, filename: str | None, content: bytes, mime: str | None, url: str | None = None) -> UploadedFile:
        unique = f"AgAD{next(self._ids)}"
        return UploadedFile(f"BQACAgQAAxk{secrets.token_urlsafe(24)}", unique, filename, content, mime, url)

    @staticmethod
    def _document_json(upload: UploadedFile) -> dict[str, Any]:
        data: dict[str, Any] = {"file_id": upload.file_id, "file_unique_id": upload.file_unique_id}
        if upload.filename:
            data["file_name"] = upload.filename
        if upload.mime_type:
            data["mime_type"] = upload.mime_type
        data["file_size"] = len(upload.content)
        return data

    def _get_file(self, p: _Params) -> dict[str, Any]:
        upload = self.files.get(p.str("file_id") or "")
        if upload is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": upload.file_id,
            "file_unique_id": upload.file_unique_id,
            "file_size": len(upload.content),
            "file_path": upload.file_path,
        }

    def _editable(self, p: _Params) -> tuple[EmuChat, StoredMessage]:
        if p.raw("inline_message_id"):
            raise bad_request("inline messages are not emulated")
        chat = self._chat_ref(p.raw("chat_id"))
        if chat.type != "private":
            self._require_bot_member(chat)
        stored = self._message_ref(chat, p.raw("message_id"), "message to edit")
        if not stored.from_bot:
            raise bad_request("message can't be edited")
        return chat, stored

    def _edit_message_text(self, p: _Params) -> dict[str, Any]:
        chat, stored = self._editable(p)
        if "text" not in stored.json:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(p, "text", MAX_TEXT_LENGTH, "message is too long", "message text is empty")
        markup = self._reply_markup(p)
        new_content: dict[str, Any] = {"text": text, "entities": entities}
        return self._apply_edit("editMessageText", chat, stored, new_content, markup, p)

    def _edit_message_reply_markup(self, p: _Params) -> dict[str, Any]:
        chat, stored = self._editable(p)
        return self._apply_edit("editMessageReplyMarkup", chat, stored, {}, self._reply_markup(p), p)

    def _apply_edit(
        self,
        method: str,
        chat: EmuChat,
        stored: StoredMessage,
        new_content: dict[str, Any],
        markup: dict[str, Any] | None,
        p: _Params,
    ) -> dict[str, Any]:
        data = stored.json
        inline = {"inline_keyboard": markup["inline_keyboard"]} if markup and "inline_keyboard" in markup else None
        unchanged = all(data.get(k, []) == v for k, v in new_content.items()) and data.get("reply_markup") == inline
        if unchanged:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._flood_check(method, chat)
        for key, value in new_content.items():
            if value:
                data[key] = value
            else:
                data.pop(key, None)
        if inline:
            data["reply_markup"] = inline
        else:
            data.pop("reply_markup", None)
        data["edit_date"] = int(time.time())
        self._record_edit(method, stored, p)
        return copy.deepcopy(data)

    def _record_edit(self, method: str, stored: StoredMessage, p: _Params) -> None:
        sent = stored.sent
        if sent is None:
            return
        sent.history.append({"method": sent.method, "text": sent.text, "reply_markup": sent.reply_markup})
        sent.method = method
        sent.text = stored.json.get("text")
        sent.entities = stored.json.get("entities", [])
        sent.reply_markup = stored.json.get("reply_markup")
        if method == "editMessageText":
            sent.parse_mode = p.str("parse_mode")
        self._wake()

    def _delete_message(self, p: _Params) -> bool:
        chat = self._chat_ref(p.raw("chat_id"))
        stored = self._message_ref(chat, p.raw("message_id"), "message to delete")
        may_delete = stored.from_bot or chat.type == "private"
        if not may_delete:
            self._require_right(chat, "can_delete_messages", "message can't be deleted")
        del chat.messages[stored.json["message_id"]]
        if stored.sent:
            stored.sent.deleted = True
        return True

    def _answer_callback_query(self, p: _Params) -> bool:
        query_id = p.str("callback_query_id") or ""
        if query_id not in self._callbacks or query_id in self.callback_answers:
            raise ApiError(400, QUERY_TOO_OLD)
        text = p.str("text") or ""
        if len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = {
            "text": text or None,
            "show_alert": p.bool("show_alert"),
            "url": p.str("url"),
            "cache_time": p.int("cache_time", 0),
        }
        self._wake()
        return True

    # ---------------------------------------------------------------- chats and members

    def _create_chat_invite_link(self, p: _Params) -> dict[str, Any]:
        chat = self._group_ref(p.raw("chat_id"))
        self._require_right(chat, "can_invite_users", "not enough rights to manage chat invite link")
        name = p.str("name")
        if name and len(name) > 32:
            raise bad_request("invite link name is too long")
        member_limit = max(p.int("member_limit", 0) or 0, 0)  # the real server clamps below 0 to 0
        if member_limit > MAX_INVITE_MEMBER_LIMIT:
            raise bad_request("USAGE_LIMIT_INVALID")
        join_request = p.bool("creates_join_request")
        if join_request and member_limit:
            raise bad_request("member limit can't be specified for links requiring administrator approval")
        link = InviteLink(
            link=self._unique_link(),
            chat_id=chat.id,
            creator=self.bot,
            name=name,
            expire_date=p.int("expire_date"),
            member_limit=member_limit or None,
            creates_join_request=join_request,
        )
        chat.invite_links[link.link] = link
        return link.to_json()

    def _unique_link(self) -> str:
        taken = {link for chat in self._chats.values() for link in chat.invite_links}
        while True:
            candidate = f"https://t.me/+{secrets.token_urlsafe(12)}"
            if candidate not in taken:
                return candidate

    def _revoke_chat_invite_link(self, p: _Params) -> dict[str, Any]:
        chat = self._group_ref(p.raw("chat_id"))
        self._require_right(chat, "can_invite_users", "not enough rights to manage chat invite link")
        link = chat.invite_links.get(p.str("invite_link") or "")
        if link is None:
            raise bad_request("INVITE_HASH_INVALID")
        link.is_revoked = True
        return link.to_json()

    def _get_chat(self, p: _Params) -> dict[str, Any]:
        chat = self._chat_ref(p.raw("chat_id"))
        data = {
            **chat.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if chat.type != "private":
            data["permissions"] = dict.fromkeys(MEMBER_PERMISSIONS, True)
        return data

    def _member_json(self, chat: EmuChat, user: EmuUser) -> dict[str, Any]:
        member = chat.members.get(user.id) or Member("left")
        return member_json(user, member, chat.type)

    def _get_chat_member(self, p: _Params) -> dict[str, Any]:
        chat = self._chat_ref(p.raw("chat_id"))
        user = self._user_ref(p.raw("user_id"))
        if chat.type == "private":
            return member_json(user, Member("member"), "private")
        return self._member_json(chat, user)

    def _get_chat_member_count(self, p: _Params) -> int:
        chat = self._chat_ref(p.raw("chat_id"))
        if chat.type == "private":
            return 2
        return sum(1 for m in chat.members.values() if m.status in IN_CHAT)

    def _get_chat_administrators(self, p: _Params) -> list[dict[str, Any]]:
        chat = self._chat_ref(p.raw("chat_id"))
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        admins = [uid for uid, m in chat.members.items() if m.status in ("creator", "administrator")]
        return [self._member_json(chat, self._any_user(uid)) for uid in admins]

    def _any_user(self, user_id: int) -> EmuUser:
        return self.bot if user_id == self.bot.id else self._users[user_id]

    def _moderated(self, p: _Params) -> tuple[EmuChat, EmuUser, Member]:
        """Chat, target and its current membership for ban/unban/restrict, after the rights checks."""
        chat = self._group_ref(p.raw("chat_id"))
        self._require_right(chat, "can_restrict_members", "not enough rights to restrict/unrestrict chat member")
        user = self._user_ref(p.raw("user_id"))
        member = chat.members.get(user.id) or Member("left")
        if member.status == "creator":
            raise bad_request("can't remove chat owner")
        if member.status == "administrator":
            raise bad_request("user is an administrator of the chat")
        return chat, user, member

    def _ban_chat_member(self, p: _Params) -> bool:
        chat, user, old = self._moderated(p)
        self._change_member(chat, user, Member("kicked", until_date=p.int("until_date", 0) or 0), actor=self.bot)
        if old.status in IN_CHAT:
            self._service_message(chat, self.bot, {"left_chat_member": user.to_json()})
        return True

    def _unban_chat_member(self, p: _Params) -> bool:
        chat, user, old = self._moderated(p)
        if old.status == "kicked" or (old.status in IN_CHAT and not p.bool("only_if_banned")):
            self._change_member(chat, user, Member("left"), actor=self.bot)
            if old.status in IN_CHAT:
                self._service_message(chat, self.bot, {"left_chat_member": user.to_json()})
        return True

    def _restrict_chat_member(self, p: _Params) -> bool:
        chat = self._group_ref(p.raw("chat_id"))
        if chat.type != "supergroup":
            raise bad_request("method is available only for supergroups")
        chat, user, old = self._moderated(p)
        permissions = p.json("permissions", "chat permissions JSON object")
        if not isinstance(permissions, dict):
            raise bad_request("can't parse chat permissions JSON object")
        rights = {name: bool(permissions.get(name)) for name in MEMBER_PERMISSIONS}
        in_chat = old.status in IN_CHAT
        if all(rights.values()):
            new = Member("member" if in_chat else "left")
        else:
            new = Member("restricted", rights, p.int("until_date", 0) or 0)
        new.invite_link = old.invite_link
        self._change_member(chat, user, new, actor=self.bot, in_chat=in_chat)
        return True

    def _leave_chat(self, p: _Params) -> bool:
        chat = self._chat_ref(p.raw("chat_id"))
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self._require_bot_member(chat)
        old = chat.members[self.bot.id]
        chat.members[self.bot.id] = Member("left")
        self._my_chat_member(chat, self.bot, old, chat.members[self.bot.id])
        return True

    # ---------------------------------------------------------------- commands

    @staticmethod
    def _scope_key(p: _Params) -> str:
        scope = p.json("scope", "BotCommandScope JSON object") or {"type": "default"}
        return json.dumps(scope, sort_keys=True)

    @staticmethod
    def _language(p: _Params) -> str:
        language = p.str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("LANG_CODE_INVALID")
        return language

    def _set_my_commands(self, p: _Params) -> bool:
        commands = p.json("commands", "list of bot commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse list of bot commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("command description must be non-empty")
        key = (self._scope_key(p), self._language(p))
        stored = [{"command": c["command"], "description": c["description"]} for c in commands]
        if stored:
            self._commands[key] = stored
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, p: _Params) -> list[dict[str, str]]:
        return copy.deepcopy(self._commands.get((self._scope_key(p), self._language(p)), []))

    def _delete_my_commands(self, p: _Params) -> bool:
        self._commands.pop((self._scope_key(p), self._language(p)), None)
        return True

    # ================================================================ test-side API

    def add_user(
        self,
        first_name: str,
        *,
        username: str | None = None,
        language_code: str | None = "fr",
        last_name: str | None = None,
        user_id: int | None = None,
        started: bool = False,
    ) -> EmuUser:
        """Create a user and their private chat with the bot.

        ``started=False`` (the default, as for a real newcomer): the bot cannot write to them
        until they send it something (:meth:`send_text` in private does that).
        """
        user = EmuUser(user_id or next(self._ids), first_name, username, language_code, last_name, started=started)
        self._users[user.id] = user
        self._chats[user.id] = EmuChat(user.id, "private", user=user)
        return user

    def add_group(
        self,
        title: str,
        *,
        owner: EmuUser | None = None,
        members: Sequence[EmuUser] = (),
        bot_rights: Mapping[str, bool] | None = DEFAULT_BOT_RIGHTS,
        supergroup: bool = False,
        username: str | None = None,
    ) -> EmuChat:
        """Create a group with the bot in it.

        ``bot_rights``: the bot is an administrator with these rights (missing ones are False);
        ``None`` makes it a plain member. ``owner`` defaults to a new user "<title> owner".
        No updates are queued: the group already exists when the test starts.
        """
        owner = owner or self.add_user(f"{title} owner")
        if supergroup:
            chat_id, kind = -next(self._supergroup_ids), "supergroup"
        else:
            chat_id, kind = -next(self._group_ids), "group"
        chat = EmuChat(chat_id, kind, title=title, username=username)
        chat.members[owner.id] = Member("creator")
        for user in members:
            chat.members.setdefault(user.id, Member("member"))
        chat.members[self.bot.id] = self._bot_member(bot_rights)
        self._chats[chat_id] = chat
        return chat

    @staticmethod
    def _bot_member(rights: Mapping[str, bool] | None) -> Member:
        if rights is None:
            return Member("member")
        return Member("administrator", {name: bool(rights.get(name)) for name in ADMIN_RIGHTS})

    def set_bot_rights(self, chat: EmuChat | int, rights: Mapping[str, bool] | None) -> None:
        """Promote or demote the bot (``None`` = plain member); queues ``my_chat_member``."""
        chat = self.chat(chat)
        old = chat.members.get(self.bot.id, Member("left"))
        chat.members[self.bot.id] = self._bot_member(rights)
        self._my_chat_member(chat, chat_owner(chat, self._users) or self.bot, old, chat.members[self.bot.id])

    def chat(self, chat: EmuChat | EmuUser | int) -> EmuChat:
        """The chat by object or id (a user stands for their private chat)."""
        chat_id = chat.id if isinstance(chat, EmuChat | EmuUser) else int(chat)
        if chat_id not in self._chats:
            raise EmulatorUsageError(f"no chat {chat_id}")
        return self._chats[chat_id]

    def user(self, user: EmuUser | int) -> EmuUser:
        user_id = user.id if isinstance(user, EmuUser) else int(user)
        if user_id not in self._users:
            raise EmulatorUsageError(f"no user {user_id}")
        return self._users[user_id]

    def send_text(
        self, user: EmuUser | int, text: str, chat: EmuChat | int | None = None, *, reply_to: Any = None
    ) -> dict[str, Any]:
        """The user sends ``text`` (privately unless ``chat``); returns the Message JSON.

        Commands get ``bot_command`` entities (``/start payload`` is a deep link); a private
        message marks the user as having started the bot and unblocks it. In a group, the bot
        gets the update only if privacy mode lets it (see module docstring).
        """
        content: dict[str, Any] = {"text": text}
        if entities := user_text_entities(text):
            content["entities"] = entities
        return self._user_message(user, chat, content, reply_to)

    def send_document(
        self, user: EmuUser | int, filename: str, content: bytes, mime_type: str | None = None,
        chat: EmuChat | int | None = None,
    ) -> dict[str, Any]:
        """The user sends a file (an organizer's .ics calendar); the bot can getFile and download it."""
        upload = self._new_file(filename, content, mime_type)
        self.files[upload.file_id] = upload
        return self._user_message(user, chat, {"document": self._document_json(upload)}, None)

    def share_location(
        self,
        user: EmuUser | int,
        latitude: float,
        longitude: float,
        chat: EmuChat | int | None = None,
        *,
        live_period: int | None = None,
    ) -> dict[str, Any]:
        """The user shares a location (a live one with ``live_period`` seconds)."""
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if live_period:
            location["live_period"] = live_period
        return self._user_message(user, chat, {"location": location}, None)

    def _user_message(
        self, user: EmuUser | int, chat: EmuChat | int | None, content: dict[str, Any], reply_to: Any
    ) -> dict[str, Any]:
        sender = self.user(user)
        target = self.chat(chat if chat is not None else sender)
        self._require_user_in(target, sender)
        if target.type == "private":
            sender.started, sender.blocked = True, False
        if reply_to is not None:
            content = {"reply_to_message": copy.deepcopy(self._stored(reply_to).json), **content}
        stored = self._new_message(target, sender, content, from_bot=False)
        if self._bot_receives(target, stored.json):
            self._push_update("message", copy.deepcopy(stored.json))
        return copy.deepcopy(stored.json)

    def _require_user_in(self, chat: EmuChat, user: EmuUser) -> None:
        if chat.type == "private":
            if chat.id != user.id:
                raise EmulatorUsageError(f"user {user.id} cannot write in the private chat of {chat.id}")
        elif chat.migrated_to is not None:
            raise EmulatorUsageError(f"group {chat.id} was migrated to {chat.migrated_to}")
        elif chat.status_of(user.id) not in IN_CHAT:
            raise EmulatorUsageError(f"user {user.id} is not a member of chat {chat.id}")

    def _bot_receives(self, chat: EmuChat, message: dict[str, Any]) -> bool:
        """Telegram's privacy mode: in groups, plain chatter reaches only admin or non-private bots."""
        if chat.type == "private":
            return True
        bot_status = chat.status_of(self.bot.id)
        if bot_status not in IN_CHAT:
            return False
        if not self.privacy_mode or bot_status in ("creator", "administrator"):
            return True
        text = message.get("text", "")
        replied = message.get("reply_to_message", {}).get("from", {}).get("id")
        mentioned = f"@{self.bot.username}".lower() in text.lower()
        return text.startswith("/") or replied == self.bot.id or mentioned

    def edit_text(self, user: EmuUser | int, message: Any, text: str) -> dict[str, Any]:
        """The user edits their own message; queues ``edited_message``."""
        sender = self.user(user)
        stored = self._stored(message)
        if stored.json.get("from", {}).get("id") != sender.id:
            raise EmulatorUsageError("users can only edit their own messages")
        stored.json["text"] = text
        stored.json.pop("entities", None)
        if entities := user_text_entities(text):
            stored.json["entities"] = entities
        stored.json["edit_date"] = int(time.time())
        chat = self.chat(stored.json["chat"]["id"])
        if self._bot_receives(chat, stored.json):
            self._push_update("edited_message", copy.deepcopy(stored.json))
        return copy.deepcopy(stored.json)

    def press(self, user: EmuUser | int, message: Any, callback_data: str) -> str:
        """The user presses the inline button with ``callback_data``; returns the callback query id."""
        presser = self.user(user)
        stored = self._stored(message)
        buttons = stored.json.get("reply_markup", {}).get("inline_keyboard", [])
        if callback_data not in [b.get("callback_data") for row in buttons for b in row]:
            raise EmulatorUsageError(f"no button with callback_data {callback_data!r} on that message")
        query_id = str(next(self._ids) * 7_919)
        chat_id = stored.json["chat"]["id"]
        self._callbacks[query_id] = (chat_id, stored.json["message_id"])
        self._push_update(
            "callback_query",
            {
                "id": query_id,
                "from": presser.to_json(),
                "message": copy.deepcopy(stored.json),
                "chat_instance": str(abs(chat_id) * 31 + self.bot.id),
                "data": callback_data,
            },
        )
        return query_id

    def react(self, user: EmuUser | int, message: Any, emoji: str | None) -> dict[str, Any] | None:
        """The user sets (or, with ``None``, removes) a reaction; queues ``message_reaction``.

        Arrives only if ``message_reaction`` is in allowed_updates and, in groups, the bot is
        an administrator. Returns the update payload or ``None`` when it was not delivered.
        """
        reactor = self.user(user)
        stored = self._stored(message)
        chat = self.chat(stored.json["chat"]["id"])
        key = (chat.id, stored.json["message_id"], reactor.id)
        old = self._reactions.get(key, [])
        new = [{"type": "emoji", "emoji": emoji}] if emoji else []
        self._reactions[key] = new
        if chat.type != "private" and chat.status_of(self.bot.id) not in ("creator", "administrator"):
            return None
        payload = {
            "chat": chat.to_json(),
            "message_id": stored.json["message_id"],
            "user": reactor.to_json(),
            "date": int(time.time()),
            "old_reaction": old,
            "new_reaction": new,
        }
        return payload if self._push_update("message_reaction", payload) else None

    def join(self, chat: EmuChat | int, user: EmuUser | int, invite_link: str | None = None) -> dict[str, Any]:
        """The user joins ``chat`` (through ``invite_link`` if given); returns the service message.

        Enforces what Telegram enforces on the link (revoked, expired, member limit — counted
        as current members who joined through it) and refuses banned users with
        :class:`JoinRefused`. Queues a ``chat_member`` update (with ``invite_link``) when the bot
        is an administrator and a ``new_chat_members`` service message.
        """
        group, joiner = self.chat(chat), self.user(user)
        if group.type == "private" or group.migrated_to is not None:
            raise EmulatorUsageError("users can only join active groups")
        status = group.status_of(joiner.id)
        if status in IN_CHAT:
            raise EmulatorUsageError(f"user {joiner.id} is already in chat {group.id}")
        if status == "kicked":
            raise JoinRefused("USER_BANNED_IN_CHANNEL")
        link = self._usable_link(group, invite_link) if invite_link else None
        if link:
            link.joins += 1
        new = Member("member", invite_link=link.link if link else None)
        self._change_member(group, joiner, new, actor=joiner, link=link)
        return self._service_message(group, joiner, {"new_chat_members": [joiner.to_json()]})

    def _usable_link(self, chat: EmuChat, invite_link: str) -> InviteLink:
        link = chat.invite_links.get(invite_link)
        if link is None:
            raise JoinRefused("INVITE_HASH_INVALID")
        if link.is_revoked or (link.expire_date and link.expire_date <= time.time()):
            raise JoinRefused("INVITE_HASH_EXPIRED")
        if link.creates_join_request:
            raise EmulatorUsageError("join requests are not emulated")
        in_chat_via_link = sum(1 for m in chat.members.values() if m.status in IN_CHAT and m.invite_link == link.link)
        if link.member_limit and in_chat_via_link >= link.member_limit:
            raise JoinRefused("USERS_TOO_MUCH")
        return link

    def leave(self, chat: EmuChat | int, user: EmuUser | int) -> dict[str, Any]:
        """The user leaves; queues ``chat_member`` (bot admin) and a ``left_chat_member`` message."""
        group, leaver = self.chat(chat), self.user(user)
        if group.status_of(leaver.id) not in IN_CHAT:
            raise EmulatorUsageError(f"user {leaver.id} is not in chat {group.id}")
        self._change_member(group, leaver, Member("left"), actor=leaver)
        return self._service_message(group, leaver, {"left_chat_member": leaver.to_json()})

    def _change_member(
        self,
        chat: EmuChat,
        user: EmuUser,
        new: Member,
        *,
        actor: EmuUser,
        link: InviteLink | None = None,
        in_chat: bool = True,
    ) -> None:
        """Apply a membership change and queue ``chat_member`` if the bot may see it."""
        old = chat.members.get(user.id) or Member("left")
        chat.members[user.id] = new
        if chat.status_of(self.bot.id) not in ("creator", "administrator"):
            return
        payload = self._member_update(chat, actor, user, old, new)
        if new.status == "restricted":
            payload["new_chat_member"]["is_member"] = in_chat
        if old.status == "restricted":
            payload["old_chat_member"]["is_member"] = in_chat
        if link is not None:
            payload["invite_link"] = link.to_json()
        self._push_update("chat_member", payload)

    def _member_update(self, chat: EmuChat, actor: EmuUser, user: EmuUser, old: Member, new: Member) -> dict[str, Any]:
        return {
            "chat": chat.to_json(),
            "from": actor.to_json(),
            "date": int(time.time()),
            "old_chat_member": member_json(user, old, chat.type),
            "new_chat_member": member_json(user, new, chat.type),
        }

    def _my_chat_member(self, chat: EmuChat, actor: EmuUser, old: Member, new: Member) -> None:
        self._push_update("my_chat_member", self._member_update(chat, actor, self.bot, old, new))

    def _service_message(self, chat: EmuChat, sender: EmuUser, content: dict[str, Any]) -> dict[str, Any]:
        """Service messages reach every bot that is in the chat, privacy mode or not."""
        stored = self._new_message(chat, sender, content, from_bot=sender.id == self.bot.id)
        if chat.status_of(self.bot.id) in IN_CHAT and sender.id != self.bot.id:
            self._push_update("message", copy.deepcopy(stored.json))
        return copy.deepcopy(stored.json)

    def migrate(self, group: EmuChat | int) -> EmuChat:
        """Upgrade a basic group to a supergroup, as Telegram does on many group changes.

        Queues the ``migrate_to_chat_id`` message in the old group and the
        ``migrate_from_chat_id`` message in the new one; afterwards sends to the old id answer
        400 with ``parameters.migrate_to_chat_id`` (PTB raises ``ChatMigrated``).
        """
        old = self.chat(group)
        if old.type != "group" or old.migrated_to is not None:
            raise EmulatorUsageError("only an active basic group can be migrated")
        new = EmuChat(-next(self._supergroup_ids), "supergroup", title=old.title, username=old.username)
        new.members = copy.deepcopy(old.members)
        new.invite_links = old.invite_links
        for link in new.invite_links.values():
            link.chat_id = new.id
        self._chats[new.id] = new
        owner = chat_owner(old, self._users) or self.bot
        self._service_message(old, owner, {"migrate_to_chat_id": new.id})
        old.migrated_to = new.id
        self._service_message(new, owner, {"migrate_from_chat_id": old.id})
        return new

    def block(self, user: EmuUser | int) -> None:
        """The user blocks the bot: sends to them answer 403; queues ``my_chat_member`` (kicked)."""
        self._set_blocked(self.user(user), True)

    def unblock(self, user: EmuUser | int) -> None:
        """The user restarts the bot after blocking it; queues ``my_chat_member`` (member)."""
        self._set_blocked(self.user(user), False)

    def _set_blocked(self, user: EmuUser, blocked: bool) -> None:
        user.blocked = blocked
        user.started = user.started or not blocked
        member, kicked = Member("member"), Member("kicked")
        old, new = (member, kicked) if blocked else (kicked, member)
        self._my_chat_member(self._chats[user.id], user, old, new)

    def _stored(self, message: Any) -> StoredMessage:
        """Accepts a SentMessage, a Message JSON dict or a ``(chat_id, message_id)`` pair."""
        if isinstance(message, SentMessage):
            chat_id, message_id = message.chat_id, message.message_id
        elif isinstance(message, dict):
            chat_id, message_id = message["chat"]["id"], message["message_id"]
        else:
            chat_id, message_id = message
        stored = self.chat(chat_id).messages.get(message_id)
        if stored is None:
            raise EmulatorUsageError(f"no message {message_id} in chat {chat_id} (deleted?)")
        return stored

    # ---------------------------------------------------------------- inspection

    def sent(self, chat_id: EmuChat | EmuUser | int) -> list[SentMessage]:
        """What the bot sent to one chat, in order (deleted ones included, flagged)."""
        wanted = chat_id.id if isinstance(chat_id, EmuChat | EmuUser) else int(chat_id)
        return [m for m in self._sent if m.chat_id == wanted]

    def all_sent(self) -> list[SentMessage]:
        """Everything the bot sent, in order."""
        return list(self._sent)

    def calls(self, method: str) -> list[RequestRecord]:
        """The logged requests for one method (case-insensitive)."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a later ``getUpdates`` offset."""
        return copy.deepcopy(self._queue)

    def commands(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[dict[str, str]]:
        """The commands the bot set for ``scope`` (default scope if None) and language."""
        key = (json.dumps(dict(scope or {"type": "default"}), sort_keys=True), language_code)
        return copy.deepcopy(self._commands.get(key, []))

    @property
    def too_many_requests(self) -> int:
        """How many 429 answers the bot received."""
        return len(self.rate_limited)

    async def wait_for_sent(
        self, chat_id: EmuChat | EmuUser | int | None = None, count: int = 1, timeout: float = 5.0
    ) -> list[SentMessage]:
        """Wait until the bot has sent ``count`` messages (to ``chat_id``, or anywhere)."""
        deadline = time.monotonic() + timeout
        while True:
            if chat_id is None and len(self._sent) < count:  # the common wait, without copying the log
                sent = self._sent
            else:
                sent = self.all_sent() if chat_id is None else self.sent(chat_id)
            if len(sent) >= count:
                return sent
            if time.monotonic() >= deadline:
                raise TimeoutError(f"bot sent {len(sent)} of {count} expected messages in {timeout}s")
            await self._wait_change(deadline - time.monotonic())

    async def wait_until_consumed(self, timeout: float = 5.0) -> None:
        """Wait until the bot has confirmed every queued update (its next poll moved the offset)."""
        deadline = time.monotonic() + timeout
        while self._queue:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(self._queue)} updates still pending after {timeout}s")
            await self._wait_change(min(0.05, deadline - time.monotonic()))

    # ---------------------------------------------------------------- trouble injection

    def fail_next(
        self,
        method: str,
        status: int = 500,
        description: str | None = None,
        count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error instead of running them.

        429 always carries ``parameters.retry_after`` (default 1) and "Too Many Requests: retry
        after N"; other statuses get Telegram-like default descriptions. PTB maps 400 → BadRequest,
        403 → Forbidden, 409 → Conflict, 5xx → NetworkError.
        """
        text = description or _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
        fault = _Fault(status, text, count, retry_after)
        self._faults.setdefault(method.lower(), deque()).append(fault)

    def delay_next(self, method: str, seconds: float, count: int = 1, apply: bool = True) -> None:
        """Hold the answer to the next ``count`` calls of ``method`` for ``seconds``.

        ``apply=True`` (default): the call still takes effect after the delay, as when Telegram
        got the request but the answer was slow — a client that timed out and retries sends twice.
        ``apply=False``: nothing happens and the (late) answer is 504.
        """
        self._delays.setdefault(method.lower(), deque()).append(_Delay(seconds, count, apply))


def chat_owner(chat: EmuChat, users: Mapping[int, EmuUser]) -> EmuUser | None:
    for user_id, member in chat.members.items():
        if member.status == "creator" and user_id in users:
            return users[user_id]
    return None


def member_json(user: EmuUser, member: Member, chat_type: str) -> dict[str, Any]:
    """A ChatMember in the shape of its status (the fields PTB 22.8 requires for each)."""
    data: dict[str, Any] = {"status": member.status, "user": user.to_json()}
    if member.status == "creator":
        data["is_anonymous"] = False
    elif member.status == "administrator":
        data.update(can_be_edited=False, is_anonymous=False)
        data.update({name: bool(member.rights.get(name)) for name in ADMIN_RIGHTS})
        if chat_type != "supergroup":
            data.pop("can_manage_topics")
    elif member.status == "restricted":
        data["is_member"] = True
        data.update({name: bool(member.rights.get(name)) for name in MEMBER_PERMISSIONS})
        data["until_date"] = member.until_date
    elif member.status == "kicked":
        data["until_date"] = member.until_date
    return data
