"""nio error responses and exceptions → the outbox's outcomes.

- ``M_LIMIT_EXCEEDED`` → ``RetryLater(retry_after_ms)``: the outbox re-queues that item and goes on.
- The bot is not (or no longer) in the room, the room or user does not exist, the request is refused
  → ``Undeliverable``: marked, never retried forever.
- Network errors, timeouts and server errors (5xx) → ``RetryLater``.
"""

from __future__ import annotations

import asyncio

import aiohttp
from nio import ErrorResponse

from bot.core.chat import Delivered, RetryLater, SendResult, Undeliverable

# Errors that say "this target will not work", whatever we retry.
PERMANENT = frozenset(
    {"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_ROOM", "M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE",
     "M_INVALID_PARAM", "M_GUEST_ACCESS_FORBIDDEN", "M_USER_DEACTIVATED"}
)
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError)
DEFAULT_RETRY_S = 5.0


def http_status(resp: ErrorResponse) -> int | None:
    transport = getattr(resp, "transport_response", None)
    return getattr(transport, "status", None)


def outcome(resp: object, external_id: str = "") -> SendResult:
    """What a nio response means for the outbox."""
    if not isinstance(resp, ErrorResponse):
        return Delivered(external_id)
    code = resp.status_code or ""
    reason = f"{code} {resp.message}".strip()[:300]
    if code == "M_LIMIT_EXCEEDED" or http_status(resp) == 429:
        return RetryLater(max(resp.retry_after_ms or DEFAULT_RETRY_S * 1000, 50) / 1000, reason)
    if code in PERMANENT or "not in room" in resp.message.lower():
        return Undeliverable(reason)
    status = http_status(resp)
    if status is not None and 400 <= status < 500 and code not in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
        return Undeliverable(reason, chat_gone=False)  # this event was refused (too large, bad content)
    # 5xx, an unknown or revoked token (fixed by the operator, not by giving up on the room), no code.
    return RetryLater(DEFAULT_RETRY_S if code not in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN") else 60.0, reason)


def network(exc: BaseException) -> RetryLater:
    return RetryLater(DEFAULT_RETRY_S, f"network: {type(exc).__name__}: {exc}"[:300])


def already_member(resp: object) -> bool:
    """An invite refused because the person is already in the room counts as delivered."""
    return isinstance(resp, ErrorResponse) and "already in the room" in (resp.message or "").lower()
