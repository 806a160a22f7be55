"""The bot (real Core + real MatrixAdapter) and residents (real nio clients) for end-to-end tests.

``Bot`` runs what ``voisinage run`` runs — the dispatcher, the Matrix sync loop and the delivery
worker as tasks — on a SQLite file, and can be stopped and started again on the same file, like a
restarted process. ``Resident`` is a person in Element, reduced to a nio client that syncs, reads the
bot's notices, answers by number and joins the rooms it is invited to.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import AsyncClient, JoinResponse, RoomCreateResponse, RoomPreset, RoomSendResponse, SyncResponse

from adapters.base import Adapter
from adapters.matrix import MatrixAdapter
from bot.assemble import build_core
from bot.core.app import Content, Core
from bot.core.clock import SystemClock
from bot.core.config import Config
from bot.storage import circles as circle_store
from bot.storage import people
from bot.storage.database import Database
from tests.waiting import eventually

from .synapse_server import RegisteredUser, SynapseServer

ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
_CHOICE_LINE = re.compile(r"^(\d+)\. (.*)$", re.MULTILINE)


async def circles_of(core: Core, user_ids: list[str]) -> set[int]:
    """The circles these Matrix residents were placed in, once each is checked to have finished their
    onboarding: "all in one circle" is ``len(...) == 1``."""
    found = set()
    for user_id in user_ids:
        person = await people.by_identity(core.db, "matrix", user_id)
        assert person is not None and person.onboarded, user_id
        circle = await circle_store.circle_of(core.db, person.id)
        assert circle is not None, user_id
        found.add(circle.id)
    return found


@dataclass
class Bot:
    server: SynapseServer
    account: RegisteredUser
    config: Config
    content: Content
    db_path: Path
    extra: list[Adapter] = field(default_factory=list)  # other platforms attached to the same core
    sync_timeout_ms: int = 30_000
    # The account budget the bot paces itself to: (per second, burst); None: unpaced on a server with
    # raised limits, the configured budget (Synapse's defaults) on a server with its default limits.
    rate: tuple[float, int] | None = None
    e2e: bool = False  # end-to-end encryption, its crypto store next to the database
    core: Core | None = None
    adapter: MatrixAdapter | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def start(self) -> Bot:
        db = await Database.open(self.db_path)
        self.core = build_core(self.config, db, self.content, SystemClock())
        rate = self.rate or ((0.0, 10) if self.server.raised_rate_limits
                             else (self.config.matrix.messages_per_second, self.config.matrix.burst))
        self.adapter = MatrixAdapter(
            self.server.base_url, self.account.user_id, access_token=self.account.access_token,
            sync_timeout_ms=self.sync_timeout_ms, messages_per_second=rate[0], burst=rate[1],
            store_path=str(self.db_path) + ".matrix-crypto" if self.e2e else "",
        )
        await self.adapter.connect(self.core)
        self.core.attach(self.adapter)
        for other in self.extra:
            self.core.attach(other)
        self.tasks = [
            asyncio.create_task(self.core.run_dispatcher()),
            asyncio.create_task(self.adapter.run(self.core)),
            *(asyncio.create_task(self.core.run_delivery(p)) for p in self.core.transports),
        ]
        await eventually(self._synced, what="the bot's first sync")
        return self

    async def _synced(self) -> bool:
        for task in self.tasks:
            if task.done():
                task.result()  # a crashed loop fails the test with its own error
        return self.adapter._synced.is_set()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []
        if self.adapter is not None:
            await self.adapter.close()
        if self.core is not None:
            await self.core.db.close()

    async def quiet(self, timeout: float = 15.0) -> None:
        """Wait until everything received is handled and everything queued is delivered (or failed)."""

        async def idle() -> bool:
            waiting = await self.scalar(
                "SELECT (SELECT COUNT(*) FROM inbox WHERE status = 'new') + "
                "(SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending'))"
            )
            return waiting == 0

        await eventually(idle, timeout, "the bot to be idle")

    async def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read in its own turn (``fetchall_alone``). The bot's tasks share this connection: a plain read
        could land inside the dispatcher's transaction half-way, where its events are already marked done
        and their answers (written at commit) not yet queued — ``quiet()`` then saw an idle bot that was
        not (failed a stress run: the next question had not been sent)."""
        return [tuple(r) for r in await self.core.db.fetchall_alone(sql, params)]

    async def scalar(self, sql: str, params: tuple = ()) -> Any:
        found = await self.rows(sql, params)
        return found[0][0] if found else None


