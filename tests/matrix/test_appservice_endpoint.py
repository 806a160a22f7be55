"""The appservice endpoint, on its own (no homeserver): what the homeserver pushes is stored once, with
its transaction id, and answered only after the commit; anything else is refused and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nio import SyncResponse

from adapters.matrix.appservice import AppserviceAdapter
from bot.assemble import build_core
from bot.core.clock import SystemClock
from bot.storage import inbox
from bot.storage.database import Database

BOT, ANA = "@voisinage:hs.test", "@ana:hs.test"
ROOM = "!circle:hs.test"
HS_TOKEN = "hs-secret"


def member(user: str, n: int) -> dict[str, Any]:
    return {"type": "m.room.member", "state_key": user, "sender": user, "content": {"membership": "join"},
            "event_id": f"$m{n}", "origin_server_ts": 1, "room_id": ROOM}


def said(text: str, event_id: str) -> dict[str, Any]:
    return {"type": "m.room.message", "sender": ANA, "content": {"msgtype": "m.text", "body": text},
            "event_id": event_id, "origin_server_ts": 2, "room_id": ROOM}


@pytest_asyncio.fixture
async def endpoint(bot_config, bot_content, tmp_path: Path) -> AsyncIterator[tuple[AppserviceAdapter, TestClient]]:
    """The adapter attached to a real core, its routes served; the bot and Ana share a known room."""
    core = build_core(bot_config, await Database.open(tmp_path / "bot.sqlite3"), bot_content, SystemClock())
    adapter = AppserviceAdapter("http://127.0.0.1:9", BOT, as_token="as-secret", hs_token=HS_TOKEN)
    adapter.core = core
    core.attach(adapter)
    known = {"next_batch": "s", "rooms": {"join": {ROOM: {"timeline": {"events": []},
                                                          "state": {"events": [member(BOT, 1), member(ANA, 2)]}}}}}
    await adapter.client.receive_response(SyncResponse.from_dict(known))
    app = web.Application()
    for method, path, handler in adapter.routes():
        app.router.add_route(method, path, handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield adapter, client
    finally:
        await client.close()
        await adapter.close()
        await core.db.close()


def bearer(token: str = HS_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def stored(adapter: AppserviceAdapter) -> tuple[list[str], list[str]]:
    """(inbox external ids, transaction ids) in the database."""
    events = [r[0] for r in await adapter.db.fetchall("SELECT external_id FROM inbox ORDER BY id")]
    txns = [r[0] for r in await adapter.db.fetchall("SELECT txn_id FROM appservice_transactions ORDER BY txn_id")]
    return events, txns


async def test_a_transaction_is_stored_with_its_id_and_a_repeat_is_acknowledged_unhandled(endpoint) -> None:
    adapter, client = endpoint
    resp = await client.put("/_matrix/app/v1/transactions/t1", json={"events": [said("bonjour", "$a")]},
                            headers=bearer())
    assert resp.status == 200 and await resp.json() == {}
    assert await stored(adapter) == (["$a"], ["t1"])
    # The same id again, even with other content (a homeserver never does that): nothing is taken from it.
    resp = await client.put("/_matrix/app/v1/transactions/t1", json={"events": [said("encore", "$b")]},
                            headers=bearer())
    assert resp.status == 200 and await resp.json() == {}
    assert await stored(adapter) == (["$a"], ["t1"])
    assert adapter.repeated == 1
    # Older homeservers: the unprefixed path and the token as a parameter.
    resp = await client.put(f"/transactions/t2?access_token={HS_TOKEN}", json={"events": [said("oui", "$c")]})
    assert resp.status == 200
    assert await stored(adapter) == (["$a", "$c"], ["t1", "t2"])


@pytest.mark.parametrize(("headers", "status", "errcode"), [
    ({}, 401, "M_UNAUTHORIZED"),
    ({"Authorization": "Bearer as-secret"}, 403, "M_FORBIDDEN"),  # the bot's own token is not the homeserver's
    ({"Authorization": "Basic hs-secret"}, 401, "M_UNAUTHORIZED"),
])
async def test_a_push_without_the_homeserver_token_is_refused_and_stores_nothing(endpoint, headers, status,
                                                                                 errcode) -> None:
    adapter, client = endpoint
    for path in ("/_matrix/app/v1/transactions/t1", "/_matrix/app/v1/users/" + BOT, "/rooms/%23x:hs.test"):
        method = client.put if "transactions" in path else client.get
        resp = await method(path, json={"events": [said("bonjour", "$a")]}, headers=headers)
        assert resp.status == status and (await resp.json())["errcode"] == errcode
    assert await stored(adapter) == ([], [])


@pytest.mark.parametrize(("body", "errcode"), [
    (b"{not json", "M_NOT_JSON"),
    (b"", "M_NOT_JSON"),
    (b'{"events": "bonjour"}', "M_BAD_JSON"),
    (b'{"events": ["bonjour"]}', "M_BAD_JSON"),
    (b"[]", "M_BAD_JSON"),
])
async def test_a_malformed_transaction_gets_400_and_stores_nothing(endpoint, body: bytes, errcode: str) -> None:
    adapter, client = endpoint
    resp = await client.put("/_matrix/app/v1/transactions/t1", data=body, headers=bearer())
    assert resp.status == 400 and (await resp.json())["errcode"] == errcode
    assert await stored(adapter) == ([], [])
    # The same id, well formed this time, is taken: a refused push did not burn it.
    resp = await client.put("/_matrix/app/v1/transactions/t1", json={"events": [said("bonjour", "$a")]},
                            headers=bearer())
    assert resp.status == 200
    assert await stored(adapter) == (["$a"], ["t1"])


async def test_a_crash_before_the_commit_stores_nothing_and_the_repeat_is_taken(endpoint, monkeypatch) -> None:
    adapter, client = endpoint
    accept = inbox.accept

    async def broken(*args: Any, **kwargs: Any) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(inbox, "accept", broken)
    resp = await client.put("/_matrix/app/v1/transactions/t1", json={"events": [said("bonjour", "$a")]},
                            headers=bearer())
    assert resp.status == 500  # not acknowledged: the homeserver will push it again
    assert await stored(adapter) == ([], [])
    monkeypatch.setattr(inbox, "accept", accept)
    resp = await client.put("/_matrix/app/v1/transactions/t1", json={"events": [said("bonjour", "$a")]},
                            headers=bearer())
    assert resp.status == 200
    assert await stored(adapter) == (["$a"], ["t1"])
    assert adapter.repeated == 0


async def test_a_crash_after_the_commit_and_before_the_answer_handles_the_repeat_once(endpoint, monkeypatch) -> None:
    adapter, client = endpoint
    calls = []

    async def crash_once() -> None:  # runs after the commit, before the answer
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionResetError("the process died here")

    monkeypatch.setattr(adapter, "_tell_encrypted_rooms", crash_once)
    events = {"events": [said("bonjour", "$a"), said("ça va ?", "$b")]}
    assert (await client.put("/_matrix/app/v1/transactions/t9", json=events, headers=bearer())).status == 500
    assert await stored(adapter) == (["$a", "$b"], ["t9"])
    assert (await client.put("/_matrix/app/v1/transactions/t9", json=events, headers=bearer())).status == 200
    assert await stored(adapter) == (["$a", "$b"], ["t9"])
    assert adapter.repeated == 1
    assert len(calls) == 1  # the repeat did nothing at all


async def test_queries_about_users_and_rooms_and_the_ping(endpoint) -> None:
    _, client = endpoint
    assert (await client.get(f"/_matrix/app/v1/users/{BOT}", headers=bearer())).status == 200
    other = await client.get(f"/_matrix/app/v1/users/{ANA}", headers=bearer())
    assert other.status == 404 and (await other.json())["errcode"] == "M_NOT_FOUND"
    room = await client.get("/_matrix/app/v1/rooms/%23voisinage-circle-x:hs.test", headers=bearer())
    assert room.status == 404 and (await room.json())["errcode"] == "M_NOT_FOUND"
    ping = await client.post("/_matrix/app/v1/ping", json={"transaction_id": "p1"}, headers=bearer())
    assert ping.status == 200 and await ping.json() == {}


async def test_the_endpoint_can_share_the_bots_web_server(endpoint) -> None:
    """``appservice_port = 0``: the routes go on the [web] server, beside /healthz."""
    from bot.operations.web import application

    adapter, _ = endpoint
    adapter.register_routes(adapter.core)
    client = TestClient(TestServer(application(adapter.core)))
    await client.start_server()
    try:
        resp = await client.put("/_matrix/app/v1/transactions/w1", json={"events": [said("salut", "$w")]},
                                headers=bearer())
        assert resp.status == 200
        assert (await client.put("/_matrix/app/v1/transactions/w2", json={"events": []})).status == 401
    finally:
        await client.close()
    assert await stored(adapter) == (["$w"], ["w1"])
