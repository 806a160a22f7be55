"""Talk to the bot in a terminal, as several neighbours, without any account.

The console is a tiny chat platform of its own: each persona has a private chat with the bot, and the
bot can create circle rooms and invite personas into them. Its state (who is in which room) is kept in
a JSON file beside the database, like a real server would keep it, so a restart finds the rooms again.

Lines typed:
  /as NAME        speak as NAME from now on (a new neighbour the first time)
  /room           write in your circle's room        /dm   back to the private chat with the bot
  /where LAT LON  share a location                   /who  who is here, and in which rooms
  /file PATH      send a file (an organizer's .ics calendar)
  /clock +11d     move time forward (console only), e.g. to see a check-in through
  /quit           leave (Ctrl-D too)
Anything else goes to the bot: text, a /command, or the number of a choice.
It works the same with a script on standard input, which is how the tests drive it.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from adapters.base import Adapter
from bot.core.app import Core
from bot.core.chat import (
    Address,
    Body,
    Capabilities,
    CommandIn,
    Delivered,
    FileIn,
    FileTooBig,
    Incoming,
    InviteResult,
    LocationIn,
    Outgoing,
    RoomSpec,
    Sender,
    SendResult,
    TextIn,
    Undeliverable,
    numbered,
)
from bot.core.i18n import Translator

_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """What a terminal can show of the HTML subset the core writes."""
    return html.unescape(_TAG.sub("", text))


@dataclass
class ConsoleState:
    """The console platform's own memory: rooms and their members, saved as JSON."""

    path: Path | None
    rooms: dict[str, dict] = field(default_factory=dict)  # room id -> {"name": str, "members": [names]}
    clock_offset: float = 0.0  # seconds /clock moved time forward: kept, so a restart does not go back

    @classmethod
    def load(cls, path: Path | None) -> ConsoleState:
        if path and path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            return cls(path, saved.get("rooms", {}), float(saved.get("clock_offset", 0.0)))
        return cls(path)

    def save(self) -> None:
        if self.path:
            saved = {"rooms": self.rooms, "clock_offset": self.clock_offset}
            self.path.write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")

    def room_of(self, persona: str) -> str | None:
        return next((rid for rid, room in self.rooms.items() if persona in room["members"]), None)


