"""A separate process for the crash test: one event fanned out through the real Core to N members.

    python -m tests.core.fanout_worker setup|deliver DB LOG N idempotent|plain|plain4|mixed|mixed4

``setup`` creates the members, a trusted organizer and an event, publishes it (the whole fan-out is
written to the outbox in that one transaction), then delivers; ``deliver`` only delivers what is left.
The platform is a file: each delivery appends "key<TAB>chat" to LOG and is flushed before the send
returns, then the adapter pauses a moment — the window in which the test's kill -9 usually lands,
after the message went out but before the outbox recorded it. With ``idempotent`` the file platform
remembers keys it has seen (like Matrix transaction ids), so a resend after a crash is recognised;
``plain4`` is ``plain`` with four sends in flight, like Telegram. ``mixed`` (idempotent) and ``mixed4``
(plain, four in flight) also queue an answer and a care message for every third member, so the three
delivery classes take turns when the kill lands.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from adapters.base import Adapter
from bot.activities import announcements
from bot.assemble import build_core
from bot.core.app import Content, Core
from bot.core.chat import Capabilities, Delivered, InviteResult, Outgoing, SendResult
from bot.core.clock import SystemClock, to_iso
from bot.core.config import load_config
from bot.core.i18n import Localized
from bot.storage import circles, events, organizers, outbox, people
from bot.storage.database import Database
from bot.storage.events import Draft


class FilePlatform(Adapter):
    platform = "file"
    capabilities = Capabilities(buttons=True, create_rooms=False, invite_links=False)

    def __init__(self, log: Path, idempotent: bool, in_flight: int = 0, slow_after: int | None = None) -> None:
        self.log = log
        self.idempotent_sends = idempotent
        self.capabilities = replace(FilePlatform.capabilities, sends_in_flight=in_flight)
        lines = log.read_text().splitlines() if log.exists() else []
        self.seen = {line.split("\t")[0] for line in lines}
        self.fh = log.open("a")
        # Past this many sends the pause grows (2 ms -> 50 ms): the test kills the process once it has
        # seen that many lines, and a loaded machine could otherwise let the whole fan-out finish first.
        self.slow_after = slow_after
        self.written = 0

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        if self.idempotent_sends and idempotency_key in self.seen:
            return Delivered()
        self.seen.add(idempotency_key)
        self.fh.write(f"{idempotency_key}\t{message.chat_id}\n")
        self.fh.flush()
        self.written += 1
        slow = self.slow_after is not None and self.written >= self.slow_after
        await asyncio.sleep(0.05 if slow else 0.002)
        return Delivered()

    async def invite(self, room_id: str, user_id: str, *, idempotency_key: str) -> InviteResult:
        return InviteResult(Delivered())


async def setup(core: Core, n: int, mixed: bool = False) -> None:
    db, now = core.db, core.clock.now()
    async with db.transaction():
        circle = None
        for i in range(n):
            person = await people.create(db, "file", f"u{i}", f"dm:u{i}", f"Voisin {i}", "fr", now)
            await people.update(db, person.id, place_id="nb:belleville", onboarded_at=to_iso(now))
            if i % 10 == 0:
                circle = await circles.create(db, "nb:belleville", now)
            await circles.add_member(db, circle.id, person.id, now)
        owner = await people.create(db, "file", "shop", "dm:shop", "Shop", "fr", now)
        organizer_id = await organizers.apply(db, owner.id, "Boulangerie", "shop", "", ["nb:belleville"], now)
        await organizers.decide(db, organizer_id, "approved", True, owner.id)
        draft = Draft("Atelier", now.replace(year=now.year + 1), "Salle", "Tricot", ("nb:belleville",))
        event_id = await events.create(db, organizer_id, draft, "pending", now)
        queued = await announcements.publish(core, db, event_id, now)
        if mixed:
            for i in range(0, n, 3):
                for text, cls in (("réponse", outbox.ANSWER), ("soin", outbox.CARE)):
                    queued += await core.queue_message(db, "file", f"dm:u{i}", Localized(text), (), now,
                                                       delivery_class=cls)
    print("published", queued, flush=True)


async def deliver(core: Core, platform: FilePlatform) -> None:
    async with core.db.transaction():
        await outbox.recover(core.db, "file", core.clock.now(), platform.idempotent_sends)
    while await core.deliver_due("file"):
        pass
    print("done", await outbox.counts(core.db), flush=True)
    by_class = await core.db.fetchall("SELECT delivery_class, status, COUNT(*) FROM outbox GROUP BY 1, 2")
    print("classes", {f"{r[0]}:{r[1]}": r[2] for r in by_class}, flush=True)


async def main(phase: str, db_path: str, log: str, n: int, mode: str) -> None:
    config = load_config()
    config = replace(config, places=replace(config.places, national=""))  # the communes are not needed here
    db = await Database.open(db_path)
    core = build_core(config, db, Content.load(config), SystemClock())
    platform = FilePlatform(Path(log), mode in ("idempotent", "mixed"), 4 if mode in ("plain4", "mixed4") else 0,
                            slow_after=n // 5 if phase == "setup" else None)  # the crash test kills at n // 5
    core.attach(platform)
    if phase == "setup":
        await setup(core, n, mixed=mode.startswith("mixed"))
    await deliver(core, platform)
    await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]))
