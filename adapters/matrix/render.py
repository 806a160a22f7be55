"""``Outgoing`` → Matrix event content: an ``m.notice`` with a plain-text ``body`` and an HTML
``formatted_body``.

The core's text is already safe HTML (the Telegram subset: b, i, a, code, with every user value
escaped). Matrix clients show ``formatted_body`` and fall back to ``body``, so both are sent: the HTML
with line breaks as ``<br>``, the plain text with the tags taken out. Matrix has no buttons: choices
become numbered lines, and a typed "2" (or the label) is mapped back by the core's offered-choices table.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

from bot.core.chat import Outgoing, numbered

MSGTYPE = "m.notice"  # bot messages: clients and other bots treat them as non-conversational
# Synapse refuses events over 65,536 bytes; body and formatted_body both carry the text.
MAX_EVENT_BYTES = 60_000
KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")


class _PlainText(HTMLParser):
    """The text of the Telegram HTML subset; a link whose label differs from its target keeps both."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: str | None = None
        self._label: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._label = []
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            label = "".join(self._label)
            self.parts.append(label if not self._href or self._href == label else f"{label} ({self._href})")
            self._href = None

    def handle_data(self, data: str) -> None:
        (self._label if self._href is not None else self.parts).append(data)


def plain_text(safe_html: str) -> str:
    parser = _PlainText()
    parser.feed(safe_html)
    parser.close()
    return "".join(parser.parts)


def _as_html(safe_html: str) -> str:
    return safe_html.replace("\n", "<br>")


def content(message: Outgoing) -> dict[str, str]:
    """The ``m.room.message`` content for one outgoing message."""
    text = str(message.text)
    plain, formatted = plain_text(text), _as_html(text)
    if message.choices:
        lines = [numbered(c.number or i, c.label) for i, c in enumerate(message.choices, 1)]
        plain += "\n\n" + "\n".join(lines)
        formatted += "<br><br>" + "<br>".join(html.escape(line, quote=False) for line in lines)
    body = {"msgtype": MSGTYPE, "body": plain, "format": "org.matrix.custom.html", "formatted_body": formatted}
    if len(json.dumps(body, ensure_ascii=False).encode()) > MAX_EVENT_BYTES:
        # The core keeps texts far shorter (Capabilities.max_text); this is the last guard.
        cut = MAX_EVENT_BYTES // 8
        body = {"msgtype": MSGTYPE, "body": plain[:cut] + "…"}
    return body


def room_name(localized: str) -> str:
    """Room names and topics are plain text: the catalogue's escaping is undone, tags removed."""
    return re.sub(r"\s+", " ", plain_text(localized)).strip()


def keycap_number(key: str) -> int | None:
    """"2️⃣" → 2 (also without the variation selector), for reactions used as answers."""
    normalised = key.replace("\ufe0f", "")
    for number, cap in enumerate(KEYCAPS, 1):
        if normalised == cap.replace("\ufe0f", ""):
            return number
    return None
