"""Smoke tests with real matrix-nio clients against a real Synapse (see conftest.py).

They pin down the homeserver behaviours the Matrix adapter relies on: invite/join in a private
room, exactly-once delivery through ``sync(since=…)`` with a stored token, ``M_LIMIT_EXCEEDED``
with ``retry_after_ms`` under Synapse's default limits (and the admin override that lifts it),
room version 12 power levels, and how nio reports an encrypted room.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    JoinResponse,
    LoginResponse,
    RoomCreateError,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomPreset,
    RoomSendError,
    RoomSendResponse,
    SyncResponse,
)

from .conftest import MatrixUserFactory, client_config, logged_in_client, unique_localpart
from .synapse_server import SynapseServer

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


# ----------------------------------------------------------------------------- helpers


async def sync_ok(client: AsyncClient, since: str | None) -> SyncResponse:
    """One non-blocking sync that must succeed (``since=None`` means an initial sync)."""
    resp = await client.sync(timeout=0, since=since)
    assert isinstance(resp, SyncResponse), resp
    return resp


def messages(resp: SyncResponse, room_id: str) -> list[dict[str, Any]]:
    """The raw ``m.room.message`` events of one joined room in a sync response, in order."""
    room = resp.rooms.join.get(room_id)
    if room is None:
        return []
    return [e.source for e in room.timeline.events if e.source.get("type") == "m.room.message"]


async def create_room(client: AsyncClient, **kwargs: Any) -> str:
    """Create a private room and return its id (fails the test with Synapse's answer if refused)."""
    resp = await client.room_create(preset=RoomPreset.private_chat, **kwargs)
    assert isinstance(resp, RoomCreateResponse), resp
    return resp.room_id


async def send(client: AsyncClient, room_id: str, body: str, msgtype: str = "m.text") -> str:
    """Send a message and return its event id."""
    resp = await client.room_send(room_id, "m.room.message", {"msgtype": msgtype, "body": body})
    assert isinstance(resp, RoomSendResponse), resp
    return resp.event_id


@asynccontextmanager
async def started(server: SynapseServer) -> AsyncIterator[SynapseServer]:
    """Run a blocking ``SynapseServer`` start/stop off the event loop."""
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


# ----------------------------------------------------------------------------- tests


@pytest.mark.asyncio
async def test_invite_join_and_each_message_arrives_once(matrix_user: MatrixUserFactory) -> None:
    """The circle flow: private room, invite, join, then notice + text delivered exactly once."""
    alice, bob = await matrix_user("alice"), await matrix_user("bob")
    before_invite = (await sync_ok(bob, None)).next_batch

    # Room v12: the creator has implicit power and must not be listed; other users may be.
    room_id = await create_room(alice, name="Cercle", power_level_override={"users": {bob.user_id: 50}})
    assert isinstance(await alice.room_invite(room_id, bob.user_id), RoomInviteResponse)

    invited = await sync_ok(bob, before_invite)
    assert room_id in invited.rooms.invite
    assert isinstance(await bob.join(room_id), JoinResponse)
    after_join = (await sync_ok(bob, invited.next_batch)).next_batch

    notice_id = await send(alice, room_id, "Bienvenue dans le cercle !", msgtype="m.notice")
    text_id = await send(alice, room_id, "Bonjour Bob")

    delivered = await sync_ok(bob, after_join)
    got = messages(delivered, room_id)
    assert [(e["event_id"], e["content"]["msgtype"]) for e in got] == [
        (notice_id, "m.notice"),
        (text_id, "m.text"),
    ]
    assert messages(await sync_ok(bob, delivered.next_batch), room_id) == []


@pytest.mark.asyncio
async def test_stored_sync_token_returns_only_newer_events(matrix_user: MatrixUserFactory) -> None:
    """A bot restarting from its stored ``next_batch`` gets what came after it, not the past.

    Re-using the same token replays everything since that token (so handling must be idempotent)
    and, with ``sync_response_cache_duration: 0``, includes events sent after the first replay.
    """
    alice = await matrix_user("alice")
    room_id = await create_room(alice)
    await send(alice, room_id, "ancien")
    stored = (await sync_ok(alice, None)).next_batch

    first = await send(alice, room_id, "nouveau 1")
    assert [e["event_id"] for e in messages(await sync_ok(alice, stored), room_id)] == [first]

    second = await send(alice, room_id, "nouveau 2")
    replay = await sync_ok(alice, stored)
    assert [e["event_id"] for e in messages(replay, room_id)] == [first, second]
    assert messages(await sync_ok(alice, replay.next_batch), room_id) == []


@pytest.mark.asyncio
async def test_room_v12_rejects_creator_in_power_level_users(matrix_user: MatrixUserFactory) -> None:
    """Listing the creator in ``power_level_content_override.users`` makes createRoom fail (v12)."""
    alice = await matrix_user("alice")
    resp = await alice.room_create(power_level_override={"users": {alice.user_id: 100}})
    assert isinstance(resp, RoomCreateError), resp
    assert "must not appear in content.users" in resp.message


@pytest.mark.asyncio
async def test_encrypted_room_is_reported_by_nio(matrix_user: MatrixUserFactory) -> None:
    """nio flags a room created with m.room.encryption, so the adapter can refuse to send plaintext."""
    alice = await matrix_user("alice")
    encrypted = await create_room(alice, initial_state=[ENCRYPTION_STATE])
    plain = await create_room(alice)
    await sync_ok(alice, None)
    assert alice.rooms[encrypted].encrypted is True
    assert alice.rooms[plain].encrypted is False


@pytest.mark.asyncio
async def test_raised_rate_limits_let_bursts_through(
    synapse: SynapseServer, matrix_user: MatrixUserFactory
) -> None:
    """Guards the session server's config: bursts far above Synapse's defaults must not stall.

    Defaults would refuse the 11th message (rc_message burst 10) and the 6th login from one
    address (rc_login.address burst 5).
    """
    alice = await matrix_user("alice")
    room_id = await create_room(alice)
    for i in range(30):
        await send(alice, room_id, f"rafale {i}")
    user = await synapse.register_async(unique_localpart("login"))
    for _ in range(8):
        login_client = AsyncClient(synapse.base_url, user.user_id, config=client_config())
        try:
            assert isinstance(await login_client.login(user.password), LoginResponse)
        finally:
            await login_client.close()


@pytest.mark.asyncio
async def test_default_rate_limits_answer_limit_exceeded(tmp_path: Path) -> None:
    """Synapse's default ``rc_message`` (0.2/s, burst 10) stops a burst with M_LIMIT_EXCEEDED.

    nio is configured with ``max_limit_exceeded=0`` (see conftest), so it returns the error
    instead of sleeping and retrying. An admin's ``override_ratelimit`` then lifts the limit:
    the production set-up for a bot account.
    """
    async with started(SynapseServer(tmp_path / "hs", raised_rate_limits=False)) as server:
        client = await logged_in_client(server, "burst")
        try:
            room_id = await create_room(client)
            error = await send_until_limited(client, room_id, attempts=30)
            assert error.status_code == "M_LIMIT_EXCEEDED"
            assert error.retry_after_ms is not None and error.retry_after_ms > 0

            admin = await server.register_async("admin", admin=True)
            await asyncio.to_thread(server.override_ratelimit, client.user_id, admin.access_token)
            for i in range(15):
                await send(client, room_id, f"après dérogation {i}")
        finally:
            await client.close()


async def send_until_limited(client: AsyncClient, room_id: str, attempts: int) -> RoomSendError:
    """Send a burst until the server refuses; fail if it never does within ``attempts`` sends."""
    for i in range(attempts):
        resp = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": f"{i}"})
        if isinstance(resp, RoomSendError):
            assert i >= 5, f"limited after only {i} messages: {resp}"
            return resp
    pytest.fail(f"no M_LIMIT_EXCEEDED after {attempts} messages under default rate limits")
