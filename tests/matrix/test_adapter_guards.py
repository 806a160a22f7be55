"""Guards of the Matrix adapter that need no homeserver: file sizes before reading, SQL column names."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from aiohttp import web

from adapters.matrix import MatrixAdapter
from bot.core.chat import FileTooBig
from bot.storage.database import Database


@pytest.fixture
async def media_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A stand-in homeserver: /big declares 50 MB, /endless streams without end, /small is 10 bytes."""
    seen: list[str] = []

    async def download(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Authorization", ""))
        name = request.match_info["media"]
        if name == "small":
            return web.Response(body=b"BEGIN:VCAL")
        response = web.StreamResponse()
        if name == "big":
            response.content_length = 50_000_000
        await response.prepare(request)
        for _ in range(10_000):  # far more than any limit; the reader must stop first
            await response.write(b"x" * 65536)
            await asyncio.sleep(0.001)
        return response

    app = web.Application()
    app.router.add_get("/_matrix/client/v1/media/download/{server}/{media}", download)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    await runner.cleanup()


async def test_file_downloads_stop_at_the_size_limit(media_server) -> None:
    """Reproduces: a Matrix file was read whole into memory (nio's download) before its size was checked,
    so a resident could make the bot hold any amount of data."""
    base, seen = media_server
    adapter = MatrixAdapter(base, "@bot:hs", access_token="syt_token")
    adapter.client.restore_login("@bot:hs", "DEVICE", "syt_token")  # what connect() does
    try:
        assert await adapter.fetch_file("mxc://hs/small", 100) == b"BEGIN:VCAL"
        assert seen == ["Bearer syt_token"]
        for ref in ("mxc://hs/big", "mxc://hs/endless"):
            with pytest.raises(FileTooBig):
                await asyncio.wait_for(adapter.fetch_file(ref, 200_000), timeout=10)
        with pytest.raises(ValueError):
            await adapter.fetch_file("https://evil.example/x", 100)
    finally:
        await adapter.close()


async def test_room_columns_are_checked_for_real(tmp_path) -> None:
    """Reproduces: only an ``assert`` (gone under ``python -O``) kept a column name out of the SQL."""
    db = await Database.open(tmp_path / "m.sqlite3")
    adapter = MatrixAdapter("http://127.0.0.1:9", "@bot:hs", access_token="t")
    adapter.core = SimpleNamespace(db=db)
    try:
        with pytest.raises(ValueError):
            await adapter._mark_room("!r:hs", **{"gone_at = 'x', room_id": "y"})
        await adapter._mark_room("!r:hs", gone_reason="left")
        assert await db.scalar("SELECT gone_reason FROM matrix_rooms WHERE room_id = '!r:hs'") == "left"
    finally:
        await adapter.close()
        await db.close()


async def test_a_second_matrix_account_has_circle_aliases_of_its_own(tmp_path) -> None:
    """Reproduces: two Matrix accounts of one bot (platforms "matrix" and "matrix-b", as the relay
    benchmark runs) derived the same alias for a circle, so the second account's room creation found
    the first account's room and invited its members into a room it was not in. The first account's
    aliases stay as they were (rooms created before are still found after a crash)."""
    import hashlib

    from bot.storage import outbox

    db = await Database.open(tmp_path / "m.sqlite3")
    first = MatrixAdapter("http://127.0.0.1:9", "@a:hs", access_token="t", platform="matrix")
    second = MatrixAdapter("http://127.0.0.1:9", "@b:hs", access_token="t", platform="matrix-b")
    try:
        for adapter in (first, second):
            adapter.core = SimpleNamespace(db=db)
        salt = await outbox.instance_salt(db)
        before = "voisinage-circle-" + hashlib.sha256(f"{salt}:circle:7".encode()).hexdigest()[:24]
        assert await first._circle_alias(7) == before
        assert await second._circle_alias(7) != before
    finally:
        await first.close()
        await second.close()
        await db.close()
