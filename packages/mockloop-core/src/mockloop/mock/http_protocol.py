"""The business port's HTTP protocol: uvicorn's httptools protocol, one `send()` per response.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, then the body on `http.response.body`: two writes, two system calls and
two loopback packets for every small response, and the client wakes up twice. A mock answers
small bodies tens of thousands of times a second, and those writes were 40% of the event loop's
time in the throughput bench.

`CoalescingHttpProtocol` hands uvicorn a transport that holds a header block back until the
next write, the response's first body chunk, which the app sends in the same event-loop tick, and
sends both in one write. Nothing waits longer than that tick: a header block still held when the
tick ends (an app that pauses between headers and body) is written then, and closing the
connection writes what is held first. Everything else passes straight to the real transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingHttpProtocol", "CoalescingTransport"]


class CoalescingTransport:
    """A transport that sends a response's header block together with the write after it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + bytes(data))
            return
        if data[-4:] == b"\r\n\r\n" and data[:5] == b"HTTP/":  # a status line and headers
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def flush(self) -> None:
        """Write a held header block now (the tick ended without a body write)."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
