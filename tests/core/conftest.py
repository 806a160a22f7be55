"""The core's flows through the in-memory platform: a fresh database per test, a clock tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from adapters.memory import MemoryPlatform
from bot.assemble import build_core
from bot.core.app import Content, Core
from bot.core.chat import ChoiceIn, CommandIn, Outgoing, TextIn
from bot.core.clock import FakeClock
from bot.core.config import Config, load_config
from bot.storage.database import Database


@pytest.fixture(scope="session")
def config() -> Config:
    """The default configuration, except that a circle opens with its first neighbour (``open_with =
    1``): feature tests need one or two neighbours, not five. The deployment's rule (nobody alone, five
    to open) is tested with the real default in ``test_circle_sizes.py``."""
    config = load_config()
    return replace(config, circles=replace(config.circles, open_with=1))


@pytest.fixture(scope="session")
def content(config: Config) -> Content:
    """Loading France's communes takes a moment: once per session."""
    return Content.load(config)


@dataclass
class Neighbours:
    """A test's view of the bot: speak as someone, read what they received."""

    core: Core
    platform: MemoryPlatform
    clock: FakeClock

    async def say(self, user: str, text: str, *, lang: str | None = None, name: str = "") -> list[Outgoing]:
        """Type a line as ``user`` in their private chat; returns the messages they got back."""
        if text.startswith("/"):
            name_, _, args = text[1:].partition(" ")
            body = CommandIn(name_.lower(), args)
        else:
            body = TextIn(text)
        return await self.send(user, body, lang=lang, name=name)

    async def press(self, user: str, label_or_payload: str) -> list[Outgoing]:
        """Press a button of the last message with buttons ``user`` received, by its label (or a raw
        payload). Buttons stay on a message: after a short answer without any (a tick acknowledged),
        the list above is still there to press, as in Telegram."""
        received = self.platform.to(f"dm:{user}")
        last = next((m for m in reversed(received) if m.choices), received[-1])
        for choice in last.choices:
            if label_or_payload in (choice.label, choice.payload) or choice.label.endswith(label_or_payload):
                return await self.send(user, ChoiceIn(choice.payload))
        raise AssertionError(f"no button {label_or_payload!r} in {[c.label for c in last.choices]}")

    async def send(
        self, user: str, body, *, lang: str | None = None, name: str = "", chat: str | None = None
    ) -> list[Outgoing]:
        before = len(self.platform.sent)
        await self.core.receive(self.platform.event(user, body, lang=lang, name=name, chat=chat))
        await self.core.settle()
        return [m for m in self.platform.sent[before:] if m.chat_id == (chat or f"dm:{user}")]

    async def join(self, user: str, place: str = "belleville", *, lang: str = "fr") -> None:
        """The whole onboarding with the suggestions accepted."""
        await self.say(user, "/start", lang=lang)  # the opening message is in the platform's language
        await self.press(user, "onboarding.consent:yes")
        out = await self.say(user, place)
        if out and out[-1].choices and out[-1].choices[0].payload.startswith("onboarding.place_pick"):
            await self.press(user, "onboarding.place_pick:0")
        await self.press(user, "onboarding.interests:done")
        await self.press(user, "onboarding.checkins:host")

    def texts(self, user: str) -> list[str]:
        return [m.text for m in self.platform.to(f"dm:{user}")]


@pytest.fixture
async def hood(database: str, config: Config, content: Content) -> AsyncIterator[Neighbours]:
    """On SQLite, and on PostgreSQL too in modules marked ``both_engines`` (tests/engines.py)."""
    db = await Database.open(database)
    clock = FakeClock()
    core = build_core(config, db, content, clock)
    platform = MemoryPlatform()
    core.attach(platform)
    hood = Neighbours(core, platform, clock)
    yield hood
    await hood.core.db.close()  # a test may have replaced the core (a restart)
    assert platform.not_catalogue == [], "the core sent text that is not from the catalogue"
