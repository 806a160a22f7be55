"""A Telegram world for end-to-end tests: the emulator, the real PTB adapter, the real core.

Everything runs as in ``voisinage run``: the core's dispatcher and Telegram delivery worker and the
adapter's polling loop are asyncio tasks; a test acts as Telegram users through the emulator and reads
what the bot sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from adapters import telegram
from adapters.telegram import Settings, TelegramAdapter, TelegramRates
from bot.assemble import build_core
from bot.core.app import Content, Core
from bot.core.clock import SystemClock, to_iso
from bot.core.config import Config, load_config
from bot.storage.database import Database
from tests.telegram.emulator import BotApiEmulator, EmuChat, EmuUser, Limits, SentMessage
from tests.waiting import until

TOKEN = "123:ABC"
TOKEN_ENV = "VOISINAGE_TEST_TELEGRAM_TOKEN"
# Conversations: 5 messages a second per private chat on both sides, so tests are not slowed by pacing.
CHATTY = Limits(private=5, group=100)
CHATTY_RATES = TelegramRates(private=5, group=100)


@pytest.fixture(scope="session")
def tg_config() -> Config:
    config = load_config()
    circles = replace(config.circles, open_with=1)  # one neighbour is enough here (see tests/core/conftest.py)
    return replace(config, telegram=replace(config.telegram, token_env=TOKEN_ENV), circles=circles)


@pytest.fixture(scope="session")
def tg_content(tg_config: Config) -> Content:
    return Content.load(tg_config)


@dataclass
class World:
    emu: BotApiEmulator
    core: Core
    adapter: TelegramAdapter
    settings: Settings
    tasks: dict[str, asyncio.Task] = field(default_factory=dict)

    # ---- running ---------------------------------------------------------------------------------

    def start_core(self) -> None:
        self.tasks["dispatcher"] = asyncio.create_task(self.core.run_dispatcher())
        self.tasks["delivery"] = asyncio.create_task(self.core.run_delivery("telegram"))

    async def start_adapter(self) -> None:
        """Run the polling loop and wait for its first getUpdates (which sets allowed_updates)."""
        polls = len(self.emu.calls("getUpdates"))
        self.tasks["adapter"] = asyncio.create_task(self.adapter.run(self.core))
        await until(lambda: len(self.emu.calls("getUpdates")) > polls, what="the adapter's first poll")

    async def stop(self, name: str) -> None:
        task = self.tasks.pop(name)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def watch(self, name: str, task: asyncio.Task) -> None:
        self.tasks[name] = task

    # ---- acting as users -------------------------------------------------------------------------

    def admin(self, name: str = "Modérateur") -> EmuUser:
        """A user named as deployment admin in the configuration (so a moderator everywhere)."""
        user = self.emu.add_user(name, started=True)
        admins = [*self.core.config.deployment.admins, f"telegram:{user.id}"]
        self.core.config = replace(self.core.config, deployment=replace(self.core.config.deployment, admins=admins))
        return user

    async def say(self, user: EmuUser, text: str, chat: EmuChat | None = None, *, replies: int = 1) -> SentMessage:
        where = chat or user
        before = len(self.emu.sent(where))
        self.emu.send_text(user, text, chat)
        return (await self.emu.wait_for_sent(where, before + replies, timeout=10))[-1]

    async def press(self, user: EmuUser, wanted: str, *, replies: int = 1) -> SentMessage:
        """Press a button of the last message with buttons ``user`` got, by payload or label end."""
        message = next(m for m in reversed(self.emu.sent(user)) if m.buttons())
        for button in message.buttons():
            if wanted in (button["callback_data"], button["text"]) or button["text"].endswith(wanted):
                before = len(self.emu.sent(user))
                self.emu.press(user, message, button["callback_data"])
                return (await self.emu.wait_for_sent(user, before + replies, timeout=10))[-1]
        raise AssertionError(f"no button {wanted!r} in {[b['text'] for b in message.buttons()]}")

    async def onboard(self, user: EmuUser, *, location: tuple[float, float] | None = None) -> SentMessage:
        """The whole onboarding with buttons; returns the last message (the welcome)."""
        await self.say(user, "/start")
        await self.press(user, "onboarding.consent:yes")
        before = len(self.emu.sent(user))
        if location:
            self.emu.share_location(user, *location)
        else:
            self.emu.send_text(user, "belleville")
        await self.emu.wait_for_sent(user, before + 1, timeout=10)
        await self.press(user, "onboarding.interests:done")
        return await self.press(user, "onboarding.checkins:host")

    async def link_for(self, user: EmuUser, timeout: float = 10) -> str:
        """Wait for the invite link message and return the link."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for message in self.emu.sent(user):
                if message.text and "https://t.me/+" in message.text:
                    return "https://t.me/+" + message.text.split("https://t.me/+")[1].split()[0]
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no invite link for {user.first_name}: {[m.text for m in self.emu.sent(user)]}")

    async def quiet(self, timeout: float = 15.0) -> None:
        """Wait for the positive sign that nothing more is coming (before asserting that nothing more
        happens): every update confirmed, every stored event handled, nothing due or in flight in the
        outbox. A fixed sleep instead passed whenever the bot was merely slow."""
        await self.emu.wait_until_consumed(timeout)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            rows = await self.core.db.fetchall_alone(  # in its own turn: never another task's half-done rows
                "SELECT (SELECT COUNT(*) FROM inbox WHERE status = 'new') + (SELECT COUNT(*) FROM outbox "
                "WHERE status = 'sending' OR (status = 'pending' AND not_before <= ?))",
                (to_iso(self.core.clock.now()),),
            )
            if rows[0][0] == 0 and not self.emu.pending_updates():
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the bot is still busy after {timeout} s ({rows[0][0]} items)")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def make_world(
    tmp_path: Path,
    config: Config,
    content: Content,
    monkeypatch: pytest.MonkeyPatch,
    *,
    limits: Limits = CHATTY,
    rates: TelegramRates = CHATTY_RATES,
    mode: str = "polling",
    round_trip: float = 0.0,
    **settings: object,
) -> AsyncIterator[World]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    async with BotApiEmulator(TOKEN, limits=limits, round_trip=round_trip) as emu:
        db = await Database.open(tmp_path / "telegram.sqlite3")
        core = build_core(config, db, content, SystemClock())
        options = Settings(mode=mode, poll_timeout=2, rates=rates, housekeeping_every=0.3, **settings)  # type: ignore[arg-type]
        adapter = await telegram.start(core, config, base_url=emu.base_url, base_file_url=emu.base_file_url,
                                       settings=options)
        world = World(emu, core, adapter, options)
        world.start_core()
        try:
            yield world
        finally:
            for name in list(world.tasks):
                await world.stop(name)
            await adapter.close()
            await db.close()


@pytest.fixture
async def world(tmp_path: Path, tg_config: Config, tg_content: Content, monkeypatch: pytest.MonkeyPatch):
    async with make_world(tmp_path, tg_config, tg_content, monkeypatch) as w:
        await w.start_adapter()
        yield w
