"""The Matrix adapter: matrix-nio's ``AsyncClient`` driven by our own sync loop.

Receiving, with nothing lost and nothing handled twice: nio's ``sync_forever`` saves its token before
the callbacks run, so it is not used. Each ``sync(since=stored token)`` is converted whole, and its
events are written to the durable inbox together with its ``next_batch``, in one transaction; only
then does the loop ask for more. A restart resumes from the stored token (its first sync asks for the
full room state, so the rooms' members and encryption are known again). The very first start only
stores a token: history from before the bot was there is not handled.

Rooms: a room the bot is invited to is joined. A room that is not a circle room and has the bot and one
person is that person's private chat; when the bot joins it, the person's onboarding starts (a
``/start`` from them, keyed by the bot's join event). Events before the bot's own join are ignored.

Encrypted rooms (Element X makes every private chat encrypted): with a crypto store (``store_path``,
next to the database) and matrix-nio's e2e support, the bot is a full end-to-end device: it uploads
its keys, fetches its members' devices, decrypts what residents write and answers encrypted, sharing
its room keys with their devices (unverified devices included: residents never verify a bot). The
store keeps the device's keys, so a restart is the same device, still trusted. A message it cannot
decrypt (its key never reached the bot) gets one clear answer per session and a key request. Circle
rooms are created encrypted when ``encrypt_circles``. Without a store (or without the e2e extra) the
adapter never sends into an encrypted room, except once, a plain notice saying it cannot read the
room (recorded in ``matrix_rooms.encrypted_told_at``).

Delivering: bot messages are ``m.notice`` with an HTML and a plain body (``render``); the outbox's
idempotency key is the transaction id, so a resend after a crash cannot show a message twice.
Errors become Delivered / RetryLater / Undeliverable (``errors``).

Pacing: Synapse limits an *account*, not a room: every event the bot sends (messages, invites, joins,
room creation) draws on one budget (``rc_message``, 0.2/s after a burst of 10 by default). So the
adapter keeps one ``TokenBucket`` for the whole account: ``ready_in`` takes a slot for the outbox's
next item or says how long until one is free, and the outbox goes on with other rooms meanwhile and
comes back to the oldest waiting item first (fair: no room starved). An ``M_LIMIT_EXCEEDED`` holds
the whole account for the wait the server named (no exponential back-off per room: retries come one
by one as slots free up, not all at once), and is logged with its room and wait. Invitations are
joined by a task of their own, within the same budget, so a rate-limited join never stops the sync
loop from storing what residents write.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    JoinError,
    LocalProtocolError,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomResolveAliasResponse,
    RoomVisibility,
    SyncResponse,
    UploadResponse,
    WhoamiResponse,
)
from nio.crypto import ENCRYPTION_ENABLED

from adapters.base import Adapter, StartFailed
from adapters.matrix import render
from adapters.matrix.convert import RoomView, convert, first_name, is_own_departure, is_own_join
from adapters.matrix.errors import DEFAULT_RETRY_S, NETWORK_ERRORS, already_member, network, outcome
from bot.core.chat import (
    Address,
    Attachment,
    Capabilities,
    CommandIn,
    Delivered,
    FileTooBig,
    Incoming,
    InviteResult,
    Outgoing,
    PlatformBusy,
    RetryLater,
    RoomSpec,
    Sender,
    SendResult,
    Undeliverable,
)
from bot.core.clock import to_iso
from bot.core.i18n import LANGUAGES, Localized
from bot.core.pacing import TokenBucket
from bot.storage import circles as circle_store
from bot.storage import inbox, outbox, people

if TYPE_CHECKING:
    from bot.core.app import Core
    from bot.core.config import Matrix as MatrixConfig
    from bot.storage.database import Database

log = logging.getLogger(__name__)

# Circle rooms: residents talk; the bot (creator, unlimited power in room v12) and moderators and
# hosts (50) manage. Encryption needs 100, so nobody but the bot can make a circle unreadable to it.
CIRCLE_POWER_LEVELS: dict[str, Any] = {
    "invite": 50,
    "kick": 50,
    "ban": 50,
    "redact": 50,
    "state_default": 50,
    "events_default": 0,
    "users_default": 0,
    "events": {
        "m.room.name": 50,
        "m.room.topic": 50,
        "m.room.avatar": 50,
        "m.room.pinned_events": 50,
        "m.room.canonical_alias": 50,
        "m.room.power_levels": 100,
        "m.room.history_visibility": 100,
        "m.room.encryption": 100,
        "m.room.tombstone": 100,
        "m.room.server_acl": 100,
    },
}
ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
MUTED_LEVEL = -1  # below events_default: cannot post in the room
# Every bot message carries its outbox key: found again after Synapse forgot the transaction id.
OUTBOX_KEY = "org.voisinage.outbox_key"
LOOK_BACK = 50  # the bot's latest messages in a room searched for it
MODERATOR_LEVEL = 50
CIRCLE_ALIAS_PREFIX = "voisinage-circle-"  # the appservice's registration reserves these aliases
# The columns of matrix_rooms that ``_mark_room`` may set: the names are written into its SQL.
ROOM_COLUMNS = frozenset({"encrypted_told_at", "gone_at", "gone_reason", "invited_by"})
# A rate-limited room whose refused message has not come back this long after its wait is released.
RELEASE_AFTER_S = 120.0


@dataclass
class _Hold:
    """A room that answered M_LIMIT_EXCEEDED: ``key`` must be delivered before any other message."""

    key: str
    until: float  # time.monotonic()
    tries: int


def departure_reason(event: dict[str, Any], bot_user_id: str) -> str:
    """"kicked by @ana:hs", "banned by …" or "left": why the bot is no longer in a room."""
    membership = (event.get("content") or {}).get("membership")
    by = event.get("sender")
    if membership == "ban":
        return f"banned by {by}"
    if membership == "leave" and by and by != bot_user_id:
        return f"kicked by {by}"
    return "left"


class MatrixAdapter(Adapter):
    idempotent_sends = True
    # Sends need the first sync and the device's encryption keys, which live in the syncing process:
    # with several workers, the one holding the sync's lease also sends (bot/core/workers.py).
    sends_with_intake = True

    def __init__(
        self,
        homeserver: str,
        user_id: str,
        *,
        access_token: str = "",
        password: str = "",
        device_id: str = "",
        platform: str = "matrix",
        sync_timeout_ms: int = 30_000,
        request_timeout: float = 30.0,
        max_text: int = 16_000,
        messages_per_second: float = 0.2,
        burst: int = 10,
        store_path: str = "",
        encrypt_circles: bool = True,
    ) -> None:
        if not (access_token or password):
            raise ValueError("the Matrix bot needs an access token or a password")
        self.platform = platform
        self.capabilities = Capabilities(buttons=False, create_rooms=True, invite_links=False, max_text=max_text)
        self.user_id = user_id
        self.sync_timeout_ms = sync_timeout_ms
        self._access_token = access_token
        self._password = password
        self._device_id = device_id
        # max_limit_exceeded=0: a 429 comes back to us at once (nio would sleep and retry forever);
        # max_timeouts: a dead connection ends in an exception we turn into RetryLater.
        # e2e: a durable crypto store (the device's keys and sessions); sync tokens stay ours (inbox).
        self.e2e = bool(store_path) and ENCRYPTION_ENABLED
        if self.e2e:
            Path(store_path).mkdir(parents=True, exist_ok=True, mode=0o700)
        elif store_path:
            log.warning("Matrix: no end-to-end encryption support installed (pip install 'matrix-nio[e2e]'): "
                        "encrypted rooms cannot be read")
        self.encrypt_circles = encrypt_circles and self.e2e
        config = AsyncClientConfig(
            max_limit_exceeded=0, max_timeouts=2, request_timeout=request_timeout, store_sync_tokens=False,
            encryption_enabled=self.e2e,
        )
        self.client = AsyncClient(homeserver, user_id, device_id=device_id or None,
                                  store_path=store_path if self.e2e else "", config=config)
        self.core: Core | None = None
        self._synced = asyncio.Event()
        self._gone: dict[str, str] = {}  # room id -> why the bot is no longer there
        self._inviter: dict[str, str] = {}  # room id -> who invited the bot there
        self._told: set[str] = set()  # encrypted rooms already told that the bot cannot read them
        self._choices_event: dict[str, str] = {}  # room id -> the bot's latest message with choices
        self._holds: dict[str, _Hold] = {}  # room id -> the refused message that must go first, and until when
        self.rate_limited = 0  # how many M_LIMIT_EXCEEDED answers were waited out (for tests and benches)
        self.budget = TokenBucket(messages_per_second, burst)  # the account's, shared by all its rooms
        self._to_join: dict[str, None] = {}  # rooms the bot is invited to and will join, oldest first
        self._join_wanted = asyncio.Event()
        self._unreadable: set[tuple[str, str]] = set()  # (room, megolm session) already answered

    @classmethod
    def from_config(cls, matrix: MatrixConfig, **kwargs: Any) -> MatrixAdapter:
        kwargs.setdefault("messages_per_second", matrix.messages_per_second)
        kwargs.setdefault("burst", matrix.burst)
        kwargs.setdefault("encrypt_circles", matrix.encrypt_circles)
        return cls(
            matrix.homeserver, matrix.user_id, access_token=matrix.access_token, password=matrix.password, **kwargs
        )

    @property
    def db(self) -> Database:
        assert self.core is not None, "connect(core) first"
        return self.core.db

    # ---- starting and stopping ----------------------------------------------------------------

    async def connect(self, core: Core) -> None:
        """Log in (reusing the stored device) and load what the adapter remembers about rooms."""
        self.core = core
        await self._load_rooms()
        stored_device = await self._state("device_id")
        if self._access_token:
            device = self._device_id or stored_device or ""
            if not device:  # the token's own device, asked once and then stored
                # (restore_login needs the device: with e2e installed it opens that device's store)
                self.client.user_id, self.client.access_token = self.user_id, self._access_token
                whoami = await self.client.whoami()
                if not isinstance(whoami, WhoamiResponse) or not whoami.device_id:
                    raise StartFailed(f"Matrix: the access token was refused by the homeserver ({whoami})")
                device = whoami.device_id
            self.client.restore_login(self.user_id, device, self._access_token)
        else:
            # nio 0.26's login() takes no device_id: it logs in as the client's own device_id, so the
            # stored device is set there first (residents' clients then see the same device each start).
            self.client.device_id = self._device_id or stored_device or self.client.device_id
            resp = await self.client.login(self._password, device_name="Voisinage")
            if not isinstance(resp, LoginResponse):
                raise StartFailed(f"Matrix: login refused for {self.user_id} ({resp})")
            device = resp.device_id
        async with self.db.transaction():
            await self._set_state("device_id", device)
        log.info("Matrix: connected as %s (device %s%s)", self.user_id, device,
                 ", end-to-end encryption on" if self.e2e else "")
        await self._crypto_chores()

    async def _load_rooms(self) -> None:
        rows = await self.db.fetchall("SELECT room_id, encrypted_told_at, gone_reason, invited_by FROM matrix_rooms")
        self._told = {r["room_id"] for r in rows if r["encrypted_told_at"]}
        self._gone = {r["room_id"]: r["gone_reason"] for r in rows if r["gone_reason"]}
        self._inviter = {r["room_id"]: r["invited_by"] for r in rows if r["invited_by"]}

    async def close(self) -> None:
        """An open aiohttp session keeps the process alive: always close."""
        await self.client.close()

    # ---- receiving ----------------------------------------------------------------------------

    async def run(self, core: Core) -> None:
        """Sync until cancelled. Every batch is in the inbox, with its token, before the next one."""
        if self.core is None:
            await self.connect(core)
        token = await inbox.get_cursor(self.db, self.platform)
        history = token is not None  # first start ever: keep the token, ignore what came before
        full_state = True
        pause = 1.0
        joiner = asyncio.create_task(self._join_invited())
        try:
            await self._sync_loop(token, history, full_state, pause)
        finally:
            joiner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await joiner

    async def _sync_loop(self, token: str | None, history: bool, full_state: bool, pause: float) -> None:
        while True:
            try:
                resp = await self.client.sync(
                    timeout=0 if full_state else self.sync_timeout_ms, since=token, full_state=full_state or None
                )
            except NETWORK_ERRORS as exc:
                log.warning("matrix sync failed (%s); retrying in %.0f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60)
                continue
            if not isinstance(resp, SyncResponse):
                wait = (resp.retry_after_ms or 0) / 1000 if isinstance(resp, ErrorResponse) else 0
                log.warning("matrix sync refused (%s); retrying in %.0f s", resp, max(wait, pause))
                await asyncio.sleep(max(wait, pause))
                pause = min(pause * 2, 60)
                continue
            pause = 1.0
            first = not self._synced.is_set()
            await self._take(resp, history)
            await self._crypto_chores()
            token, history, full_state = resp.next_batch, True, False
            if first:
                self._rejoin_pending()
            self._synced.set()

    async def _take(self, resp: SyncResponse, history: bool) -> None:
        """Store the batch's events and its token; invitations go to the joining task."""
        self.heard_from_platform()
        await self._note_inviters(resp)
        for room_id in resp.rooms.invite:
            self._want_join(room_id)
        for room_id in (*resp.rooms.join, *resp.rooms.leave):
            self._to_join.pop(room_id, None)
        gone: dict[str, str] = {}
        for room_id, info in resp.rooms.leave.items():
            departures = [e.source for e in info.timeline.events if is_own_departure(e.source, self.user_id)]
            gone[room_id] = departure_reason(departures[-1] if departures else {}, self.user_id)
        events: list[Incoming] = []
        back: set[str] = set()
        unreadable: list[MegolmEvent] = []
        for room_id, info in resp.rooms.join.items():
            if history:
                unreadable.extend(e for e in info.timeline.events if isinstance(e, MegolmEvent)
                                  and e.sender != self.user_id)
            sources = [e.source for e in info.timeline.events]
            joins = [i for i, e in enumerate(sources) if is_own_join(e, self.user_id)]
            if joins:
                sources = sources[joins[-1]:]  # nothing from before the bot came in
                back.add(room_id)
            if history:
                events.extend(await self._convert_room(room_id, sources))
        async with self.db.transaction():
            now = to_iso(self.core.clock.now())
            for room_id, reason in gone.items():
                await self._mark_room(room_id, gone_at=now, gone_reason=reason)
            for room_id in back & set(self._gone):
                await self._mark_room(room_id, gone_at=None, gone_reason=None)
            await self._answer_unreadable(unreadable)
            await self._within_batch(resp, len(events))
            await inbox.accept(self.db, self.platform, events, self._cursor(resp), self.core.clock.now())
            # Known in memory before the commit makes it visible: a send right after must see it. (On a
            # rollback the token stays, and the same departures come again with the next sync.)
            for room_id in back:
                self._gone.pop(room_id, None)
            self._gone.update(gone)
        if events:
            self.core.inbox_ready(len(events))
        if unreadable:
            self.core.wake_outbox()
            await self._request_keys(unreadable)
        await self._tell_encrypted_rooms()

    def _cursor(self, resp: SyncResponse) -> str | None:
        """The platform cursor stored with a batch: the sync token (the appservice mode has none)."""
        return resp.next_batch

    async def _within_batch(self, resp: SyncResponse, events: int) -> None:
        """Called inside the transaction that stores a batch (the appservice mode records its id)."""

    # ---- end-to-end encryption ----------------------------------------------------------------

    async def _crypto_chores(self) -> None:
        """What an e2e device does between syncs: upload its keys, learn its members' devices, claim
        one-time keys for new ones (room_send then shares the room key with them)."""
        if not self.e2e or self.client.olm is None:
            return
        client = self.client
        try:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
        except (*NETWORK_ERRORS, LocalProtocolError) as exc:
            log.warning("matrix: key upkeep failed (%s); trying after the next sync", exc)

    async def _answer_unreadable(self, events: list[MegolmEvent]) -> None:
        """One clear answer per private chat and session the bot has no key for (the resident's app did
        not share it: usually it comes a moment later, and the key request below asks for it). In a
        circle's room the bot only asks for the key: a notice there would speak to the whole circle."""
        for event in events:
            room_id = event.room_id or ""
            key = (room_id, event.session_id)
            if not room_id or key in self._unreadable or self._private_person(room_id) != event.sender:
                continue
            self._unreadable.add(key)
            first = self.core.config.deployment.language
            lang = await self._language_of(event.sender) or first
            text = self.core.translator(lang)("matrix-undecryptable")
            message = Outgoing(self.platform, room_id, text)
            dedupe = "undecryptable:" + hashlib.sha1(f"{room_id}|{event.session_id}".encode()).hexdigest()[:24]
            await outbox.add(self.db, self.platform, "message", room_id, message.to_json(), self.core.clock.now(),
                             dedupe_key=dedupe)

    async def _language_of(self, user_id: str) -> str | None:
        person = await people.by_identity(self.db, self.platform, user_id)
        return person.language if person is not None and person.language else None

    async def _request_keys(self, events: list[MegolmEvent]) -> None:
        for event in events:
            try:
                await self.client.request_room_key(event)
            except (*NETWORK_ERRORS, LocalProtocolError) as exc:  # already requested, or offline
                log.info("matrix: no key request for %s (%s)", event.event_id, exc)

    # ---- joining the rooms the bot is invited to ----------------------------------------------

    def _want_join(self, room_id: str) -> None:
        self._to_join.setdefault(room_id, None)
        self._join_wanted.set()

    def _rejoin_pending(self) -> None:
        """After a restart: invitations recorded (``invited_by``) but not joined yet are joined now (an
        incremental sync does not bring an invitation twice)."""
        for room_id in self._inviter:
            if room_id not in self.client.rooms and room_id not in self._gone:
                self._want_join(room_id)

    async def _join_invited(self) -> None:
        """Join invitations one by one, oldest first, within the account's budget. A join the server
        refuses for its limit waits here, never in the sync loop: residents' messages keep being stored.
        The bot's join comes back in a later sync, which starts the person's onboarding."""
        while True:
            await self._join_wanted.wait()
            self._join_wanted.clear()
            while self._to_join:
                room_id = next(iter(self._to_join))
                await self.budget.take()
                try:
                    wait = await self._join(room_id)
                except Exception:  # a bug or the database: logged, and this task goes on joining
                    log.exception("joining %s failed", room_id)
                    wait = DEFAULT_RETRY_S
                if wait:
                    await asyncio.sleep(wait)
                else:
                    self._to_join.pop(room_id, None)

    async def _join(self, room_id: str) -> float:
        """One join: 0.0 when done with this room (joined, or refused for good), else seconds to wait."""
        try:
            resp = await self.client.join(room_id)
        except NETWORK_ERRORS as exc:
            log.warning("joining %s failed (%s): trying again", room_id, exc)
            return DEFAULT_RETRY_S
        if not isinstance(resp, JoinError):
            return 0.0
        result = outcome(resp)
        if isinstance(result, RetryLater):
            if _limit_exceeded(result):
                self._rate_limited("a join", room_id, result.seconds)  # joins have their own limit too
            else:
                log.warning("joining %s must wait: %s", room_id, result.reason)
            return max(result.seconds, 0.1)
        log.warning("could not join %s: %s", room_id, result)
        await self._forget_invitation(room_id, result)
        return 0.0

    async def _forget_invitation(self, room_id: str, result: SendResult) -> None:
        """An invitation that cannot be joined (withdrawn, the room gone) is not tried at every restart."""
        reason = f"could not join: {getattr(result, 'reason', result)}"[:200]
        async with self.db.transaction():
            await self._mark_room(room_id, gone_at=to_iso(self.core.clock.now()), gone_reason=reason)
        self._gone[room_id] = reason

    def _rate_limited(self, what: str, room_id: str, seconds: float) -> None:
        """Every M_LIMIT_EXCEEDED, logged with its room and wait, and counted (``/metrics``)."""
        self.rate_limited += 1
        log.info("matrix: M_LIMIT_EXCEEDED for %s in %s: waiting %.1f s", what, room_id, seconds)
        if self.core is not None and what == "a join":  # refused sends are counted by the outbox
            self.core.counters.add("rate_limited", platform=self.platform)

    async def _note_inviters(self, resp: SyncResponse) -> None:
        """Who invited the bot, from each invitation's own member event, stored before the bot joins."""
        found: dict[str, str] = {}
        for room_id, info in resp.rooms.invite.items():
            for event in info.invite_state:  # nio's parsed events (their ``source`` lacks the content)
                if (isinstance(event, InviteMemberEvent) and event.state_key == self.user_id
                        and event.membership == "invite" and event.sender):
                    found[room_id] = event.sender
        if not found:
            return
        async with self.db.transaction():
            for room_id, sender in found.items():
                await self._mark_room(room_id, invited_by=sender)
        self._inviter.update(found)

    async def _convert_room(self, room_id: str, sources: list[dict[str, Any]]) -> list[Incoming]:
        room = self.client.rooms.get(room_id)
        view = await self._view(room_id)
        encrypted = bool(room and room.encrypted)
        found: list[Incoming] = []
        for source in sources:
            if is_own_join(source, self.user_id):
                if view.private and (self.e2e or not encrypted) and (start := await self._start_from(view, source)):
                    found.append(start)
                continue
            if encrypted and view.private and not self.e2e:
                continue  # nothing can be answered there; the room was told once why
            event = convert(source, view, self.user_id, self.platform)
            if event is not None:
                found.append(event)
        return found

    async def _view(self, room_id: str) -> RoomView:
        """A room is someone's private chat when it is no circle room and holds the bot and one person,
        who has joined it, with no one else invited, and who invited the bot (when that is known: rooms
        from before it was recorded). Otherwise anyone could invite the bot and a victim into a room and
        have the victim's check-ins and moderators' notices sent there."""
        room = self.client.rooms.get(room_id)
        circle = await circle_store.room_by_chat(self.db, self.platform, room_id)
        return RoomView(
            room_id,
            private=circle is None and self._private_person(room_id) is not None,
            choices_event=self._choices_event.get(room_id),
            display_name=(room.user_name if room else (lambda _u: None)),
        )

    def _private_person(self, room_id: str) -> str | None:
        """The one person whose private chat with the bot this room is, if it is one."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return None
        joined = set(room.users) - {self.user_id}
        invited = set(room.invited_users) - {self.user_id}
        if len(joined) != 1 or invited:
            return None
        person = next(iter(joined))
        inviter = self._inviter.get(room_id)
        return person if inviter is None or inviter == person else None

    async def _start_from(self, view: RoomView, join: dict[str, Any]) -> Incoming | None:
        """The bot was invited into a private chat and joined it: the person's onboarding begins. Not for
        someone who already has a private chat with the bot elsewhere: an event the bot makes up never
        moves where their messages go (their own first message in this room will, if they write)."""
        person = self._private_person(view.room_id)
        if person is None:
            return None
        known = await people.by_identity(self.db, self.platform, person)
        if known is not None:
            chats = {i.private_chat_id for i in await people.identities(self.db, known.id)
                     if i.platform == self.platform and not i.unreachable_at and i.private_chat_id not in self._gone}
            if chats - {view.room_id}:
                return None
        room = self.client.rooms[view.room_id]
        return Incoming(
            Address(self.platform, view.room_id, person, private=True),
            CommandIn("start"),
            Sender(first_name=first_name(room.user_name(person), person)),
            external_id=join["event_id"],
        )

    # ---- encrypted rooms ----------------------------------------------------------------------

    async def _tell_encrypted_rooms(self) -> None:
        if self.e2e:
            return  # it reads them
        for room_id, room in list(self.client.rooms.items()):
            if not room.encrypted or room_id in self._told or room_id in self._gone:
                continue
            content = render.content(Outgoing(self.platform, room_id, self._encrypted_notice()))
            # The one plaintext message ever sent into an encrypted room, by design: it says why the
            # bot stays silent there. A fixed transaction id keeps it single across a crash.
            tx_id = "voisinage-encrypted-" + hashlib.sha1(room_id.encode()).hexdigest()[:16]
            try:
                resp = await self.client.room_send(room_id, "m.room.message", content, tx_id=tx_id)
            except NETWORK_ERRORS as exc:
                log.warning("could not tell encrypted room %s yet: %s", room_id, exc)
                continue
            if isinstance(resp, ErrorResponse):
                log.warning("could not tell encrypted room %s yet: %s", room_id, resp)
                continue
            async with self.db.transaction():
                await self._mark_room(room_id, encrypted_told_at=to_iso(self.core.clock.now()))
            self._told.add(room_id)

    def _encrypted_notice(self) -> Localized:
        """Both languages, the deployment's first: whoever invited the bot may not have chosen yet."""
        first = self.core.config.deployment.language
        langs = [first, *(lang for lang in LANGUAGES if lang != first)]
        return Localized.join([self.core.translator(lang)("matrix-encrypted-room", bot=self.user_id) for lang in langs],
                              "\n\n")

    # ---- delivering ---------------------------------------------------------------------------

    invites_on_create = True  # createRoom's ``invite``: see ``create_room``

    @property
    def answers_first(self) -> bool:
        """Under a limit on the account, circle rooms wait for people's answers (``bot.core.pacing``)."""
        return self.budget.per_second > 0

    def ready_in(self, chat_id: str) -> float:
        """0.0: go now, a slot of the account's budget is taken for this item. Otherwise how long this
        room must wait (its refused message goes first) or the account must (no slot free). At least a
        second, because the outbox stores times to the second: a shorter wait would be due at once."""
        hold = self._holds.get(chat_id)
        if hold is not None:
            left = hold.until - time.monotonic()
            if left > 0:
                return max(left, 1.0)
            if -left > RELEASE_AFTER_S:  # the refused message never came back (dropped, forgotten)
                del self._holds[chat_id]
        wait = self.budget.reserve()
        return max(wait, 1.0) if wait > 0 else 0.0

    async def send(self, message: Outgoing, *, idempotency_key: str) -> SendResult:
        room_id = message.chat_id
        refused = self._refuse(room_id)
        if refused is not None:
            return refused
        try:
            if message.attachment is not None:
                attached = await self._send_file(room_id, message.attachment, idempotency_key + "-file")
                if not isinstance(attached, Delivered):
                    return self._noted(room_id, idempotency_key, attached)
            content = {**render.content(message), OUTBOX_KEY: idempotency_key}
            resp = await self.client.room_send(room_id, "m.room.message", content, tx_id=idempotency_key,
                                               ignore_unverified_devices=True)
        except NETWORK_ERRORS as exc:
            return network(exc)
        except LocalProtocolError as exc:  # e2e: the room's members or keys are not known yet
            return RetryLater(DEFAULT_RETRY_S, f"encryption not ready: {exc}"[:300])
        result = self._noted(room_id, idempotency_key, outcome(resp, getattr(resp, "event_id", "")))
        if isinstance(result, Delivered) and message.choices:
            self._choices_event[room_id] = result.external_id
        return result

    async def already_sent(self, room_id: str, key: str) -> str | None:
        """The id of the bot's message carrying ``key`` among its latest in the room, if there is one.
        Asked by the outbox before sending an item again (it was tried before): Synapse recognises a
        repeated transaction id only for a while and not across its restart, the key in the content
        stays. None when it is not there, or the room cannot be read now (the transaction id still
        protects the resend while Synapse remembers it)."""
        try:
            resp = await self.client.room_messages(
                room_id, limit=LOOK_BACK,
                message_filter={"senders": [self.user_id], "types": ["m.room.message", "m.room.encrypted"]},
            )
        except NETWORK_ERRORS as exc:
            log.warning("could not look for an earlier send in %s: %s", room_id, exc)
            return None
        if not isinstance(resp, RoomMessagesResponse):
            return None
        for event in resp.chunk:
            if isinstance(event, MegolmEvent):  # the bot's own encrypted messages: it holds their keys
                try:
                    event = self.client.decrypt_event(event)
                except Exception:
                    continue
            source = getattr(event, "source", {}) or {}
            if (source.get("content") or {}).get(OUTBOX_KEY) == key:
                return str(source.get("event_id") or "")
        return None

    def _refuse(self, room_id: str) -> SendResult | None:
        if room_id in self._gone:
            return Undeliverable(f"the bot is no longer in this room ({self._gone[room_id]})")
        if not self._synced.is_set():
            return RetryLater(1.0, "waiting for the first sync")
        room = self.client.rooms.get(room_id)
        if room is not None and room.encrypted and not self.e2e:
            return Undeliverable("encrypted room: the bot cannot write there (it said so once)")
        return None  # order within a room is the outbox's job: later messages wait behind a refused one

    def _noted(self, room_id: str, key: str, result: SendResult) -> SendResult:
        """Remember a rate-limited room (and which message must go first); forget it once that one went."""
        hold = self._holds.get(room_id)
        if isinstance(result, RetryLater) and _limit_exceeded(result):
            self._rate_limited("a message", room_id, result.seconds)
            self.budget.hold(result.seconds)
            tries = hold.tries + 1 if hold is not None and hold.key == key else 1
            # The outbox re-queues the refused message after the server's wait (no back-off of its own).
            self._holds[room_id] = _Hold(key, time.monotonic() + result.seconds, tries)
        elif hold is not None and hold.key == key and not isinstance(result, RetryLater):
            del self._holds[room_id]
        return result

    async def _send_file(self, room_id: str, attachment: Attachment, tx_id: str) -> SendResult:
        uploaded, _ = await self.client.upload(
            io.BytesIO(attachment.data), content_type=attachment.mime_type, filename=attachment.filename,
            filesize=len(attachment.data),
        )
        if not isinstance(uploaded, UploadResponse):
            return outcome(uploaded)
        msgtype = "m.image" if attachment.mime_type.startswith("image/") else "m.file"
        content = {
            "msgtype": msgtype,
            "body": attachment.filename,
            "url": uploaded.content_uri,
            "info": {"mimetype": attachment.mime_type, "size": len(attachment.data)},
        }
        resp = await self.client.room_send(room_id, "m.room.message", content, tx_id=tx_id,
                                           ignore_unverified_devices=True)
        return outcome(resp, getattr(resp, "event_id", ""))

    async def create_room(self, spec: RoomSpec) -> str:
        """A private room for a circle; the bot is its creator (never listed: room v12). Whoever the
        room is made for is invited by the creation itself (``invites_on_create``): Synapse counts one
        event against the account, not two.

        The room gets an alias made from the circle and this database's salt. A crash between creating
        the room and storing it left an orphan room, and a second one was created on the next try; now
        the next try finds the alias taken and takes that room again."""
        alias = await self._circle_alias(spec.circle_id)
        resp = await self.client.room_create(
            alias=alias,
            visibility=RoomVisibility.private,
            name=render.room_name(spec.name),
            topic=render.room_name(spec.topic),
            preset=RoomPreset.private_chat,
            invite=list(spec.invite),
            power_level_override=CIRCLE_POWER_LEVELS,
            initial_state=[
                # Newcomers read the circle from their invitation on, not its whole past.
                {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "invited"}},
                {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
                *([ENCRYPTION_STATE] if self.encrypt_circles else []),
            ],
        )
        if isinstance(resp, RoomCreateResponse):
            return resp.room_id
        limited = outcome(resp)
        if isinstance(limited, RetryLater) and _limit_exceeded(limited):
            self._account_limit("a new room", f"circle {spec.circle_id}", limited)
            raise PlatformBusy(limited.seconds, limited.reason)
        if isinstance(resp, ErrorResponse) and resp.status_code == "M_ROOM_IN_USE":  # created before a crash
            server = self.user_id.partition(":")[2]
            found = await self.client.room_resolve_alias(f"#{alias}:{server}")
            if isinstance(found, RoomResolveAliasResponse):
                log.info("the room of circle %s was created before (%s): taken again", spec.circle_id, found.room_id)
                await self._invite_on_create(found.room_id, spec)
                return found.room_id
            resp = found
        raise RuntimeError(f"Matrix refused to create the room for circle {spec.circle_id}: {resp}")

    async def _circle_alias(self, circle_id: int) -> str:
        """The local part of a circle room's alias: deterministic (found again after a crash), unique to
        this database, and unguessable (a hash with its salt, which message keys show, so the aliases of
        other circles cannot be worked out from it): no one can take it first or find the rooms."""
        salt = await outbox.instance_salt(self.db)
        # A second Matrix account of the same bot (platform "matrix-b") has rooms of its own: its own
        # aliases (the first account's stay as they were).
        scope = "" if self.platform == "matrix" else f":{self.platform}"
        return CIRCLE_ALIAS_PREFIX + hashlib.sha256(f"{salt}:circle:{circle_id}{scope}".encode()).hexdigest()[:24]

    async def remove_member(self, room_id: str, user_id: str, *, ban: bool = False) -> SendResult:
        """Out of the circle's room: kicked (may be invited again), or banned."""
        if room_id in self._gone:
            return Delivered()  # the bot is not in that room any more: nothing to leave
        try:
            # The reason shows in the room's history: in the deployment's language, from the catalogue.
            assert self.core is not None
            reason = str(self.core.t_default("matrix-ban-reason" if ban else "matrix-kick-reason"))
            if ban:
                resp = await self.client.room_ban(room_id, user_id, reason=reason)
            else:
                resp = await self.client.room_kick(room_id, user_id, reason=reason)
        except NETWORK_ERRORS as exc:
            return network(exc)
        return self._account_limit("a removal", room_id, outcome(resp))

    async def mute_member(self, room_id: str, user_id: str, until: datetime) -> SendResult:
        """A member who flooded their circle's room cannot write there: a power level below the room's
        events_default (0). The core gives their level back at ``until`` (a "power" outbox item)."""
        return await self.set_power_level(room_id, user_id, MUTED_LEVEL)

    async def fetch_file(self, ref: str, max_bytes: int) -> bytes:
        """A file a resident sent (an mxc:// URI), downloaded from the homeserver only when asked.

        Streamed, never read whole before the size check (nio's ``download`` keeps the whole body in
        memory): a declared size above ``max_bytes`` is refused before reading, and reading stops as
        soon as the limit is passed."""
        parts = urlsplit(ref)
        if parts.scheme != "mxc" or not parts.netloc or not parts.path.strip("/"):
            raise ValueError(f"not an mxc:// URI: {ref[:100]}")
        server, media = quote(parts.netloc, safe=""), quote(parts.path.strip("/"), safe="")
        path = f"/_matrix/client/v1/media/download/{server}/{media}"
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session, \
                session.get(self.client.homeserver + path, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"download of {ref} failed: HTTP {response.status}")
            if response.content_length is not None and response.content_length > max_bytes:
                raise FileTooBig(ref)
            body = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FileTooBig(ref)
        return bytes(body)

    async def _invite_on_create(self, room_id: str, spec: RoomSpec) -> None:
        """A room created before a crash is taken again: its first members are invited now, as its
        creation would have (refused: the whole creation is tried again later)."""
        for user_id in spec.invite:
            result = (await self.invite(room_id, user_id, idempotency_key="")).outcome
            if isinstance(result, RetryLater):
                raise PlatformBusy(result.seconds, result.reason)
            if not isinstance(result, Delivered):
                raise RuntimeError(f"could not invite {user_id} into the room of circle {spec.circle_id}: {result}")

    async def invite(self, room_id: str, user_id: str, *, idempotency_key: str) -> InviteResult:
        if room_id in self._gone:
            return InviteResult(Undeliverable(f"the bot is no longer in this room ({self._gone[room_id]})"))
        try:
            resp = await self.client.room_invite(room_id, user_id)
            if _banned(resp):  # banned from the circle before, let back in since (/unban): lift it here too
                await self.client.room_unban(room_id, user_id)
                resp = await self.client.room_invite(room_id, user_id)
        except NETWORK_ERRORS as exc:
            return InviteResult(network(exc))
        if already_member(resp):
            return InviteResult(Delivered())
        return InviteResult(self._account_limit("an invitation", room_id, outcome(resp)))

    async def set_power_level(self, room_id: str, user_id: str, level: int = MODERATOR_LEVEL) -> SendResult:
        """Give a moderator or circle host power in a circle room (0 takes it back)."""
        try:
            current = await self.client.room_get_state_event(room_id, "m.room.power_levels")
            if not isinstance(current, RoomGetStateEventResponse):
                return outcome(current)
            content = dict(current.content)
            users = dict(content.get("users") or {})
            if level:
                users[user_id] = level
            else:
                users.pop(user_id, None)
            content["users"] = users
            resp = await self.client.room_put_state(room_id, "m.room.power_levels", content)
        except NETWORK_ERRORS as exc:
            return network(exc)
        return self._account_limit("a power level", room_id, outcome(resp))

    def _account_limit(self, what: str, room_id: str, result: SendResult) -> SendResult:
        """An event refused for the account's limit: the whole account waits, not only this room."""
        if isinstance(result, RetryLater) and _limit_exceeded(result):
            self._rate_limited(what, room_id, result.seconds)
            self.budget.hold(result.seconds)
        return result

    # ---- what the adapter remembers -----------------------------------------------------------

    async def _state(self, key: str) -> str | None:
        return await self.db.scalar("SELECT value FROM matrix_state WHERE key = ?", (f"{self.platform}:{key}",))

    async def _set_state(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO matrix_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (f"{self.platform}:{key}", value),
        )

    async def _mark_room(self, room_id: str, **values: str | None) -> None:
        await self.db.execute(
            "INSERT INTO matrix_rooms (room_id) VALUES (?) ON CONFLICT (room_id) DO NOTHING", (room_id,)
        )
        for column, value in values.items():
            if column not in ROOM_COLUMNS:  # a real check, not an assert (python -O removes those)
                raise ValueError(f"matrix_rooms has no column {column!r}")
            await self.db.execute(f"UPDATE matrix_rooms SET {column} = ? WHERE room_id = ?", (value, room_id))


def _limit_exceeded(result: RetryLater) -> bool:
    return result.reason.startswith("M_LIMIT_EXCEEDED")


def _banned(resp: object) -> bool:
    return isinstance(resp, ErrorResponse) and "banned" in (resp.message or "").lower()
