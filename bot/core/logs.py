"""Secrets never reach a log line, at any level.

httpx (under python-telegram-bot) logs every request URL at INFO, and a Bot API URL holds the bot
token (``…/bot123:ABC/getUpdates``); an exception message can carry a token or a password too. A
filter on the root logger's handlers rewrites each record before it is written: the configured
secrets, and anything shaped like a Telegram token or a Matrix access token, become ``[secret]``.
Filters on handlers see records from every logger that propagates to them, whatever its level.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[secret]"
# Shapes that are secrets whoever configured them: a Telegram bot token (digits, colon, 35 characters)
# and Synapse's access tokens (syt_…).
_SHAPES = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}|\bsyt_[A-Za-z0-9_-]{10,}\b")


class RedactSecrets(logging.Filter):
    """Rewrites a record's message (arguments included) with the secrets masked; never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Short values (an unset variable, "1") would mask ordinary words: only real secrets are kept.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return _SHAPES.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = self.redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install_redaction(secrets: Iterable[str], logger: logging.Logger | None = None) -> RedactSecrets:
    """Put the filter on every handler of ``logger`` (the root logger by default), where every record
    ends up; call it after ``logging.basicConfig``."""
    target = logger or logging.getLogger()
    redactor = RedactSecrets(secrets)
    for handler in target.handlers:
        handler.addFilter(redactor)
    return redactor
