"""The client's one HTTP connection pool: one `httpx.AsyncClient` per event loop it runs on.

An `httpx.AsyncClient` belongs to the loop it was first used on (its connections are that
loop's transports). The async client is usually driven from one loop, but not always: the
synchronous client runs it on its own loop thread, and `mockloop.tools.calls` may run blocking
calls on a private loop while async calls come from the caller's loop. So the pool is one
AsyncClient per running loop, made on that loop's first request and closed by `aclose`.
"""

from __future__ import annotations

import asyncio
import threading
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

from httpx import AsyncClient

__all__ = ["SharedHttp"]


class _NoCookies(DefaultCookiePolicy):
    """Keeps no cookie: one call's answer must not change what a later call sends."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


class SharedHttp:
    """One keep-alive `httpx.AsyncClient` per running event loop, without credentials.

    Nothing here carries the admin token: `AdminApi` adds it to the admin calls it makes,
    never to a probe or a business port.

    Args:
        timeout: default seconds per request; a request may pass a shorter `timeout=`.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._clients: dict[asyncio.AbstractEventLoop, AsyncClient] = {}
        self._lock = threading.Lock()
        self.opened = 0  # how many AsyncClients this pool has made (one per loop)

    def client(self) -> AsyncClient:
        """The AsyncClient of the running loop (made on its first use)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            for gone in [other for other in self._clients if other.is_closed()]:
                # A closed loop's client can no longer be closed: its sockets went with it.
                del self._clients[gone]
            http = self._clients.get(loop)
            if http is None or http.is_closed:
                http = self._clients[loop] = AsyncClient(
                    timeout=self.timeout,
                    trust_env=False,
                    cookies=CookieJar(policy=_NoCookies()),
                )
                self.opened += 1
            return http

    async def aclose(self) -> None:
        """Close every AsyncClient of the pool: the running loop's here, another running
        loop's on that loop (scheduled there, not waited for); a later request opens a new
        one."""
        with self._lock:
            clients = list(self._clients.items())
            self._clients.clear()
        here = asyncio.get_running_loop()
        for loop, http in clients:
            if loop is here:
                await http.aclose()
            elif loop.is_running():
                # Closed on its own loop, without waiting: that loop may be the one blocked
                # on this very call (a blocking close() from async code).
                asyncio.run_coroutine_threadsafe(http.aclose(), loop)
