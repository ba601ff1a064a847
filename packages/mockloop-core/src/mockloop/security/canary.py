"""The out-of-band canary for SSRF: a tiny HTTP listener on 127.0.0.1 that records every
request it gets. A probe puts a canary URL with a one-time token into a URL-typed parameter;
a hit carrying that token proves the server fetched it."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

__all__ = ["Canary", "CanaryHit"]


@dataclass(slots=True)
class CanaryHit:
    """One request the canary received."""

    token: str
    method: str
    path: str
    user_agent: str
    at: float


class Canary:
    """An HTTP listener on a free loopback port; use as an async context manager."""

    def __init__(self) -> None:
        self.hits: list[CanaryHit] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Event()

    async def __aenter__(self) -> Canary:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self) -> tuple[str, str]:
        """(a fresh canary URL, its token)."""
        token = secrets.token_hex(8)
        return f"http://127.0.0.1:{self.port}/mockloop-canary/{token}", token

    @staticmethod
    def marker(token: str) -> str:
        """The body the canary answers with for a token: found in a response, it proves the
        server returned what it fetched."""
        return f"mockloop-canary-{token}"

    async def wait_for(self, token: str, timeout: float) -> CanaryHit | None:
        """The hit carrying `token`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            for hit in self.hits:
                if hit.token == token:
                    return hit
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("?", "?")
        agent = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in lines[1:]
                if ln.lower().startswith("user-agent:")
            ),
            "",
        )
        token = path.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
        self.hits.append(CanaryHit(token, method, path, agent, time.time()))
        self._arrived.set()
        body = self.marker(token).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        try:
            await writer.drain()
        finally:
            writer.close()
