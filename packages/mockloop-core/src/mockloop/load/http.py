"""The load engine's HTTP/1.1 client: one keep-alive connection as an asyncio protocol.

Requests are encoded to bytes once, before the run; on the hot path a connection writes those
bytes, feeds what arrives to httptools (the C parser uvicorn uses: content-length, chunked and
close-delimited bodies) and, when a response is complete, hands its status to its owner, which
records the latency and writes the next request from the same callback. No coroutine, future
or timer is created per request; timeouts are checked by the owner's periodic sweep.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Protocol

import httptools

__all__ = ["Connection", "ConnectionOwner", "encode_request", "error_kind", "tls_context"]

_USER_AGENT = "mockloop-load"


def encode_request(
    method: str,
    target: str,
    host_header: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> bytes:
    """The bytes of one HTTP/1.1 keep-alive request (`target`: path and query)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}", f"User-Agent: {_USER_AGENT}"]
    given = {name.lower() for name in (headers or {})}
    if "accept" not in given:
        lines.append("Accept: */*")
    for name, value in (headers or {}).items():
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        lines.append(f"{name}: {value}")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


def tls_context() -> ssl.SSLContext:
    """A client TLS context that verifies certificates (honours SSL_CERT_FILE/SSL_CERT_DIR)."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def error_kind(exc: BaseException | None) -> str:
    """The error kind a connection failure counts as."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "connection_reset"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, OSError):
        return "connection_error"
    return "connection_reset" if exc is None else "other"


class ConnectionOwner(Protocol):
    """What a connection reports to: the worker driving it."""

    bytes_received: int

    def arrival_time(self) -> float:
        """When the bytes being handled now reached the generator (see Worker.arrival_time)."""
        ...

    def on_response(self, conn: Connection, status: int) -> None:
        """A complete response arrived for the request in flight."""
        ...

    def on_failure(self, conn: Connection, kind: str) -> None:
        """The request in flight failed (the connection is gone)."""
        ...

    def on_closed(self, conn: Connection) -> None:
        """The connection closed with no request in flight."""
        ...


class Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight (no pipelining).

    `op` is the index of the request template in flight (-1: idle; the owner resets it when
    told of the outcome), `started` the time its latency counts from (the scheduled send time
    in the open model), `sent` when it was written (what the timeout counts from), `arrived`
    when the last bytes of its response reached the generator. Once `closed`, the owner opens
    a new connection for the next request.
    """

    __slots__ = (
        "_complete",
        "_dropped",
        "_head_only",
        "_keep_alive",
        "_parser",
        "_status",
        "arrived",
        "closed",
        "op",
        "owner",
        "sent",
        "started",
        "transport",
        "user",
    )

    def __init__(self, owner: ConnectionOwner, user: int = -1) -> None:
        self.owner = owner
        self.user = user
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._complete = False
        self._head_only = False
        self._keep_alive = True
        self._status = 0
        self.op = -1
        self.started = 0.0
        self.sent = 0.0
        self.arrived = 0.0
        self.closed = False
        self._dropped = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.arrived = self.owner.arrival_time()
        self.owner.bytes_received += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:  # includes HttpParserUpgrade
            self.fail("protocol_error")
            return
        if self._complete:
            self._finish(self._keep_alive)

    def eof_received(self) -> bool | None:
        # httptools cannot be told of the end of input: a response without content-length
        # or chunking (close-delimited) ends here, once its head is in. A non-keep-alive
        # response cut short mid-body cannot be told apart from it and counts as complete.
        if self.op >= 0 and self._status and not self._parser.should_keep_alive():
            self._finish(False)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._dropped:
            return
        self._dropped = True
        if self.op >= 0:
            self.owner.on_failure(self, error_kind(exc))
        else:
            self.owner.on_closed(self)

    # -- httptools callbacks ----------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        if self._head_only:
            self._complete = True

    def on_message_complete(self) -> None:
        # Asked here: once feed_data returns, the parser has moved on to the next message.
        self._keep_alive = self._parser.should_keep_alive()
        self._complete = True

    # -- for the owner ----------------------------------------------------------------------

    def send(self, op: int, request: bytes, started: float, now: float, head: bool) -> None:
        """Write a request; `started`: when its latency counts from."""
        self.op = op
        self.started = started
        self.sent = now
        self._head_only = head
        self.transport.write(request)  # type: ignore[union-attr]

    def _finish(self, keep_alive: bool) -> None:
        status = self._status
        self._complete = False
        self._status = 0
        if self._head_only:
            # The parser cannot know a HEAD answer has no body: start afresh.
            self._head_only = False
            self._parser = httptools.HttpResponseParser(self)
        if not keep_alive:
            self.close()
        self.owner.on_response(self, status)

    def fail(self, kind: str) -> None:
        """Fail the request in flight as `kind` and drop the connection."""
        in_flight = self.op >= 0
        self.close()
        if in_flight:
            self.owner.on_failure(self, kind)

    def close(self) -> None:
        """Drop the connection at once; the owner hears of it only through its own call."""
        self.closed = True
        self._dropped = True
        if self.transport is not None:
            self.transport.abort()
