"""Messages per second the bot relays between two circle rooms on a local Synapse, against a bare
matrix-nio echo client on the same server in the same run (target: bot time ≤ 1.3 × echo time).

    python bench/bench_matrix_relay.py [--messages 150] [--rounds 2]

Why Matrix ↔ Matrix: both ends of each relay are real homeserver round trips (a sync that brings the
message in, a ``room_send`` that puts the copy out), exactly what the echo client does, so the ratio
measures what the bot adds (durable inbox, routing, membership lookups, durable outbox, rendering).
Relaying into the in-memory platform would skip the send and flatter the bot. The core mirrors only
between a circle's rooms on *different* platforms, so the circle gets its second Matrix room through a
second adapter instance (platform "matrix-b", its own bot account) on the same homeserver.

How: Alice (a nio client) sends N messages in room A as fast as the server takes them; the clock stops
when Bob (a nio client in room B) has synced all N copies. The echo client does the same between rooms
C and D. Rounds alternate echo and bot; the best round of each is reported. Traffic stays on 127.0.0.1;
every wait has a deadline, and the whole run takes well under two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nio import AsyncClient, AsyncClientConfig, RoomCreateResponse, RoomPreset, SyncResponse

from adapters.matrix import MatrixAdapter
from bot.assemble import build_core
from bot.core.app import Content
from bot.core.chat import RoomSpec
from bot.core.clock import SystemClock, to_iso
from bot.core.config import load_config
from bot.storage import circles as circle_store
from bot.storage import people
from bot.storage.database import Database
from tests.matrix.synapse_server import SynapseServer

PHASE_DEADLINE_S = 60.0


def client(server: SynapseServer, user) -> AsyncClient:
    c = AsyncClient(server.base_url, user.user_id, device_id=user.device_id,
                    config=AsyncClientConfig(max_limit_exceeded=0, max_timeouts=2, request_timeout=60))
    c.restore_login(user.user_id, user.device_id, user.access_token)
    return c


async def joined(c: AsyncClient, room_id: str) -> None:
    resp = await c.join(room_id)
    assert not hasattr(resp, "status_code") or resp.status_code is None, resp


async def collect(reader: AsyncClient, room_id: str, sender: str, count: int, token: str) -> None:
    """Sync until ``sender`` has posted ``count`` messages in the room after ``token``."""
    seen = 0
    deadline = time.monotonic() + PHASE_DEADLINE_S
    while seen < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {seen}/{count} relayed messages arrived within {PHASE_DEADLINE_S:g} s")
        resp = await reader.sync(timeout=5_000, since=token)
        assert isinstance(resp, SyncResponse), resp
        token = resp.next_batch
        room = resp.rooms.join.get(room_id)
        if room:
            seen += sum(1 for e in room.timeline.events
                        if e.source.get("sender") == sender and e.source.get("type") == "m.room.message")


async def burst(writer: AsyncClient, room_id: str, n: int, tag: str) -> None:
    for i in range(n):
        await writer.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": f"{tag} message {i}"})


async def timed_relay(writer: AsyncClient, src: str, reader: AsyncClient, dst: str, relayer: str, n: int,
                      tag: str) -> float:
    token = (await reader.sync(timeout=0)).next_batch
    began = time.perf_counter()
    sending = asyncio.create_task(burst(writer, src, n, tag))
    await collect(reader, dst, relayer, n, token)
    await sending
    return time.perf_counter() - began


async def echo_loop(echo: AsyncClient, src: str, dst: str, author: str) -> None:
    """The bare baseline: sync, and copy each of the author's texts to the other room as a notice."""
    token = (await echo.sync(timeout=0)).next_batch
    while True:
        resp = await echo.sync(timeout=30_000, since=token)
        if not isinstance(resp, SyncResponse):
            continue
        token = resp.next_batch
        room = resp.rooms.join.get(src)
        for event in room.timeline.events if room else ():
            if event.source.get("sender") == author and event.source.get("type") == "m.room.message":
                body = event.source["content"].get("body", "")
                await echo.room_send(dst, "m.room.message", {
                    "msgtype": "m.notice", "body": f"Alice : {body}", "format": "org.matrix.custom.html",
                    "formatted_body": f"<b>Alice</b> : {body}"})


async def make_room(owner: AsyncClient, *members: str) -> str:
    resp = await owner.room_create(preset=RoomPreset.private_chat, invite=list(members))
    assert isinstance(resp, RoomCreateResponse), resp
    return resp.room_id


