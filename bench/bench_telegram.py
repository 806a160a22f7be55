"""Telegram adapter benchmarks against the Bot API emulator on 127.0.0.1 (bounded, about 2 minutes).

1. Per-update overhead: N private "/help" commands handled by our adapter + core (durable inbox,
   routing, outbox, delivery) against a bare python-telegram-bot echo loop (get_updates +
   send_message, one at a time) on the same emulator, in the same run, without flood limits. Reports
   the ratio of the times (target <= 1.3x). The emulator runs in a process of its own, as Telegram's
   servers are not on the bot's machine (see ``emulators.py``); the figure with the emulator on
   the bot's own event loop is printed too, for comparison with earlier runs.
2. Fan-out: 1,000 messages to 1,000 private chats through the durable outbox and the adapter, with
   Telegram's limits enforced by the emulator (30/s overall, 1/s per private chat, 429 with
   retry_after beyond). Reports the achieved rate as a share of 30/s (target >= 90 %), lost and
   duplicated messages (target 0) and the 429s seen.
3. The same fan-out (300 messages) with a 60 ms network round trip, as between a server in France and
   Telegram, one send at a time and ``sends_in_flight`` (4) at a time: why more than one is needed.

    python bench/bench_telegram.py [--messages 1000] [--updates 300] [--far-messages 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import telegram
from telegram.warnings import PTBDeprecationWarning

from adapters import telegram as tg_adapter
from adapters.telegram import Settings, TelegramRates
from bench.emulators import EmulatorProcess, LocalEmulator
from bot.assemble import build_core
from bot.core.app import Content, Core
from bot.core.clock import SystemClock
from bot.core.config import load_config
from bot.core.i18n import Localized
from bot.storage.database import Database

TOKEN = "123:BENCH"
TOKEN_ENV = "VOISINAGE_BENCH_TELEGRAM_TOKEN"
warnings.filterwarnings("ignore", category=PTBDeprecationWarning)


Emulator = LocalEmulator | EmulatorProcess


async def _start(tmp: Path, content: Content, emu: Emulator, settings: Settings) -> tuple[Core, Any]:
    config = load_config()
    config = replace(config, telegram=replace(config.telegram, token_env=TOKEN_ENV))
    db = await Database.open(tmp / f"bench-{time.time_ns()}.sqlite3")
    core = build_core(config, db, content, SystemClock())
    adapter = await tg_adapter.start(core, config, base_url=emu.base_url, base_file_url=emu.base_file_url,
                                     settings=settings)
    return core, adapter


async def _stop(core: Core, adapter: Any, tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await adapter.close()
    await core.db.close()


async def fan_out(emu: Emulator, tmp: Path, messages: int, content: Content, in_flight: int) -> tuple[float, int, int]:
    """Queue ``messages`` announcements, one per private chat; returns (seconds, lost, duplicates)."""
    core, adapter = await _start(tmp, content, emu, Settings(poll_timeout=1, sends_in_flight=in_flight))
    users = await emu.add_users("Voisin", messages)
    before = await emu.total_sent()
    async with core.db.transaction():
        for user in users:
            text = Localized(f"Fête des voisins samedi ({user})")
            await core.queue_message(core.db, "telegram", str(user), text, (), core.clock.now(),
                                     dedupe_key=f"bench:{user}")
    started = time.monotonic()
    worker = asyncio.create_task(core.run_delivery("telegram"))
    try:
        await emu.wait_for_sent(before + messages, timeout=150)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.5)  # anything sent twice would show now
    finally:
        await _stop(core, adapter, [worker])
    per_chat = await emu.sent_counts(users)
    return elapsed, per_chat.count(0), sum(n - 1 for n in per_chat if n > 1)


async def echo_bot(emu: Emulator, n: int, text: str) -> tuple[float, float]:
    """The bare PTB baseline: poll, answer each update with one message, confirm by offset.

    It answers with the very text our bot answered (HTML, same length), so that the emulator's share
    of the work is the same on both sides."""
    users = await emu.add_users("Echo", n)
    async with telegram.Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
        await bot.get_updates(offset=-1, timeout=0)
        await emu.send_texts(users, "/help")
        started, cpu = time.monotonic(), time.process_time()
        offset, answered = None, 0
        while answered < n:
            for update in await bot.get_updates(offset=offset, timeout=1):
                await bot.send_message(update.effective_chat.id, text, parse_mode="HTML")
                offset = update.update_id + 1
                answered += 1
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        await bot.get_updates(offset=offset, timeout=0)
    return elapsed, cpu


async def ours(emu: Emulator, tmp: Path, n: int, content: Content, in_flight: int = 4) -> tuple[float, float]:
    """Our adapter + core with the deployment's defaults (except flood limits: none on either side)."""
    settings = Settings(poll_timeout=1, rates=TelegramRates.unlimited(), sends_in_flight=in_flight)
    core, adapter = await _start(tmp, content, emu, settings)
    users = await emu.add_users("Voisin", n)
    tasks = [asyncio.create_task(core.run_dispatcher()), asyncio.create_task(core.run_delivery("telegram"))]
    before = await emu.total_sent()
    await emu.send_texts(users, "/help")
    started, cpu = time.monotonic(), time.process_time()
    tasks.append(asyncio.create_task(adapter.run(core)))
    try:
        await emu.wait_for_sent(before + n, timeout=120)
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    finally:
        await _stop(core, adapter, tasks)
    assert all(count == 1 for count in await emu.sent_counts(users)), "each update answered exactly once"
    return elapsed, cpu


