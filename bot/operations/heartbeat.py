"""The running process's signs of life, written to the database so another shell can read them.

Every ``HEARTBEAT_SECONDS``: which process runs ("pid@host"), when the scheduler last looked for due
passes, and when each platform last answered a poll or a sync. ``voisinage status`` shows them;
/healthz fails when one is stale; ``voisinage restore`` refuses to run under a live process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from bot.core.clock import to_iso
from bot.storage import runtime
from bot.storage.runtime import HEARTBEAT_SECONDS

if TYPE_CHECKING:
    from bot.core.app import Core


class Adapter(Protocol):
    """What the heartbeat reads of a platform adapter (``adapters.base.Adapter`` has it)."""

    platform: str
    last_contact: datetime | None

log = logging.getLogger(__name__)


def process_name() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


async def beat(core: Core, adapters: Sequence[Adapter]) -> None:
    """One heartbeat. Wall-clock time, not the core's clock: it is read by people and other processes."""
    now = datetime.now(UTC)
    await runtime.mark(core.db, "process", process_name(), now)
    if core.scheduler.last_tick is not None:
        await runtime.mark(core.db, "scheduler", to_iso(core.scheduler.last_tick), now)
    for adapter in adapters:
        if adapter.last_contact is not None:
            seen = adapter.last_contact
            await runtime.mark(core.db, f"contact:{adapter.platform}", to_iso(seen), seen)


async def run(core: Core, adapters: Sequence[Adapter], interval: float = HEARTBEAT_SECONDS) -> None:
    await runtime.mark(core.db, "started", process_name(), datetime.now(UTC))
    log.info("started (%s); platforms: %s", process_name(), ", ".join(a.platform for a in adapters) or "none")
    while True:
        try:
            await beat(core, adapters)
        except Exception:  # a locked database for a moment must not end the process
            log.exception("heartbeat could not be written")
        await asyncio.sleep(interval)
