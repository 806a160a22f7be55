"""Telegram failures → what the outbox should do: retry later, or never again.

PTB strips "Bad Request: " and changes the case of error texts (``BUTTON_DATA_INVALID`` arrives as
``Button_data_invalid``), so texts are matched lower-cased. ``Forbidden`` always means the chat
refuses the bot for good (blocked, never started, kicked): retrying would only earn more 403s.
"""

from __future__ import annotations

import datetime as dtm
import warnings

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.core.chat import RetryLater, SendResult, Undeliverable
from bot.core.pacing import backoff

# BadRequest texts that mean the chat itself is gone or closed to the bot, not that one message was wrong.
_GONE = (
    "chat not found",
    "user not found",
    "user is deactivated",
    "bot was kicked",
    "bot was blocked",
    "peer_id_invalid",
    "have no rights to send",
    "not enough rights to send",
    "group chat was deactivated",
    "chat_write_forbidden",
)
# BadRequest texts about the markup: the same words sent as plain text will go through.
_MARKUP = ("can't parse entities", "can't find end tag", "unsupported start tag")


class PollingConflict(RuntimeError):
    """Another process polls this bot, or a webhook is set: two consumers would split the updates."""


# Network trouble with Telegram is retried patiently, never hammered, and never more than a minute apart.
NETWORK_RETRY_CAP = 60.0

def seconds(value: int | float | dtm.timedelta) -> float:
    """A wait as seconds, whether PTB gave an int or (with ``PTB_TIMEDELTA=true``) a timedelta."""
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def retry_after(error: RetryAfter) -> float:
    """``RetryAfter.retry_after`` in seconds, without PTB's warning about its future type (we take both)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return seconds(error.retry_after)


def text_of(error: TelegramError) -> str:
    return (error.message or "").lower()


def is_markup_error(error: TelegramError) -> bool:
    return isinstance(error, BadRequest) and any(part in text_of(error) for part in _MARKUP)


def is_chat_gone(error: TelegramError) -> bool:
    return isinstance(error, Forbidden) or (
        isinstance(error, BadRequest) and any(part in text_of(error) for part in _GONE)
    )


def outcome(error: Exception, attempt: int = 1) -> SendResult:
    """The outbox's answer to a failed call. ``attempt`` grows the wait after network trouble.

    Order matters: ``BadRequest`` and ``TimedOut`` are subclasses of ``NetworkError`` in PTB.
    ``ChatMigrated`` is handled by the sender (it resends to the new id) before reaching here.
    """
    if isinstance(error, RetryAfter):
        return RetryLater(max(1.0, retry_after(error)), "429 flood control")
    if isinstance(error, Forbidden):
        return Undeliverable(f"forbidden: {text_of(error)}")
    if isinstance(error, BadRequest):
        if is_chat_gone(error):
            return Undeliverable(f"chat gone: {text_of(error)}")
        return Undeliverable(f"refused: {text_of(error)}", chat_gone=False)
    if isinstance(error, TimedOut):
        return RetryLater(backoff(attempt, cap=NETWORK_RETRY_CAP), "timed out")
    if isinstance(error, ChatMigrated):
        return RetryLater(1, f"chat migrated to {error.new_chat_id}")
    if isinstance(error, Conflict | InvalidToken):
        return RetryLater(60, f"bot misconfigured: {text_of(error)}")
    if isinstance(error, NetworkError):
        return RetryLater(backoff(attempt, cap=NETWORK_RETRY_CAP), f"network: {text_of(error)}")
    if isinstance(error, TelegramError):
        return RetryLater(30, f"telegram: {text_of(error)}")
    return RetryLater(60, f"{type(error).__name__}: {error}")


# httpx failures that happen before a single byte of the request left: no connection was made (refused,
# DNS, unreachable, TLS handshake) or none was free in the pool. Only these are safe to send again.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
MAY_HAVE_ARRIVED = "may have arrived"


def sent_nothing(error: Exception) -> bool:
    """Whether a failed call surely did nothing at Telegram. PTB wraps the HTTP library's error (in
    ``__cause__``): a connection that could not be made (refused, DNS) or a pool with no free
    connection sent nothing. A read or write timeout, a connection cut mid-way, any other failure of
    the HTTP layer: the request may have been received. With no such cause, Telegram answered (a 5xx):
    it looked at the request and says it failed."""
    cause = error.__cause__
    if cause is None:
        return not isinstance(error, TimedOut)
    return isinstance(cause, _BEFORE_SENDING)


def send_outcome(error: Exception, attempt: int = 1) -> SendResult:
    """``outcome`` for a message, which Telegram cannot recognise if it comes twice. A timeout or a
    network failure after the request left may hide a message that arrived: like a crash mid-send, it
    is marked "may have arrived" and never sent again. Failures known to be before sending (no
    connection, DNS) are retried, as are Telegram's own answers (429, 5xx)."""
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest) and not sent_nothing(error):
        return Undeliverable(f"{MAY_HAVE_ARRIVED}: {type(error).__name__}: {text_of(error)}", chat_gone=False)
    return outcome(error, attempt)
