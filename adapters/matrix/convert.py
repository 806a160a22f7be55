"""Matrix events (the raw JSON of a sync timeline) → ``bot.core.chat.Incoming``.

Pure functions over the event dicts, so they are tested without a homeserver. The adapter gives each
event its room's context (``RoomView``): whether it is the bot's private chat with one person, and
which of the bot's messages last offered choices (for reactions used as answers).

What becomes what:
- ``m.text`` / ``m.emote`` messages → ``TextIn``, or ``CommandIn`` when they start with "/";
  ``m.location`` → ``LocationIn``. Notices (other bots), edits, files and the bot's own events → nothing.
- In the private chat, a keycap reaction ("2️⃣") on the bot's latest message with choices → ``TextIn("2")``,
  which the core maps to the choice exactly like a typed "2".
- Membership in other rooms: joined → ``JoinedIn``; left, kicked or banned after being in → ``LeftIn``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.matrix.render import keycap_number
from bot.core.chat import Address, Body, CommandIn, FileIn, Incoming, JoinedIn, LeftIn, LocationIn, Sender, TextIn

Event = dict[str, Any]
_GEO = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class RoomView:
    room_id: str
    private: bool
    choices_event: str | None = None
    display_name: Callable[[str], str | None] = lambda _user: None


def convert(event: Event, room: RoomView, bot_user_id: str, platform: str = "matrix") -> Incoming | None:
    sender = event.get("sender", "")
    event_id = event.get("event_id", "")
    if not event_id or not sender or sender == bot_user_id:
        return None
    kind = event.get("type")
    if kind == "m.room.message":
        body = message_body(event.get("content") or {})
    elif kind == "m.reaction":
        body = reaction_body(event.get("content") or {}, room)
    elif kind == "m.room.member" and not room.private:
        body = membership_body(event, bot_user_id)
        sender = event.get("state_key") or sender  # the person who joined or left, not who kicked
    else:
        body = None
    if body is None:
        return None
    return Incoming(
        Address(platform, room.room_id, sender, private=room.private),
        body,
        Sender(first_name=first_name(room.display_name(sender), sender)),
        external_id=event_id,
    )


def message_body(content: dict[str, Any]) -> Body | None:
    relates = content.get("m.relates_to") or {}
    if relates.get("rel_type") == "m.replace":
        return None  # an edit: the original was already handled
    msgtype = content.get("msgtype")
    text = content.get("body")
    if not isinstance(text, str):
        return None
    if msgtype == "m.location":
        match = _GEO.match(content.get("geo_uri") or "")
        return LocationIn(float(match.group(1)), float(match.group(2))) if match else None
    if msgtype == "m.file" and isinstance(content.get("url"), str):
        info = content.get("info") or {}
        return FileIn(content["url"], content.get("filename") or text, str(info.get("mimetype") or ""),
                      int(info.get("size") or 0))
    if msgtype not in ("m.text", "m.emote"):
        return None
    text = strip_reply_fallback(text) if relates.get("m.in_reply_to") else text
    return command_or_text(text)


def command_or_text(text: str) -> Body | None:
    stripped = text.strip()
    if not stripped:
        return None
    if stripped.startswith("/") and len(stripped) > 1 and not stripped.startswith("//"):
        head, _, args = stripped[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        if name:
            return CommandIn(name, args.strip())
    return TextIn(stripped)


def strip_reply_fallback(text: str) -> str:
    """A reply's body starts with the quoted message ("> <@bob:hs> …" lines, then a blank line)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i and i < len(lines) and lines[i] == "":
        i += 1
    return "\n".join(lines[i:]) if i else text


def reaction_body(content: dict[str, Any], room: RoomView) -> Body | None:
    relates = content.get("m.relates_to") or {}
    if not room.private or relates.get("rel_type") != "m.annotation":
        return None
    if room.choices_event is None or relates.get("event_id") != room.choices_event:
        return None  # only the latest question may be answered this way
    number = keycap_number(relates.get("key") or "")
    return TextIn(str(number)) if number else None


def membership(event: Event) -> tuple[str, str]:
    """(membership now, membership before) of an ``m.room.member`` event."""
    now = (event.get("content") or {}).get("membership", "")
    before = ((event.get("unsigned") or {}).get("prev_content") or {}).get("membership", "")
    return now, before


def membership_body(event: Event, bot_user_id: str) -> Body | None:
    target = event.get("state_key")
    if not target or target == bot_user_id:
        return None
    now, before = membership(event)
    if now == "join" and before != "join":
        return JoinedIn()
    if now in ("leave", "ban") and before == "join":
        return LeftIn(removed_by_admin=event.get("sender") != target)
    return None


def is_own_join(event: Event, bot_user_id: str) -> bool:
    if event.get("type") != "m.room.member" or event.get("state_key") != bot_user_id:
        return False
    now, before = membership(event)
    return now == "join" and before != "join"


def is_own_departure(event: Event, bot_user_id: str) -> bool:
    return event.get("type") == "m.room.member" and event.get("state_key") == bot_user_id and membership(
        event
    )[0] in ("leave", "ban")


def first_name(display_name: str | None, user_id: str) -> str:
    """Only a first name is kept: the display name's first word, else the id's localpart."""
    name = (display_name or "").strip() or user_id.removeprefix("@").split(":", 1)[0]
    return name.split()[0][:64] if name.split() else ""
