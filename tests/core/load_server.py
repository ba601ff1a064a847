"""A tiny HTTP/1.1 server on 127.0.0.1 for load engine tests, with known behaviour.

It answers every request after `delay` seconds, with a content-length, chunked or
close-delimited body; it can stall (hold every answer) during a window of its own uptime,
and die (close its listener and every connection) at a given moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from typing import Literal

__all__ = ["TestServer"]

BodyMode = Literal["length", "chunked", "close"]


class TestServer:
    """Run in a background thread: `with TestServer(delay=0.05) as server: server.url`."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(
        self,
        *,
        delay: float = 0.0,
        body: bytes = b'{"ok":true}',
        mode: BodyMode = "length",
        status: int = 200,
        stall_at: float | None = None,
        stall_for: float = 0.0,
        die_after: float | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.delay = delay
        self.body = body
        self.mode = mode
        self.status = status
        self.stall_at = stall_at
        self.stall_for = stall_for
        self.die_after = die_after
        self.tls = tls
        self.requests = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._first: float | None = None

    @property
    def open_connections(self) -> int:
        """How many client connections the server holds open right now."""
        return len(self._writers)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> TestServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._die(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _die(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    def _response(self) -> bytes:
        head = f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\n"
        if self.mode == "length":
            return f"{head}Content-Length: {len(self.body)}\r\n\r\n".encode() + self.body
        if self.mode == "close":
            return f"{head}Connection: close\r\n\r\n".encode() + self.body
        half = len(self.body) // 2
        chunks = [self.body[:half], self.body[half:]]
        encoded = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks if c)
        return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + encoded + b"0\r\n\r\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                now = time.monotonic()
                if self._first is None:
                    self._first = now
                    if self.die_after is not None:
                        self._loop.call_later(
                            self.die_after, lambda: self._loop.create_task(self._die())
                        )
                wait = self.delay
                if self.stall_at is not None:
                    stall_start = self._first + self.stall_at
                    stall_end = stall_start + self.stall_for
                    if stall_start <= now < stall_end:
                        wait += stall_end - now
                if wait:
                    await asyncio.sleep(wait)
                self.requests += 1
                writer.write(self._response())
                await writer.drain()
                if self.mode == "close":
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
