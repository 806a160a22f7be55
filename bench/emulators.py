"""The Bot API emulator behind the few calls the benchmarks make: in a process of its own, driven
over a pipe (``EmulatorProcess``), or on the bot's own event loop (``LocalEmulator``).

Why a process of its own: for a real bot, Telegram is another machine. When the emulator runs on the
bot's own event loop, every request's server-side work (parsing our HTML, building the answer) is
charged to the bot's thread, and the bot cannot do anything else while "Telegram" works. In its own
process the emulator uses the machine's other core, as Telegram's servers would, and a benchmark
measures the bot.

Only what the benchmarks need is exposed; tests use ``BotApiEmulator`` directly.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _serve(conn: Connection, token: str, telegram_limits: bool, round_trip: float) -> None:
    """The child: one emulator, answering the parent's commands one at a time."""
    sys.path.insert(0, str(ROOT))

    async def main() -> None:
        async with _emulator(token, telegram_limits, round_trip) as emu:
            conn.send((emu.base_url, emu.base_file_url))
            while True:
                command, args = await asyncio.to_thread(conn.recv)
                if command == "stop":
                    conn.send(None)
                    return
                conn.send(await _command(emu, command, args))

    asyncio.run(main())


def _emulator(token: str, telegram_limits: bool, round_trip: float) -> Any:
    from tests.telegram.emulator import BotApiEmulator, Limits

    limits = Limits() if telegram_limits else Limits.unlimited()
    return BotApiEmulator(token, limits=limits, round_trip=round_trip)


async def _command(emu: Any, command: str, args: tuple[Any, ...]) -> Any:
    if command == "add_users":
        prefix, count = args
        return [emu.add_user(f"{prefix} {i}", started=True).id for i in range(count)]
    if command == "send_texts":
        user_ids, text = args
        for user_id in user_ids:
            emu.send_text(user_id, text)
        return None
    if command == "wait_for_sent":
        count, timeout = args
        return len(await emu.wait_for_sent(None, count, timeout))
    if command == "sent_counts":
        return [len(emu.sent(user_id)) for user_id in args[0]]
    if command == "total_sent":
        return len(emu.all_sent())
    if command == "last_text":
        return emu.all_sent()[-1].params["text"]
    if command == "too_many_requests":
        return emu.too_many_requests
    raise ValueError(f"unknown command {command}")


class _Calls:
    """The calls, whichever way they reach the emulator (``_call``)."""

    base_url = ""
    base_file_url = ""

    async def _call(self, command: str, *args: Any) -> Any:
        raise NotImplementedError

    async def add_users(self, prefix: str, count: int) -> list[int]:
        """``count`` users who have started the bot; returns their ids (also their private chats')."""
        return await self._call("add_users", prefix, count)

    async def send_texts(self, user_ids: list[int], text: str) -> None:
        """Each user writes ``text`` to the bot privately (queued as updates)."""
        await self._call("send_texts", user_ids, text)

    async def wait_for_sent(self, count: int, timeout: float) -> int:
        """Return once the bot has sent ``count`` messages in all."""
        return await self._call("wait_for_sent", count, timeout)

    async def sent_counts(self, user_ids: list[int]) -> list[int]:
        return await self._call("sent_counts", user_ids)

    async def total_sent(self) -> int:
        return await self._call("total_sent")

    async def last_text(self) -> str:
        return await self._call("last_text")

    async def too_many_requests(self) -> int:
        return await self._call("too_many_requests")


class EmulatorProcess(_Calls):
    """``async with EmulatorProcess(token) as emu:`` then point the bot at ``emu.base_url``."""

    def __init__(self, token: str, *, telegram_limits: bool = False, round_trip: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing shared with the bot
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, token, telegram_limits, round_trip), daemon=True
        )

    async def __aenter__(self) -> EmulatorProcess:
        self._process.start()
        self.base_url, self.base_file_url = await asyncio.to_thread(self._conn.recv)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._process.is_alive():
            await self._call("stop")
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()

    async def _call(self, command: str, *args: Any) -> Any:
        self._conn.send((command, args))
        return await asyncio.to_thread(self._conn.recv)


class LocalEmulator(_Calls):
    """The same emulator on this process's own event loop (what the tests do)."""

    def __init__(self, token: str, *, telegram_limits: bool = False, round_trip: float = 0.0) -> None:
        self._emu = _emulator(token, telegram_limits, round_trip)

    async def __aenter__(self) -> LocalEmulator:
        await self._emu.start()
        self.base_url, self.base_file_url = self._emu.base_url, self._emu.base_file_url
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._emu.stop()

    async def _call(self, command: str, *args: Any) -> Any:
        return await _command(self._emu, command, args)
