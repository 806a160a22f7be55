"""A `voisinage run`-like worker process for the failover test (``test_worker_failover.py``).

    python -m tests.core.failover_worker setup DATABASE N
    python -m tests.core.failover_worker work DATABASE LOG INTAKE_LOG

``setup`` creates N members and publishes an event to them (the fan-out is written to the outbox in
one transaction; ``tests.core.fanout_worker.setup``), and delivers nothing. ``work`` runs what
``voisinage run`` runs for a platform, as one worker among several (``bot.core.workers``): the
worker's lease and the recovery of dead workers' sends, the dispatcher, the delivery loop with the
platform's rate shared in the database, and an intake under the lease "intake:telegram" (the Telegram
poller's place: it writes "pid<TAB>time" to INTAKE_LOG every 0.2 s while it holds the lease). The
platform is a file, like Telegram in the ways that matter here: no idempotency key (an interrupted send
is given up as "may have arrived"), four sends in flight, an overall rate (200 a second, so the
fan-out lasts a few seconds). Each send appends "key<TAB>chat<TAB>pid" to LOG. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from bot.assemble import build_core
from bot.core.app import Content, Core
from bot.core.chat import Delivered, Outgoing, SendResult
from bot.core.clock import SystemClock
from bot.core.config import load_config
from bot.core.workers import Worker
from bot.storage.database import Database
from tests.core.fanout_worker import FilePlatform, setup

RATE = 200.0


class TelegramLikeFile(FilePlatform):
    """The file platform, not idempotent, four sends in flight, an overall rate; the log names the pid."""

    def __init__(self, log: Path) -> None:
        super().__init__(log, idempotent=False, in_flight=4)
        self.capabilities = replace(self.capabilities, messages_per_second=RATE)

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        self.fh.write(f"{idempotency_key}\t{message.chat_id}\t{os.getpid()}\n")
        self.fh.flush()
        await asyncio.sleep(0.002)  # the window a kill -9 lands in: sent, not yet recorded
        return Delivered()


async def intake(path: Path) -> None:
    """Stands for the Telegram poller: alive while it writes."""
    with path.open("a") as fh:
        while True:
            fh.write(f"{os.getpid()}\t{time.time()}\n")
            fh.flush()
            await asyncio.sleep(0.2)


async def work(core: Core, log: Path, intake_log: Path) -> None:
    core.attach(TelegramLikeFile(log))
    worker = Worker(core)
    worker.share_rates()
    await worker.beat()
    tasks = [asyncio.create_task(job) for job in (
        worker.run(), worker.hold("intake:telegram", lambda: intake(intake_log)), core.run_dispatcher(),
        core.run_delivery("file"),
    )]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("worker", core.worker_id, flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await worker.stop()


async def main(phase: str, database: str, *args: str) -> None:
    config = load_config()
    config = replace(config, places=replace(config.places, national=""))  # the communes are not needed here
    db = await Database.open(database)
    core = build_core(config, db, Content.load(config), SystemClock())
    try:
        if phase == "setup":
            core.attach(TelegramLikeFile(Path(os.devnull)))
            await setup(core, int(args[0]))
        else:
            await work(core, Path(args[0]), Path(args[1]))
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], *sys.argv[3:]))
