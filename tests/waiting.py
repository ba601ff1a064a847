"""One way for tests to wait: poll a condition until it holds or a deadline passes.

Tests never sleep for a fixed time to let something happen; they poll what they expect, so a
fast machine finishes at once and a slow one gets until the deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import httpx

__all__ = ["wait_for", "wait_for_async", "wait_for_health"]

T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None],
    what: str = "the condition",
    timeout: float = 10.0,
    every: float = 0.02,
) -> T:
    """Poll `check` until it returns something truthy and return that; AssertionError naming
    `what` when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


async def wait_for_async(
    check: Callable[[], T | Awaitable[T | None] | None],
    what: str = "the condition",
    timeout: float = 10.0,
    every: float = 0.02,
) -> T:
    """`wait_for` for a test running on an event loop: the loop keeps running between polls,
    and `check` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        polled = check()
        value = cast(T | None, await polled if inspect.isawaitable(polled) else polled)
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(every)


def wait_for_health(
    url: str, process: subprocess.Popen[Any] | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll `url`/health until it answers 200 and return its JSON; fail at once, with the
    process's output, if `process` exits first."""

    def healthy() -> dict[str, Any] | None:
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            if isinstance(output, bytes):
                output = output.decode(errors="replace")
            raise AssertionError(f"the process exited with {process.returncode}: {output}")
        try:
            response = httpx.get(f"{url}/health", timeout=1)
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    return wait_for(healthy, f"{url}/health to answer 200", timeout=timeout, every=0.05)
