"""A real headless Chromium driven over the DevTools protocol (aiohttp's websocket client, nothing else
to install): open a page, run checks in it, read its accessibility tree, take screenshots.

Debian's ``chromium`` package is enough (``apt-get install -y chromium``); ``CHROMIUM`` names another
executable. Playwright's own browser download cannot work offline, which is why it is not used.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1")
INSTALL_HINT = ("headless Chromium not found: install it with `apt-get install -y chromium` (Debian/Ubuntu), "
                "or set CHROMIUM to a Chromium or Chrome executable")


def executable() -> str | None:
    wanted = os.environ.get("CHROMIUM")
    if wanted:
        return shutil.which(wanted) or (wanted if Path(wanted).exists() else None)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One tab, spoken to over its websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    async def call(self, method: str, **params: Any) -> dict:
        number = next(self.ids)
        await self.ws.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.ws.receive_json(), timeout=30)
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    async def wait_for(self, event: str) -> dict:
        for index, seen in enumerate(self.events):
            if seen.get("method") == event:
                return self.events.pop(index)
        while True:
            message = await asyncio.wait_for(self.ws.receive_json(), timeout=30)
            if message.get("method") == event:
                return message
            self.events.append(message)

    async def open(self, url: str, width: int = 1280, height: int = 900, mobile: bool = False) -> None:
        await self.call("Page.enable")
        await self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=mobile)
        self.events.clear()
        await self.call("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")
        # A load event may still be the previous page's (about:blank, slow to load on a busy machine): the
        # page is read once the browser is on this URL and done loading it.
        deadline = asyncio.get_running_loop().time() + 30
        while await self.evaluate("location.href + ' ' + document.readyState") != f"{url} complete":
            assert asyncio.get_running_loop().time() < deadline, f"{url} never finished loading"
            await asyncio.sleep(0.05)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"])[:500])
        return result["result"].get("value")

    async def screenshot(self, path: Path, full_page: bool = True) -> bytes:
        result = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        data = base64.b64decode(result["data"])
        path.write_bytes(data)
        return data

    async def accessibility_tree(self) -> list[dict]:
        await self.call("Accessibility.enable")
        return (await self.call("Accessibility.getFullAXTree"))["nodes"]


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Page]:
    """Start the browser with a throw-away profile, yield its first tab, always stop it."""
    path = executable()
    assert path is not None, INSTALL_HINT
    process = await asyncio.create_subprocess_exec(
        path, *FLAGS, f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        endpoint = await _devtools_endpoint(process)
        async with aiohttp.ClientSession() as session:
            tab = await _first_tab(session, endpoint)
            async with session.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024) as ws:
                yield Page(ws)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _first_tab(session: aiohttp.ClientSession, endpoint: str) -> dict:
    """The browser's first tab, once it is listed: Chromium says it listens before it opened the tab."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        async with session.get(f"http://{endpoint}/json/list") as answer:
            tabs = await answer.json(content_type=None)
        tab = next((t for t in tabs if t.get("type") == "page"), None)
        if tab is not None:
            return tab
        assert asyncio.get_running_loop().time() < deadline, f"Chromium opened no tab: {tabs}"
        await asyncio.sleep(0.05)


async def _devtools_endpoint(process: asyncio.subprocess.Process) -> str:
    """Chromium prints "DevTools listening on ws://127.0.0.1:<port>/devtools/browser/…" on stderr."""
    assert process.stderr is not None
    seen = []
    while True:
        line = await asyncio.wait_for(process.stderr.readline(), timeout=60)
        if not line:
            raise RuntimeError("Chromium stopped before it listened: " + " | ".join(seen[-5:]))
        text = line.decode(errors="replace")
        seen.append(text.strip())
        found = re.search(r"DevTools listening on ws://([^/]+)/", text)
        if found:
            asyncio.get_running_loop().create_task(_drain(process.stderr))
            return found.group(1)


async def _drain(stream: asyncio.StreamReader) -> None:
    """Keep reading Chromium's log, or its pipe fills and it blocks."""
    with contextlib.suppress(Exception):
        while await stream.readline():
            pass