@dataclass
class Resident:
    """A person on Matrix: a nio client with its own sync token and what it has seen, per room."""

    client: AsyncClient
    token: str | None = None
    seen: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    invited: list[str] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return self.client.user_id

    async def sync(self, timeout_ms: int = 0) -> None:
        """``timeout_ms``: wait that long for something new (a long poll spares a busy server). An e2e
        client (nio with a crypto store) also does its key upkeep, as Element does."""
        resp = await self.client.sync(timeout=timeout_ms, since=self.token)
        assert isinstance(resp, SyncResponse), resp
        if self.client.olm is not None:
            if self.client.should_upload_keys:
                await self.client.keys_upload()
            if self.client.should_query_keys:
                await self.client.keys_query()
            if self.client.should_claim_keys:
                await self.client.keys_claim(self.client.get_users_for_key_claiming())
        self.token = resp.next_batch
        for room_id, info in resp.rooms.join.items():
            self.seen.setdefault(room_id, []).extend(e.source for e in info.timeline.events)
        self.invited.extend(r for r in resp.rooms.invite if r not in self.invited)

    def messages(self, room_id: str, sender: str | None = None) -> list[dict[str, Any]]:
        return [
            e for e in self.seen.get(room_id, [])
            if e.get("type") == "m.room.message" and (sender is None or e.get("sender") == sender)
        ]

    async def wait_messages(self, room_id: str, sender: str, count: int, timeout: float = 15.0) -> list[dict]:
        """Sync until ``sender`` has written at least ``count`` messages in the room."""

        async def enough() -> list[dict] | None:
            await self.sync()
            got = self.messages(room_id, sender)
            return got if len(got) >= count else None

        return await eventually(enough, timeout, f"{count} messages from {sender} in {room_id}")

    async def open_chat_with(self, bot_user_id: str, *, encrypted: bool = False, trusted: bool = True) -> str:
        """What Element does for "start chat": a private room with the bot invited (``trusted``: the
        invitee gets the creator's power, as Element does for direct chats)."""
        resp = await self.client.room_create(
            preset=RoomPreset.trusted_private_chat if trusted else RoomPreset.private_chat,
            is_direct=True, invite=[bot_user_id],
            initial_state=[ENCRYPTION_STATE] if encrypted else (),
        )
        assert isinstance(resp, RoomCreateResponse), resp
        self.seen.setdefault(resp.room_id, [])
        return resp.room_id

    async def say(self, room_id: str, text: str) -> str:
        resp = await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text},
                                           ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), resp
        return resp.event_id

    async def join(self, room_id: str) -> None:
        assert isinstance(await self.client.join(room_id), JoinResponse)

    async def wait_invite(self, timeout: float = 15.0) -> str:
        async def invited() -> str | None:
            await self.sync()
            return self.invited[-1] if self.invited else None

        return await eventually(invited, timeout, "an invitation")


def choice_number(body: str, label_part: str) -> str:
    """The number of the first choice line whose label contains ``label_part`` (case-insensitive)."""
    for number, label in _CHOICE_LINE.findall(body):
        if label_part.lower() in label.lower():
            return number
    raise AssertionError(f"no choice like {label_part!r} in:\n{body}")


async def answer(resident: Resident, room_id: str, bot: Bot, text: str) -> dict[str, Any]:
    """Say something in the private chat and return the bot's last notice in answer to it."""
    before = len(resident.messages(room_id, bot.user_id))
    await resident.say(room_id, text)
    await resident.wait_messages(room_id, bot.user_id, before + 1)
    await bot.quiet()  # a step may answer with two notices: let the second arrive too
    await resident.sync()
    return resident.messages(room_id, bot.user_id)[-1]


async def onboard(resident: Resident, bot: Bot, place: str = "belleville", *, encrypted: bool = False) -> str:
    """The whole onboarding in a private chat, by numbered replies; returns the private room id."""
    dm = await resident.open_chat_with(bot.user_id, encrypted=encrypted)
    hello = (await resident.wait_messages(dm, bot.user_id, 1))[-1]
    assert hello["content"]["msgtype"] == "m.notice"
    last = await answer(resident, dm, bot, choice_number(hello["content"]["body"], "Oui"))
    last = await answer(resident, dm, bot, place)
    body = last["content"]["body"]
    if "Aucun de ceux-là" in body:  # several places matched: pick the first
        last = await answer(resident, dm, bot, "1")
    last = await answer(resident, dm, bot, choice_number(last["content"]["body"], "Continuer"))  # no interest
    await answer(resident, dm, bot, choice_number(last["content"]["body"], "animateur"))
    return dm