async def overhead(emu: Emulator, tmp: Path, n: int, content: Content, where: str, in_flight: int = 4) -> float:
    """Prints time and CPU per update on both sides (CPU of this process: with the emulator in its own
    process, that is the bot's cost alone); returns the ratio of the times."""
    await ours(emu, tmp, 20, content, in_flight)  # warm-up: imports, first connections, the emulator's caches
    mine, mine_cpu = await ours(emu, tmp, n, content, in_flight)
    baseline, baseline_cpu = await echo_bot(emu, n, await emu.last_text())  # the HTML our bot sent
    print(f"per update, emulator {where}, {in_flight} in flight: bare PTB echo {baseline / n * 1000:.2f} ms "
          f"(CPU {baseline_cpu / n * 1000:.2f} ms), adapter + core {mine / n * 1000:.2f} ms "
          f"(CPU {mine_cpu / n * 1000:.2f} ms): ratio {mine / baseline:.2f}x")
    return mine / baseline


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--far-messages", type=int, default=300)
    args = parser.parse_args()
    os.environ[TOKEN_ENV] = TOKEN
    content = Content.load(load_config())
    with tempfile.TemporaryDirectory() as tmp:
        async with EmulatorProcess(TOKEN) as emu:
            ratio = await overhead(emu, Path(tmp), args.updates, content, "in its own process")
            await overhead(emu, Path(tmp), args.updates, content, "in its own process", in_flight=1)
        async with LocalEmulator(TOKEN) as emu:
            await overhead(emu, Path(tmp), args.updates, content, "on the bot's event loop")
        print(f"per-update overhead: {ratio:.2f}x (target <= 1.3x; emulator in its own process, "
              "the deployment's 4 sends in flight, against the sequential echo bot)")

        async with LocalEmulator(TOKEN, telegram_limits=True) as emu:
            elapsed, lost, duplicates = await fan_out(emu, Path(tmp), args.messages, content, in_flight=4)
            rate = args.messages / elapsed
            print(f"fan-out: {args.messages} messages to {args.messages} private chats in {elapsed:.1f} s = "
                  f"{rate:.1f}/s = {rate / 30:.0%} of 30/s (target >= 90%); lost {lost}, duplicates {duplicates}, "
                  f"429s seen {await emu.too_many_requests()}")
        for in_flight in (1, 4):
            async with EmulatorProcess(TOKEN, telegram_limits=True, round_trip=0.06) as emu:
                elapsed, lost, duplicates = await fan_out(emu, Path(tmp), args.far_messages, content, in_flight)
                rate = args.far_messages / elapsed
                print(f"fan-out over a 60 ms round trip, {in_flight} in flight: {rate:.1f}/s = {rate / 30:.0%} "
                      f"of 30/s; lost {lost}, duplicates {duplicates}")


if __name__ == "__main__":
    asyncio.run(main())
