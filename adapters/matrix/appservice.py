"""The Matrix adapter as an application service: the homeserver pushes events, the bot is not throttled.

For whoever runs the homeserver. ``voisinage matrix-registration`` writes the registration file (the
bot's user in an exclusive namespace, ``rate_limited: false``); the homeserver then pushes what
happens in the bot's rooms with ``PUT /_matrix/app/v1/transactions/{txnId}`` (authenticated by the
hs_token) and repeats a transaction until it gets a 2xx.

Exactly once: a transaction's events go into the durable inbox together with its id, in one database
transaction, and the push is acknowledged only after the commit. A repeated id (the answer was lost,
the bot crashed before answering, the homeserver restarted) is acknowledged without being handled
again. Malformed bodies get 400 and store nothing; a wrong token 403, none 401.

Everything else is the plain adapter's: a pushed transaction is shaped as a sync batch (joined rooms'
timelines, invitations with their stripped state, rooms left) and goes through the same ``_take``,
so private chats, onboarding starts, departures and invitations work as with a sync. What a sync
gives and a push does not, the state of a room the bot just entered, is read once from the
homeserver (``/rooms/{id}/state``), as are the bot's rooms at start.

Sends use the as_token as the bot's own user (the registration's sender): no login, no /sync. The
account budget is off (the service is not rate limited); a 429 the homeserver still answers is
honoured as in the plain mode.

No end-to-end encryption: a device needs to-device messages (room keys) and device-list updates,
which an application service only gets through MSC2409/MSC3202 (what mautrix bridges use, with
Synapse's experimental flags); matrix-nio speaks neither. So the configuration refuses
``encrypt_circles`` in this mode, and an encrypted room is told once that the bot cannot read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from nio import JoinedRoomsResponse, RoomGetStateResponse, SyncResponse, WhoamiResponse

from adapters.base import StartFailed
from adapters.matrix.adapter import CIRCLE_ALIAS_PREFIX, MatrixAdapter
from adapters.matrix.errors import NETWORK_ERRORS
from bot.core.clock import to_iso
from bot.storage import inbox

if TYPE_CHECKING:
    from bot.core.app import Core
    from bot.core.config import Matrix as MatrixConfig
    from bot.core.config import Web as WebConfig

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFIXES = ("/_matrix/app/v1", "")  # the spec's paths, and the legacy unprefixed ones of older homeservers
MAX_BODY = 32 * 1024 * 1024  # a transaction holds up to 100 events of up to 64 KiB (and ephemeral ones)
CONTACT_EVERY_S = 60.0  # how often a quiet bot checks the homeserver still knows its token (healthz)


class AlreadyTaken(Exception):
    """The transaction was stored by an earlier push: roll back, acknowledge, handle nothing."""


def _on_web(handler: Handler) -> Callable[[Core, web.Request], Awaitable[web.StreamResponse]]:
    """A route of the [web] server receives the core first; ours do not need it."""
    async def route(_core: Core, request: web.Request) -> web.StreamResponse:
        return await handler(request)
    return route


def _error(status: int, errcode: str, message: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": message}, status=status)


class AppserviceAdapter(MatrixAdapter):
    def __init__(self, homeserver: str, user_id: str, *, as_token: str, hs_token: str,
                 host: str = "127.0.0.1", port: int = 8009, **kwargs: Any) -> None:
        if not (as_token and hs_token):
            raise ValueError("the appservice needs its as_token and hs_token")
        kwargs.update(messages_per_second=0.0, store_path="", encrypt_circles=False)
        super().__init__(homeserver, user_id, access_token=as_token, **kwargs)
        self.hs_token = hs_token
        self.host, self.port = host, port
        self.repeated = 0  # pushes acknowledged without handling (a transaction id seen before)
        self._txn_id = ""  # the transaction being stored, recorded by _within_batch
        self._taking = asyncio.Lock()
        self._runner: web.AppRunner | None = None

    @classmethod
    def from_config(cls, matrix: MatrixConfig, **kwargs: Any) -> AppserviceAdapter:
        return cls(matrix.homeserver, matrix.user_id, as_token=matrix.as_token, hs_token=matrix.hs_token,
                   host=matrix.appservice_host, port=matrix.appservice_port, **kwargs)

    # ---- starting and stopping ----------------------------------------------------------------

    async def connect(self, core: Core) -> None:
        """No login: the as_token is the bot's. Checked once, then the bot's rooms are read."""
        self.core = core
        await self._load_rooms()
        self.client.user_id, self.client.access_token = self.user_id, self._access_token
        whoami = await self.client.whoami()
        if not isinstance(whoami, WhoamiResponse) or whoami.user_id != self.user_id:
            raise StartFailed(f"Matrix: the homeserver refused the appservice token for {self.user_id} ({whoami}); "
                              "is the registration file installed (app_service_config_files) and the homeserver "
                              "restarted?")
        self.heard_from_platform()
        await self._learn_rooms()
        if self.port:  # listening before the first push can come, and a busy port said at start
            try:
                await self._serve()
            except OSError as exc:
                raise StartFailed(f"Matrix appservice: cannot listen on {self.host}:{self.port} "
                                  f"({exc.strerror or exc}); choose another [matrix] appservice_port (and write "
                                  "the registration again)") from None
        log.info("Matrix: connected as the application service of %s", self.user_id)

    async def _learn_rooms(self) -> None:
        """What a first full sync tells the plain adapter: the bot's rooms and their members."""
        joined = await self.client.joined_rooms()
        if not isinstance(joined, JoinedRoomsResponse):
            raise StartFailed(f"Matrix: cannot list the bot's rooms ({joined})")
        rooms = {}
        for room_id in joined.rooms:
            state = await self._room_state(room_id)
            if state is not None:
                rooms[room_id] = {"timeline": {"events": []}, "state": {"events": state}}
        resp = SyncResponse.from_dict({"next_batch": "appservice:start", "rooms": {"join": rooms}})
        if isinstance(resp, SyncResponse):
            await self.client.receive_response(resp)

    async def _room_state(self, room_id: str) -> list[dict[str, Any]] | None:
        """The room's current state, or None when the bot may not read it (it is not in that room)."""
        resp = await self.client.room_get_state(room_id)
        if not isinstance(resp, RoomGetStateResponse):
            log.warning("matrix appservice: cannot read the state of %s (%s)", room_id, resp)
            return None
        return list(resp.events)

    async def run(self, core: Core) -> None:
        """Join invitations and keep in touch; the pushes are served since ``connect``, until ``close``."""
        if self.core is None:
            await self.connect(core)
        joiner = asyncio.create_task(self._join_invited())
        try:
            self._synced.set()
            self._rejoin_pending()
            await self._keep_contact()
        finally:
            joiner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await joiner

    async def _keep_contact(self) -> None:
        """A quiet neighbourhood sends no events for hours: the bot asks who it is now and then, so that
        /healthz tells a homeserver that answers from one that does not."""
        while True:
            try:
                if isinstance(await self.client.whoami(), WhoamiResponse):
                    self.heard_from_platform()
            except NETWORK_ERRORS as exc:
                log.warning("matrix appservice: the homeserver does not answer (%s)", exc)
            await asyncio.sleep(CONTACT_EVERY_S)

    async def _serve(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        for method, path, handler in self.routes():
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("Matrix appservice: listening on %s:%s", self.host, self.port)

    async def _stop_serving(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def close(self) -> None:
        await self._stop_serving()
        await super().close()

    def register_routes(self, core: Core) -> None:
        """On the [web] server instead of a port of its own (``appservice_port = 0``)."""
        for method, path, handler in self.routes():
            core.hooks.web_route(method, path, _on_web(handler))

    # ---- the endpoint -------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        found: list[tuple[str, str, Handler]] = []
        for prefix in PREFIXES:
            found += [("PUT", f"{prefix}/transactions/{{txn_id}}", self._transaction),
                      ("GET", f"{prefix}/users/{{user_id}}", self._user),
                      ("GET", f"{prefix}/rooms/{{alias}}", self._room)]
        found.append(("POST", "/_matrix/app/v1/ping", self._ping))
        return found

    def _refused(self, request: web.Request) -> web.Response | None:
        """The hs_token, as a bearer header or (older homeservers) the ``access_token`` parameter."""
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else request.query.get("access_token", "")
        if not token:
            return _error(401, "M_UNAUTHORIZED", "missing the homeserver token")
        if not hmac.compare_digest(token.encode(), self.hs_token.encode()):
            return _error(403, "M_FORBIDDEN", "wrong homeserver token")
        return None

    async def _transaction(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "M_NOT_JSON", "the body is not JSON")
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return _error(400, "M_BAD_JSON", 'expected {"events": [...]} with an object per event')
        await self.take_transaction(request.match_info["txn_id"], events)
        return web.json_response({})  # only now: the events and the id are committed

    async def _user(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        if request.match_info["user_id"] == self.user_id:
            return web.json_response({})
        return _error(404, "M_NOT_FOUND", "not a user of this service")

    async def _room(self, request: web.Request) -> web.Response:
        """Circle rooms are created with their alias; no alias is made on demand."""
        if (refused := self._refused(request)) is not None:
            return refused
        return _error(404, "M_NOT_FOUND", "no room is created on demand")

    async def _ping(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        return web.json_response({})

    # ---- taking a transaction -----------------------------------------------------------------

    async def take_transaction(self, txn_id: str, events: list[dict[str, Any]]) -> bool:
        """Store a pushed transaction once: True when it was new, False when it was taken before."""
        async with self._taking:  # one at a time (the homeserver sends one at a time anyway)
            if await self._seen(txn_id):
                self.repeated += 1
                return False
            resp = await self._as_sync(txn_id, events)
            self._txn_id = txn_id
            try:
                if isinstance(resp, SyncResponse):
                    await self.client.receive_response(resp)  # the rooms' members, as a sync would
                    await self._take(resp, history=True)
                else:
                    await self._keep_unreadable(txn_id, events, str(resp))
            except AlreadyTaken:
                self.repeated += 1
                return False
            finally:
                self._txn_id = ""
            return True

    async def _seen(self, txn_id: str) -> bool:
        return bool(await self.db.scalar(
            "SELECT 1 FROM appservice_transactions WHERE platform = ? AND txn_id = ?", (self.platform, txn_id)))

    async def _within_batch(self, resp: SyncResponse, events: int) -> None:
        await self._record(events)

    async def _record(self, events: int) -> None:
        """In the transaction that stores the events: the id, or a rollback if it is there already."""
        if await self._seen(self._txn_id):
            raise AlreadyTaken(self._txn_id)
        await self.db.execute(
            "INSERT INTO appservice_transactions (platform, txn_id, events, received_at) VALUES (?, ?, ?, ?)",
            (self.platform, self._txn_id, events, to_iso(self.core.clock.now())))

    def _cursor(self, resp: SyncResponse) -> str | None:
        return None  # pushes have no sync token; a later switch to the plain mode starts afresh

    async def _keep_unreadable(self, txn_id: str, events: list[dict[str, Any]], error: str) -> None:
        """A transaction nio cannot read: kept, marked failed, acknowledged (else it would come forever)."""
        log.error("matrix appservice: transaction %s cannot be read (%s)", txn_id, error[:300])
        async with self.db.transaction():
            await self._record(0)
            await inbox.reject(self.db, self.platform, f"appservice-txn:{txn_id}", json.dumps(events),
                               error, self.core.clock.now())

    async def _as_sync(self, txn_id: str, events: list[dict[str, Any]]) -> Any:
        """The pushed events shaped as a sync batch: per room, by the bot's own membership."""
        by_room: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            if isinstance(event.get("room_id"), str):
                by_room.setdefault(event["room_id"], []).append(event)
        join: dict[str, Any] = {}
        invite: dict[str, Any] = {}
        leave: dict[str, Any] = {}
        for room_id, found in by_room.items():
            own = [e for e in found if e.get("type") == "m.room.member" and e.get("state_key") == self.user_id]
            membership = (own[-1].get("content") or {}).get("membership") if own else None
            if membership == "invite":
                stripped = (own[-1].get("unsigned") or {}).get("invite_room_state") or []
                invite[room_id] = {"invite_state": {"events": [*stripped, own[-1]]}}
            elif membership in ("leave", "ban"):
                leave[room_id] = {"timeline": {"events": found}}
            elif room_id in self.client.rooms:
                join[room_id] = {"timeline": {"events": found}}
            elif (state := await self._room_state(room_id)) is not None:  # a room the bot just entered
                join[room_id] = {"timeline": {"events": found}, "state": {"events": state}}
        rooms = {"join": join, "invite": invite, "leave": leave}
        return SyncResponse.from_dict({"next_batch": f"appservice:{txn_id}", "rooms": rooms})


# ---- the registration file ------------------------------------------------------------------------


class RegistrationProblem(ValueError):
    """What is missing to write the registration, said so that the operator can fix it."""


def registration(matrix: MatrixConfig, web_config: WebConfig) -> str:
    """The registration YAML for the homeserver (``app_service_config_files`` in Synapse)."""
    missing = [name for name in (matrix.as_token_env, matrix.hs_token_env) if not os.environ.get(name)]
    if missing:
        raise RegistrationProblem(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. Make each a long random "
            f"secret (e.g. `export {missing[0]}=$(openssl rand -hex 32)`), keep them in the bot's environment "
            "too, and run this command again")
    if matrix.as_token == matrix.hs_token:
        raise RegistrationProblem(f"{matrix.as_token_env} and {matrix.hs_token_env} must differ")
    localpart, _, server = matrix.user_id.removeprefix("@").partition(":")
    if not matrix.user_id.startswith("@") or not localpart or not server:
        raise RegistrationProblem("[matrix] user_id must be the bot's full id, e.g. "
                                  'user_id = "@voisinage:example.org"')
    if matrix.appservice_url:
        url = matrix.appservice_url
    elif matrix.appservice_port:
        url = f"http://{matrix.appservice_host}:{matrix.appservice_port}"
    else:
        url = f"http://{web_config.host}:{web_config.port}"
    q = json.dumps  # a JSON string is a valid YAML double-quoted scalar
    return "\n".join([
        "# Voisinage's application service: give this file to the homeserver (Synapse: app_service_config_files)",
        "# and restart it. It holds secrets: readable by the homeserver only.",
        f"id: {q(matrix.appservice_id)}",
        f"url: {q(url)}",
        f"as_token: {q(matrix.as_token)}",
        f"hs_token: {q(matrix.hs_token)}",
        f"sender_localpart: {q(localpart)}",
        "rate_limited: false",
        "namespaces:",
        "  users:",
        "    - exclusive: true",
        f"      regex: {q('@' + re.escape(localpart) + ':' + re.escape(server))}",
        "  aliases:",  # circle rooms are created with an alias: an appservice may only make its own kind
        "    - exclusive: true",
        f"      regex: {q('#' + re.escape(CIRCLE_ALIAS_PREFIX) + '[0-9a-f]+:' + re.escape(server))}",
        "  rooms: []",
        "",
    ])