async def main(n: int, rounds: int) -> int:
    config = load_config()
    # One resident writing hundreds of messages in a minute is a flood by the circles' own rules: the
    # benchmark measures relaying, so the anti-flood limit is lifted here (and only here).
    config = replace(config, moderation=replace(config.moderation, flood_messages=1_000_000))
    content = Content.load(config)
    with tempfile.TemporaryDirectory(prefix="bench-matrix-") as tmp, SynapseServer(Path(tmp) / "hs") as server:
        reg = server.register
        bot_a, bot_b, alice_u, bob_u, echo_u, carol_u, dave_u = (
            reg(name) for name in ("relay_a", "relay_b", "alice", "bob", "echo", "carol", "dave"))
        alice, bob, echo, carol, dave = (client(server, u) for u in (alice_u, bob_u, echo_u, carol_u, dave_u))

        # --- the bot: one core, two Matrix adapters, one circle with a room on each -----------------
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        core = build_core(config, db, content, SystemClock())
        adapters = [
            # The server's limits are raised (as a homeserver admin's exemption would): no account budget.
            MatrixAdapter(server.base_url, bot_a.user_id, access_token=bot_a.access_token, platform="matrix",
                          messages_per_second=0),
            MatrixAdapter(server.base_url, bot_b.user_id, access_token=bot_b.access_token, platform="matrix-b",
                          messages_per_second=0),
        ]
        for adapter in adapters:
            await adapter.connect(core)
            core.attach(adapter)
        now = core.clock.now()
        async with db.transaction():
            circle = await circle_store.create(db, "nb:belleville", now)
            for platform, user in (("matrix", alice_u), ("matrix-b", bob_u)):
                person = await people.create(db, platform, user.user_id, "-", user.user_id[1:6].capitalize(), "fr", now)
                await people.update(db, person.id, consent_at=to_iso(now), onboarded_at=to_iso(now))
                await circle_store.add_member(db, circle.id, person.id, now)
        rooms = {}
        for adapter, user in zip(adapters, (alice_u, bob_u), strict=True):
            room_id = await adapter.create_room(RoomSpec(circle.id, "Voisins · Belleville · 1", "Bench"))
            async with db.transaction():
                await circle_store.set_room(db, circle.id, adapter.platform, room_id)
            await adapter.invite(room_id, user.user_id, idempotency_key="bench")
            rooms[adapter.platform] = room_id
        await joined(alice, rooms["matrix"])
        await joined(bob, rooms["matrix-b"])
        tasks = [asyncio.create_task(core.run_dispatcher())]
        for adapter in adapters:
            tasks.append(asyncio.create_task(adapter.run(core)))
            tasks.append(asyncio.create_task(core.run_delivery(adapter.platform)))

        # --- the baseline: a bare echo client between rooms C and D -----------------------------------
        room_c = await make_room(echo, carol_u.user_id)
        room_d = await make_room(echo, dave_u.user_id)
        await joined(carol, room_c)
        await joined(dave, room_d)
        tasks.append(asyncio.create_task(echo_loop(echo, room_c, room_d, carol_u.user_id)))
        await asyncio.sleep(1.0)  # every loop has done its first sync

        try:
            # Warm-up (JIT-free Python, but caches, connections and SQLite pages): a few of each.
            await timed_relay(carol, room_c, dave, room_d, echo_u.user_id, 10, "warm")
            await timed_relay(alice, rooms["matrix"], bob, rooms["matrix-b"], bot_b.user_id, 10, "warm")
            echo_times, bot_times = [], []
            for r in range(rounds):
                echo_times.append(await timed_relay(carol, room_c, dave, room_d, echo_u.user_id, n, f"e{r}"))
                bot_times.append(
                    await timed_relay(alice, rooms["matrix"], bob, rooms["matrix-b"], bot_b.user_id, n, f"b{r}"))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for c in (*adapters, alice, bob, echo, carol, dave):
                await c.close()
            handled = await db.scalar("SELECT COUNT(*) FROM inbox WHERE status = 'done'")
            failed = await db.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
            await db.close()

    echo_rate, bot_rate = n / min(echo_times), n / min(bot_times)
    ratio = min(bot_times) / min(echo_times)
    print(f"messages per round: {n}, rounds: {rounds}, Synapse {server.base_url} (raised rate limits)")
    print(f"bare nio echo client : {echo_rate:7.1f} msg/s  (rounds: {', '.join(f'{t:.2f}s' for t in echo_times)})")
    print(f"voisinage bot relay  : {bot_rate:7.1f} msg/s  (rounds: {', '.join(f'{t:.2f}s' for t in bot_times)})")
    print(f"ratio bot/echo time  : {ratio:.2f}x  (target <= 1.3x)   inbox handled: {handled}, outbox failed: {failed}")
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.messages, args.rounds)))
