"""Waiting for a condition instead of sleeping a fixed time: a fixed sleep passes while the machine is
idle and fails the day CI is loaded (the suite runs on 2 cores beside other work)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll an async check until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def until(condition: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """The same for a plain (not async) condition, such as what an emulator or a fake platform recorded."""

    async def check() -> Any:
        return condition()

    return await eventually(check, timeout, what)
