"""Outgoing → what ``sendMessage`` takes: HTML parts of at most 4096 characters and a keyboard.

The core's text is already safe HTML of Telegram's subset (values escaped by the catalogue), so this
module never escapes again; it only cuts. A long text is cut at a blank line, else at a line end, else
at a space, and any tag open at the cut is closed at the end of one part and opened again at the start
of the next, so each part is valid HTML on its own. Lengths are counted the way Telegram counts them:
in UTF-16 code units of the visible text, after entities such as ``&amp;`` are decoded.

Pure functions: tested without a network.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.chat import Choice, Outgoing

MAX_TEXT = 4096
MAX_CAPTION = 1024
_TOKEN = re.compile(r"<[^>]*>|&(?:[a-zA-Z]{2,8}|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});|[^<&]|[<&]")
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9-]+)")


@dataclass(frozen=True)
class Part:
    text: str
    keyboard: InlineKeyboardMarkup | None = None
    html: bool = True  # False only for the plain-text fallback after Telegram refused our markup


def units(text: str) -> int:
    """Telegram's length: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def plain(text: str) -> str:
    """The visible text of our HTML, for a fallback send without parse mode."""
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def keyboard(choices: tuple[Choice, ...]) -> InlineKeyboardMarkup | None:
    """One button a row (big targets for older thumbs); two a row when there are many short ones."""
    if not choices:
        return None
    buttons = [InlineKeyboardButton(plain(c.label)[:64] or "·", callback_data=c.payload) for c in choices]
    if len(buttons) > 6 and all(units(b.text) <= 18 for b in buttons):
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    else:
        rows = [[b] for b in buttons]
    return InlineKeyboardMarkup(rows)


def render(message: Outgoing, limit: int = MAX_TEXT) -> list[Part]:
    """The parts to send, in order; the keyboard goes under the last one, where the question is."""
    texts = split_html(str(message.text), limit) or ["·"]
    markup = keyboard(message.choices)
    return [Part(text, markup if i == len(texts) - 1 else None) for i, text in enumerate(texts)]


# ---- splitting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tok:
    raw: str
    visible: int  # UTF-16 units this token shows (0 for tags)
    tag: str = ""  # tag name for tags
    closing: bool = False


def _tokens(text: str) -> list[_Tok]:
    found = []
    for match in _TOKEN.finditer(text):
        raw = match.group()
        tag = _TAG.match(raw) if raw.startswith("<") and raw.endswith(">") and len(raw) > 2 else None
        if tag:
            found.append(_Tok(raw, 0, tag.group(2).lower(), bool(tag.group(1))))
        else:
            found.append(_Tok(raw, units(html.unescape(raw))))
    return found


def _apply(stack: list[_Tok], tok: _Tok) -> None:
    if not tok.tag:
        return
    if not tok.closing:
        stack.append(tok)
    elif stack and stack[-1].tag == tok.tag:
        stack.pop()


def _fit(tokens: list[_Tok], start: int, stack: list[_Tok], limit: int) -> tuple[int, list[_Tok]]:
    """Where the part starting at ``start`` should end, and the tags open there."""
    stack = list(stack)
    room = limit
    used = 0
    best: dict[int, _Break] = {}  # priority (2 blank line, 1 line end, 0 space) -> where
    for i in range(start, len(tokens)):
        tok = tokens[i]
        if tok.visible and used + tok.visible > room:
            return _choose(best, i, stack, limit)
        used += tok.visible
        _apply(stack, tok)
        if tok.raw == "\n":
            previous_newline = best.get(1)
            blank = previous_newline is not None and previous_newline[0] == i
            best[2 if blank else 1] = (i + 1, list(stack), used)
        elif tok.raw == " ":
            best[0] = (i + 1, list(stack), used)
    return len(tokens), stack


_Break = tuple[int, list[_Tok], int]  # token index after the break, tags open there, visible length so far


def _choose(best: dict[int, _Break], here: int, stack: list[_Tok], limit: int) -> tuple[int, list[_Tok]]:
    """A blank line or a line end in the second half of the part, else the last space, else right here."""
    for priority in (2, 1):
        if priority in best and best[priority][2] >= limit // 2:
            return best[priority][0], best[priority][1]
    if 0 in best and best[0][2] >= limit // 4:
        return best[0][0], best[0][1]
    return here, stack


def split_html(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut HTML into parts of at most ``limit`` visible units, each valid on its own."""
    if units(plain(text)) <= limit:
        return [text] if plain(text).strip() else []
    tokens = _tokens(text)
    reserve = 0  # closing/reopening tags are invisible: no room needed for them
    parts: list[str] = []
    start, stack = 0, []
    while start < len(tokens):
        end, stack_end = _fit(tokens, start, stack, limit - reserve)
        if end == start:  # a single token wider than the limit cannot happen with real text; be safe
            end = start + 1
            stack_end = list(stack)
            _apply(stack_end, tokens[start])
        body = "".join(t.raw for t in stack) + "".join(t.raw for t in tokens[start:end])
        body += "".join(f"</{t.tag}>" for t in reversed(stack_end))
        if plain(body).strip():
            parts.append(body.strip())
        start, stack = end, stack_end
    return parts
