"""Telegram adapter benchmarks against the Bot API emulator on 127.0.0.1 (bounded, < 3 minutes).

1. Fan-out: 1,000 messages to 1,000 private chats through the durable outbox and the adapter, with
   Telegram's limits enforced by the emulator (30/s overall, 1/s per private chat, 429 with
   retry_after beyond). Reports the achieved rate as a share of 30/s (target >= 90 %), lost and
   duplicated messages (target 0) and the 429s seen.
2. Per-update overhead: N private "/help" commands handled by our adapter + core (durable inbox,
   routing, outbox, delivery) against a bare python-telegram-bot echo loop (get_updates +
   send_message) on the same emulator, in the same run, without flood limits. Reports the ratio of
   the times (target <= 1.3x).

    /tmp/venv/bin/python bench/bench_telegram.py [--messages 1000] [--updates 300]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import telegram
from telegram.warnings import PTBDeprecationWarning

from adapters import telegram as tg_adapter
from adapters.telegram import Rates, Settings
from bot.app import Content, Core
from bot.clock import SystemClock
from bot.config import load_config
from bot.i18n import Localized
from bot.storage.database import Database
from tests.telegram.emulator import BotApiEmulator, Limits

TOKEN = "123:BENCH"
TOKEN_ENV = "VOISINAGE_BENCH_TELEGRAM_TOKEN"
warnings.filterwarnings("ignore", category=PTBDeprecationWarning)


async def _core(tmp: Path, content: Content | None = None) -> Core:
    config = load_config()
    config = replace(config, telegram=replace(config.telegram, token_env=TOKEN_ENV))
    db = await Database.open(tmp / f"bench-{time.time_ns()}.sqlite3")
    return Core(config, db, content or Content.load(config), SystemClock())


async def fan_out(tmp: Path, messages: int, content: Content) -> Content:
    async with BotApiEmulator(TOKEN, limits=Limits()) as emu:
        core = await _core(tmp, content)
        adapter = await tg_adapter.start(core, core.config, base_url=emu.base_url, base_file_url=emu.base_file_url,
                                         settings=Settings(poll_timeout=1))
        users = [emu.add_user(f"Voisin {i}", started=True) for i in range(messages)]
        async with core.db.transaction():
            for user in users:
                text = Localized(f"Fête des voisins samedi ({user.id})")
                await core.queue_message(core.db, "telegram", str(user.id), text, (), core.clock.now(),
                                         dedupe_key=f"bench:{user.id}")
        started = time.monotonic()
        worker = asyncio.create_task(core.run_delivery("telegram"))
        try:
            await emu.wait_for_sent(None, messages, timeout=150)
            elapsed = time.monotonic() - started
            await asyncio.sleep(0.5)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await adapter.close()
            await core.db.close()
        per_chat = [len(emu.sent(u)) for u in users]
        lost, duplicates = per_chat.count(0), sum(n - 1 for n in per_chat if n > 1)
        rate = messages / elapsed
        print(f"fan-out: {messages} messages to {messages} private chats in {elapsed:.1f} s = {rate:.1f}/s "
              f"= {rate / 30:.0%} of 30/s (target >= 90%); lost {lost}, duplicates {duplicates}, "
              f"429s seen {emu.too_many_requests}")
    return content


async def echo_bot(emu: BotApiEmulator, n: int, text: str) -> float:
    """The bare PTB baseline: poll, answer each update with one message, confirm by offset.

    It answers with the very text our bot answered (HTML, same length), because the emulator runs in
    this process: a shorter or plain answer would make the baseline's share of parsing cheaper."""
    users = [emu.add_user(f"Echo {i}", started=True) for i in range(n)]
    async with telegram.Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
        await bot.get_updates(offset=-1, timeout=0)
        for user in users:
            emu.send_text(user, "/help")
        started = time.monotonic()
        offset, answered = None, 0
        while answered < n:
            for update in await bot.get_updates(offset=offset, timeout=1):
                await bot.send_message(update.effective_chat.id, text, parse_mode="HTML")
                offset = update.update_id + 1
                answered += 1
        elapsed = time.monotonic() - started
        await bot.get_updates(offset=offset, timeout=0)
    return elapsed


async def ours(emu: BotApiEmulator, tmp: Path, n: int, content: Content) -> float:
    core = await _core(tmp, content)
    adapter = await tg_adapter.start(core, core.config, base_url=emu.base_url, base_file_url=emu.base_file_url,
                                     settings=Settings(poll_timeout=1, rates=Rates.unlimited()))
    users = [emu.add_user(f"Voisin {i}", started=True) for i in range(n)]
    tasks = [asyncio.create_task(core.run_dispatcher()), asyncio.create_task(core.run_delivery("telegram"))]
    before = len(emu.all_sent())
    for user in users:
        emu.send_text(user, "/help")
    started = time.monotonic()
    tasks.append(asyncio.create_task(adapter.run(core)))
    try:
        await emu.wait_for_sent(None, before + n, timeout=120)
        elapsed = time.monotonic() - started
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await adapter.close()
        await core.db.close()
    assert all(len(emu.sent(u)) == 1 for u in users), "each update answered exactly once"
    return elapsed


async def overhead(tmp: Path, n: int, content: Content) -> None:
    async with BotApiEmulator(TOKEN, limits=Limits.unlimited()) as emu:
        mine = await ours(emu, tmp, n, content)
        baseline = await echo_bot(emu, n, emu.all_sent()[-1].params["text"])  # the HTML our bot sent
    print(f"per update: bare PTB echo {baseline / n * 1000:.2f} ms ({n / baseline:.0f}/s), "
          f"adapter + core {mine / n * 1000:.2f} ms ({n / mine:.0f}/s): ratio {mine / baseline:.2f}x (target <= 1.3x)")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=300)
    args = parser.parse_args()
    os.environ[TOKEN_ENV] = TOKEN
    content = Content.load(load_config())
    with tempfile.TemporaryDirectory() as tmp:
        await overhead(Path(tmp), args.updates, content)
        await fan_out(Path(tmp), args.messages, content)


if __name__ == "__main__":
    asyncio.run(main())