class ConsoleAdapter(Adapter):
    platform = "console"
    # move_clock: someone trying the bot may type /clock +11d to see a check-in through (bot.checkins.rounds).
    capabilities = Capabilities(buttons=False, create_rooms=True, invite_links=False, max_text=4096, move_clock=True)
    idempotent_sends = True

    def __init__(
        self, state: ConsoleState, t: Translator, out: TextIO = sys.stdout, exports: Path = Path("exports")
    ) -> None:
        self.state = state
        self.t = t  # the console's own words (not the bot's), in the deployment's language
        self.out = out
        self.exports = exports
        self.persona = "alice"
        self.in_room = False
        self._delivered: set[str] = set()
        self._ids = itertools.count(1)

    # ---- delivering (called by the core's outbox worker) -------------------------------------

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        if idempotency_key in self._delivered:
            return Delivered()
        self._delivered.add(idempotency_key)
        if message.chat_id.startswith("dm:"):
            self._show_private(message.chat_id[3:], message)
        elif message.chat_id in self.state.rooms:
            self._show_room(message.chat_id, plain(message.text), author="")
        else:
            return Undeliverable("no such chat")
        return Delivered()

    async def create_room(self, spec: RoomSpec) -> str:
        room_id = f"room:{spec.circle_id}"
        self.state.rooms.setdefault(room_id, {"name": spec.name, "members": []})
        self.state.save()
        return room_id

    async def remove_member(self, room_id: str, user_id: str, *, ban: bool = False) -> SendResult:
        room = self.state.rooms.get(room_id)
        if room is not None and user_id in room["members"]:
            room["members"].remove(user_id)
            self.state.save()
            self._say(self._words("console-left-room", user=user_id, room=room["name"]))
            if self.persona == user_id:
                self.in_room = False
        return Delivered()

    async def invite(self, room_id: str, user_id: str, *, idempotency_key: str) -> InviteResult:
        room = self.state.rooms.get(room_id)
        if room is None:
            return InviteResult(Undeliverable("room gone"))
        if user_id not in room["members"]:
            room["members"].append(user_id)
            self.state.save()
            self._say(self._words("console-joined-room", user=user_id, room=room["name"]))
        return InviteResult(Delivered())

    # ---- showing ------------------------------------------------------------------------------

    def _show_private(self, persona: str, message: Outgoing) -> None:
        lines = plain(message.text).splitlines() or [""]
        self._say(f"[bot → {persona}] {lines[0]}")
        for line in lines[1:]:
            self._say(f"    {line}")
        for number, choice in enumerate(message.choices, 1):
            self._say(f"    {numbered(choice.number or number, plain(choice.label))}")
        if message.attachment:
            self.exports.mkdir(parents=True, exist_ok=True)
            path = self.exports / message.attachment.filename
            path.write_bytes(message.attachment.data)
            self._say(f"    📎 {path}")

    def _show_room(self, room_id: str, text: str, author: str) -> None:
        room = self.state.rooms[room_id]
        readers = [m for m in room["members"] if m != author]
        seen = self._words("console-seen-by", names=", ".join(readers)) if readers else ""
        who = f"{author}: " if author else "bot: "
        self._say(f"[{room['name']}] {who}{text}{seen}")

    def _words(self, key: str, **values: str) -> str:
        """The console's own sentences, from the catalogue like everything else, as plain text."""
        return plain(self.t(key, **values))

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    # ---- typing -------------------------------------------------------------------------------

    def prompt(self) -> str:
        where = self.state.rooms.get(self.state.room_of(self.persona) or "", {}).get("name") if self.in_room else None
        return f"{self.persona}@{where or 'bot'}> "

    def parse(self, line: str) -> Incoming | str | None:
        """A typed line: a console instruction (handled here, returns its answer), or an event."""
        line = line.strip()
        if not line:
            return None
        word, _, rest = line.partition(" ")
        if word == "/as":
            return self._switch(rest)
        if word == "/room":
            if not self.state.room_of(self.persona):
                return self._words("console-not-in-circle", name=self.persona)
            self.in_room = True
            return None
        if word == "/dm":
            self.in_room = False
            return None
        if word == "/who":
            return self._who()
        if word == "/where":
            return self._location(rest)
        if word == "/file":
            return self._file(rest)
        if line.startswith("/"):
            return self._event(CommandIn(word[1:].split("@")[0].lower(), rest.strip()))
        return self._event(TextIn(line))

    def _switch(self, name: str) -> str:
        name = re.sub(r"[^\w-]", "", name.strip().lower())[:32]
        if not name:
            return self._words("console-as-usage")
        self.persona, self.in_room = name, False
        return self._words("console-now-you-are", name=name)

    def _who(self) -> str:
        rooms = [f"{room['name']}: {', '.join(room['members'])}" for room in self.state.rooms.values()]
        return "(" + ("; ".join(rooms) if rooms else self._words("console-no-circles")) + ")"

    def _location(self, rest: str) -> Incoming | str:
        try:
            lat, lon = (float(x) for x in rest.replace(",", " ").split())
        except ValueError:
            return self._words("console-where-usage")
        return self._event(LocationIn(lat, lon))

    def _file(self, rest: str) -> Incoming | str:
        path = Path(rest.strip()).expanduser()
        if not rest.strip() or not path.is_file():
            return self._words("console-file-usage")
        mime = "text/calendar" if path.suffix.lower() == ".ics" else ""
        return self._event(FileIn(str(path.resolve()), path.name, mime, path.stat().st_size))

    async def fetch_file(self, ref: str, max_bytes: int) -> bytes:
        """The console's "platform" keeps files where they are on disk."""
        path = Path(ref)
        if path.stat().st_size > max_bytes:
            raise FileTooBig(ref)
        return path.read_bytes()

    def _event(self, body: Body) -> Incoming:
        room = self.state.room_of(self.persona) if self.in_room else None
        if room and isinstance(body, TextIn):
            self._show_room(room, body.text, author=self.persona)
        address = Address(self.platform, room or f"dm:{self.persona}", self.persona, private=room is None)
        sender = Sender(first_name=self.persona.capitalize())
        return Incoming(address, body, sender, external_id=f"{time.time_ns()}-{next(self._ids)}")


async def run_console(core: Core, adapter: ConsoleAdapter, lines: TextIO = sys.stdin) -> None:
    """Read lines until end of input; each one is handled and answered before the next prompt."""
    interactive = lines.isatty()
    adapter._say(adapter._words("console-banner"))
    loop = asyncio.get_running_loop()
    while True:
        if interactive:
            adapter.out.write(adapter.prompt())
            adapter.out.flush()
        line = await loop.run_in_executor(None, lines.readline)
        if not line or line.strip() in ("/quit", "/exit"):
            return
        if not interactive:
            adapter._say(f"{adapter.prompt()}{line.rstrip()}")
        parsed = adapter.parse(line)
        if isinstance(parsed, str):
            adapter._say(parsed)
        elif parsed is not None:
            await core.receive(parsed)
            await core.settle()  # a /clock typed: its answer first, then what the passes do at the new time
        await core.scheduler.tick()
        await core.settle()
        offset = getattr(core.clock, "offset", None)
        if offset is not None and offset.total_seconds() != adapter.state.clock_offset:
            adapter.state.clock_offset = offset.total_seconds()
            adapter.state.save()
