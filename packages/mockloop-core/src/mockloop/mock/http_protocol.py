"""The mock's HTTP protocol: uvicorn's httptools protocol, guarded, one `send()` per response.

Both ports speak HTTP/1.1 through `GuardedHttpProtocol`, uvicorn's httptools protocol with the
limits a server facing strangers needs (`HttpLimits`):

* a request line longer than `max_request_line_bytes` is refused with 414, a header block
  beyond `max_header_bytes` or with more than `MAX_HEADERS` fields with 431; bytes of a header
  block still being received are counted as they arrive, so a 50 MB header is refused after
  the limit plus one read (256 KiB at most), never buffered whole;
* a request must arrive whole (headers and body) within `request_timeout` seconds of its first
  byte (408 and close), and an idle connection is closed after the keep-alive timeout;
* a client that stops reading its answer is cut off (the connection aborted, the unsent bytes
  dropped) once the answer has made no progress for `request_timeout` seconds: its writes
  paused (the transport's buffer past its high-water mark), or the connection closing with
  bytes still unsent, and the buffer not shrinking. The answers held for such clients are
  bounded by `max_write_held_bytes` too: beyond it the longest-stalled ones are cut off first;
* the request bytes held at once (bodies until answered, header blocks arriving in several
  reads) are bounded by `max_in_flight_bytes` (503 for the request that would exceed it), and
  the open connections by `max_connections`: at the cap a new connection closes the eighth of
  the others that have waited longest (idle, still sending a request, or not reading its
  answer), so a flood of slow connections costs its own oldest members, not the next client's
  `/health`; only when every connection is being answered is the new one refused (503);
* everything the HTTP layer itself refuses (a request httptools cannot parse, an unmet
  `Expect`, an HTTP version other than 1.0 or 1.1, an exception escaping the app) is answered
  with `application/problem+json` and `Connection: close`, never uvicorn's `text/plain`, and
  logged in one line, never a traceback. An `Upgrade` (WebSocket, h2c) is not served: the
  request is answered as plain HTTP and the connection closes after it.

Deadlines cost the hot path two clock reads, no timer: one `ConnectionGuard` per server sweeps
its connections a few times per timeout (uvicorn's own keep-alive arms and cancels a timer per
request instead).

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, then the body on `http.response.body`: two writes, two system calls and
two loopback packets for every small response, and the client wakes up twice. A mock answers
small bodies tens of thousands of times a second, and those writes were 40% of the event loop's
time in the throughput bench.

`CoalescingHttpProtocol` (the business port) hands uvicorn a transport that holds a header block
back until the next write, the response's first body chunk, which the app sends in the same
event-loop tick, and sends both in one write. Nothing waits longer than that tick: a header block
still held when the tick ends (an app that pauses between headers and body) is written then, and
closing the connection writes what is held first. Everything else passes straight to the real
transport.

The business app skips even that: on the business port each request's cycle is a
`OneWriteCycle`, whose `write_whole` takes a complete response (status, headers, body) and
writes it in one `write`, without the two ASGI messages, uvicorn's per-header checks and the
held-header round trip (a quarter of the event loop's Python time per request). The app finds
it through its `send` callable (`one_write_cycle`); under any other server (`uvicorn main:app`)
it sends the two ASGI messages as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import httptools
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from mockloop.mock.config import MockConfig
from mockloop.mock.problem import problem_bytes

__all__ = [
    "MAX_HEADERS",
    "CoalescingHttpProtocol",
    "CoalescingTransport",
    "ConnectionGuard",
    "GuardedHttpProtocol",
    "HttpLimits",
    "OneWriteCycle",
    "guarded_protocol",
    "one_write_cycle",
]

logger = logging.getLogger("mockloop.mock")

MAX_HEADERS = 200
"""Header fields one request may carry (431 beyond)."""

_MIB = 1024 * 1024
_LINE_SLACK = 32  # longer than any method plus " HTTP/1.1": below this the line cannot be over


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one server's connections may cost: sizes, deadlines and counts."""

    max_request_line_bytes: int = 8 * 1024
    max_header_bytes: int = 64 * 1024
    max_headers: int = MAX_HEADERS
    request_timeout: float = 30.0
    max_connections: int = 1000
    max_in_flight_bytes: int = 64 * _MIB
    max_write_held_bytes: int = 64 * _MIB

    @classmethod
    def business(cls, config: MockConfig) -> HttpLimits:
        """The business port's limits: the config's sizes and timeout, most of the process's
        file descriptors, and room for several maximal request bodies and unread responses."""
        return cls(
            max_request_line_bytes=config.max_request_line_bytes,
            max_header_bytes=config.max_header_bytes,
            request_timeout=config.request_timeout,
            max_connections=connection_cap(),
            max_in_flight_bytes=max(64 * _MIB, 2 * config.max_body_bytes),
            max_write_held_bytes=max(64 * _MIB, 4 * config.max_response_bytes),
        )

    @classmethod
    def admin(cls, config: MockConfig) -> HttpLimits:
        """The admin port's limits: the same sizes and timeout, few connections (its clients
        are the CLI, agents and a browser tab) and 64 MiB each of request bodies and of
        unread responses."""
        return cls(
            max_request_line_bytes=config.max_request_line_bytes,
            max_header_bytes=config.max_header_bytes,
            request_timeout=config.request_timeout,
            max_connections=64,
            max_in_flight_bytes=64 * _MIB,
        )


def connection_cap() -> int:
    """Connections the business port keeps open at once: 4096, or three quarters of the
    process's file-descriptor limit when that is lower (the rest serve the admin port, the
    log store and the proxy), so a flood is met before `accept()` runs out of descriptors."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return 1000
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(32, min(4096, (soft - 64) * 3 // 4))


class _Refused(Exception):
    """Raised inside a parser callback: answer `status` with `detail` and close."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ConnectionGuard:
    """One server's open connections: the count, the request bytes they hold, the unsent
    response bytes of those whose writes are paused, and a sweep that closes the ones past a
    deadline. The sweep runs only while connections are open."""

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self.connections: set[GuardedHttpProtocol] = set()
        self.in_flight = 0
        self.write_held = 0  # unsent bytes of connections whose writes are paused
        self._timer: asyncio.TimerHandle | None = None
        self._writers_shed_soon = False

    def add(self, connection: GuardedHttpProtocol) -> None:
        self.connections.add(connection)
        if self._timer is None:
            self._arm(connection.loop, connection.timeout_keep_alive)

    def discard(self, connection: GuardedHttpProtocol) -> None:
        self.connections.discard(connection)

    def shed(self) -> bool:
        """Make room at the connection cap: close the eighth of the connections that have
        waited longest without a request being answered (idle, or still sending one), oldest
        first. False when every connection is busy with an answer.

        A flood of slow or idle connections thus costs its own oldest members, not the next
        client's `/health`; shedding an eighth at once keeps a flood's cost per accept low.
        """
        waiting = [c for c in self.connections if c.waiting_since() is not None]
        if not waiting:
            return False
        waiting.sort(key=lambda c: c.waiting_since() or 0.0)
        for connection in waiting[: max(1, len(self.connections) // 8)]:
            self.connections.discard(connection)
            connection.shed()
        return True

    def shed_writers_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run `shed_writers` on the next tick (not inside the transport's write callback)."""
        if not self._writers_shed_soon:
            self._writers_shed_soon = True
            loop.call_soon(self.shed_writers)

    def shed_writers(self) -> None:
        """Over `max_write_held_bytes` of unsent answers: cut off the connections whose
        answers have stalled longest until three quarters of the budget remain held."""
        self._writers_shed_soon = False
        limit = self.limits.max_write_held_bytes
        if self.write_held <= limit:
            return
        writers = [c for c in self.connections if c.write_held]
        writers.sort(key=lambda c: c.waiting_since() or 0.0)
        for connection in writers:
            if self.write_held <= limit * 3 // 4:
                break
            self.connections.discard(connection)
            connection.cut_off(
                f"the server holds more than {limit // _MIB} MiB of answers its clients do "
                "not read, its limit; this one had waited longest"
            )

    def _arm(self, loop: asyncio.AbstractEventLoop, keep_alive: float) -> None:
        # A few sweeps per deadline: a connection is closed at most a quarter late.
        tick = max(0.05, min(1.0, self.limits.request_timeout / 4, keep_alive / 4))
        self._timer = loop.call_later(tick, self._sweep, loop, keep_alive)

    def _sweep(self, loop: asyncio.AbstractEventLoop, keep_alive: float) -> None:
        self._timer = None
        now = loop.time()
        for connection in list(self.connections):
            connection.expire(now)
        if self.connections:
            self._arm(loop, keep_alive)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with size caps, deadlines and problem+json refusals.

    Subclass it with `limits` set (see `guarded_protocol`); each subclass gets its own
    `ConnectionGuard`, so one class serves one server.
    """

    limits: ClassVar[HttpLimits] = HttpLimits()
    guard: ClassVar[ConnectionGuard] = ConnectionGuard(limits)
    parser: httptools.HttpRequestParser  # uvicorn's, None only once the connection is lost

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.guard = ConnectionGuard(cls.limits)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False
        self._serial = 0  # requests begun on this connection
        self._in_head = False  # between a request's first byte and the end of its headers
        self._head_bytes = 0  # bytes of this request's head counted so far (multi-read heads)
        self._head_held = 0  # those bytes as charged to the guard
        self._header_bytes = 0
        self._body_bytes = 0  # request body bytes charged to the guard
        self._began = 0.0  # loop time of the first byte of the request being received, or 0
        self._idle_since = 0.0  # loop time of the connection or of its last answer
        self._unmet_expect: bytes | None = None
        self.write_held = 0  # unsent bytes charged to the guard while writes are paused
        self._write_since = 0.0  # loop time the unsent bytes last shrank, or 0: not stalled
        self._write_seen = 0  # the unsent bytes then

    # -- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self.guard
        if len(guard.connections) >= self.limits.max_connections and not guard.shed():
            self._refuse(
                503,
                f"the server is answering on {self.limits.max_connections} connections, its "
                "limit; retry once some have closed",
            )
            return
        self._idle_since = self.loop.time()
        guard.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        guard = self.guard
        guard.discard(self)
        guard.in_flight -= self._body_bytes + self._head_held
        self._body_bytes = self._head_held = 0
        if self.write_held:
            guard.write_held -= self.write_held
            self.write_held = 0
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The transport's buffer passed its high-water mark: charge the unsent bytes to the
        guard and start counting the time the client takes to read them (see `expire`)."""
        super().pause_writing()
        size = self.transport.get_write_buffer_size()
        if not self._write_since:
            self._write_since = self.loop.time()
            self._write_seen = size
        self._charge_write(size)

    def resume_writing(self) -> None:
        """The client read enough for the buffer to fall below its low-water mark."""
        super().resume_writing()
        self._write_since = 0.0
        self._charge_write(0)

    def _charge_write(self, size: int) -> None:
        guard = self.guard
        guard.write_held += size - self.write_held
        self.write_held = size
        if size and guard.write_held > self.limits.max_write_held_bytes:
            guard.shed_writers_soon(self.loop)

    def waiting_since(self) -> float | None:
        """Since when this connection has waited (its connection, its last answer, or the last
        progress of an answer it does not read); None while a request is being answered, or
        once refused, unless the answer is stalled."""
        if self._write_since:
            return self._write_since
        if self._refused or (not self._began and self._answering()):
            return None
        return self._idle_since

    def _answering(self) -> bool:
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete

    def shed(self) -> None:
        """Close this connection to make room for a new one (see `ConnectionGuard.shed`)."""
        if self._write_since:
            self.cut_off(
                f"the server reached its limit of {self.limits.max_connections} connections "
                "and cut off a client that did not read its answer"
            )
        elif self._began:
            self._refuse(
                503,
                f"the server reached its limit of {self.limits.max_connections} connections "
                "and closed the slowest; send requests whole",
            )
        else:
            self._refused = True
            self.transport.close()

    def cut_off(self, reason: str) -> None:
        """Abort this connection, dropping its unsent bytes: its client does not read them."""
        self._refused = True
        self._began = 0.0
        self._write_since = 0.0
        logger.debug("cut off %s: %s", self.client, reason)
        if self.write_held:
            self.guard.write_held -= self.write_held
            self.write_held = 0
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's later sends go nowhere
            cycle.message_event.set()
        self.transport.abort()

    def expire(self, now: float) -> None:
        """Close this connection when its request, its idleness or a stalled answer has
        outlasted the limit."""
        transport = self.transport
        if self.flow.write_paused or transport.is_closing():
            size = transport.get_write_buffer_size()
            if size and self._write_stalled(now, size):
                return
        if self._refused:
            return
        began = self._began
        if began:
            timeout = self.limits.request_timeout
            if now - began > timeout:
                self._refuse(
                    408,
                    f"the request did not arrive whole within {timeout:g} s of its first byte "
                    "(headers and body); send it at once",
                )
        elif now - self._idle_since > self.timeout_keep_alive and not self._answering():
            self._refused = True
            self.transport.close()

    def _write_stalled(self, now: float, size: int) -> bool:
        """Cut the connection off when `size` unsent bytes have not shrunk for the limit."""
        if not self._write_since or size < self._write_seen:
            self._write_since = now
            self._write_seen = size
            if self.write_held:
                self._charge_write(size)
            return False
        timeout = self.limits.request_timeout
        if now - self._write_since <= timeout:
            return False
        self.cut_off(f"its answer made no progress for {timeout:g} s (the client does not read)")
        return True

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        in_head = self._in_head
        receiving = self._began
        serial = self._serial
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._upgrade_refused()
            return
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Refused):
                self._refuse(cause.status, cause.detail)
            else:
                reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
                self._refuse(400, f"the request could not be read ({reason})")
            return
        except httptools.HttpParserError as exc:
            if self.parser.get_http_version().startswith("2"):  # the HTTP/2 preface, PRI *
                self._refuse(505, "HTTP/2 is not served here; send HTTP/1.1")
            else:
                self._refuse(400, f"the request is not valid HTTP/1.1: {exc}")
            return
        if self._in_head:
            self._count_head(data, in_head, receiving, serial)
        elif self._head_held:
            self._release_head()

    def _count_head(self, data: bytes, in_head: bool, receiving: float, serial: int) -> None:
        """Charge a read that ended inside a header block; refuse the block once too large.

        A read is counted when all of it is this head: the head continues from the last read,
        or the connection was between requests and this read began exactly one. httptools
        keeps a header that is still arriving in memory, so this is what bounds it.
        """
        begun = self._serial - serial
        if (begun == 0 and in_head) or (begun == 1 and not receiving):
            size = len(data)
            self._head_bytes += size
            self._head_held += size
            self.guard.in_flight += size
            limits = self.limits
            if self._head_bytes > limits.max_request_line_bytes + limits.max_header_bytes:
                self._refuse(
                    431,
                    f"the request's header block exceeds {limits.max_header_bytes} bytes "
                    "(raise it with --max-header-size)",
                )
            elif self.guard.in_flight > limits.max_in_flight_bytes:
                self._refuse(503, self._busy_detail())

    def _release_head(self) -> None:
        self.guard.in_flight -= self._head_held
        self._head_held = 0

    def _upgrade_refused(self) -> None:
        """An `Upgrade` (WebSocket, h2c) or `CONNECT`: the request is answered as plain HTTP
        and the connection closes after it, since httptools stops parsing it there."""
        self._refused = True
        self._began = 0.0
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False
        else:
            self.transport.close()

    def _refuse(self, status: int, detail: str) -> None:
        """Answer `status` with a problem (unless a response has begun) and close."""
        self._refused = True
        self._began = 0.0
        logger.debug("refused %s %s: %s", status, self.client, detail)
        transport = self.transport
        if transport.is_closing():
            return
        cycle = self.cycle
        started = cycle is not None and cycle.response_started and not cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's later sends go nowhere
            cycle.message_event.set()
        if not started:
            transport.write(problem_bytes(status, detail))
        transport.close()

    def _busy_detail(self) -> str:
        return (
            f"the server is receiving {self.limits.max_in_flight_bytes // _MIB} MiB of requests "
            "at once, its limit; retry shortly"
        )

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, msg)

    # -- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._serial += 1
        self._in_head = True
        self._head_bytes = self._header_bytes = 0
        self._began = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self.url += url
        size = len(self.url)
        limit = self.limits.max_request_line_bytes
        if size > limit - _LINE_SLACK:
            line = len(self.parser.get_method()) + size + len(b"  HTTP/1.1")
            if line > limit:
                raise _Refused(
                    414,
                    f"the request line exceeds {limit} bytes (raise it with --max-request-line)",
                )

    def on_header(self, name: bytes, value: bytes) -> None:
        size = self._header_bytes + len(name) + len(value) + 4
        self._header_bytes = size
        if size > self.limits.max_header_bytes:
            raise _Refused(
                431,
                f"the request's header block exceeds {self.limits.max_header_bytes} bytes "
                "(raise it with --max-header-size)",
            )
        name = name.lower()
        # llhttp keeps trailing whitespace, which RFC 9110 section 5.5 excludes from the value.
        value = value.rstrip(b" \t")
        if name == b"expect":
            if value.lower() == b"100-continue":
                self.expect_100_continue = True
            else:
                self._unmet_expect = value
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        if len(self.headers) > self.limits.max_headers:
            raise _Refused(
                431,
                f"the request has {len(self.headers)} header fields, more than "
                f"{self.limits.max_headers}",
            )
        if self._unmet_expect is not None:
            expected = self._unmet_expect.decode("latin-1")
            raise _Refused(417, f"Expect: {expected} is not supported (only 100-continue is)")
        version = self.parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise _Refused(505, f"HTTP/{version} is not served here; send HTTP/1.1")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if cycle.response_complete:  # answered already (413): the rest is read and dropped
            return
        size = len(body)
        self._body_bytes += size
        guard = self.guard
        guard.in_flight += size
        limits = self.limits
        if guard.in_flight > limits.max_in_flight_bytes:
            if self._body_bytes > limits.max_in_flight_bytes:
                raise _Refused(413, f"the request body exceeds {limits.max_in_flight_bytes} bytes")
            raise _Refused(503, self._busy_detail())
        cycle.body += body
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()

    def on_message_complete(self) -> None:
        self._began = 0.0
        super().on_message_complete()

    # -- responses ----------------------------------------------------------------------------

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self._body_bytes:
            self.guard.in_flight -= self._body_bytes
            self._body_bytes = 0
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        self._idle_since = self.loop.time()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        task = self.loop.create_task(_run_cycle(cycle, app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)


async def _run_cycle(cycle: RequestResponseCycle, app: Any) -> None:
    """Run the app for one request; an exception escaping it is logged as one line (the
    traceback at debug level) and answered with a 500 problem, or the connection closed when
    a response had begun."""
    try:
        result = await app(cycle.scope, cycle.receive, cycle.send)
    except Exception as exc:
        scope = cycle.scope
        logger.error(
            "500 for %s %s: %s: %s",
            scope.get("method"),
            scope.get("path"),
            type(exc).__name__,
            exc,
            exc_info=exc if logger.isEnabledFor(logging.DEBUG) else None,
        )
        if not cycle.response_started and not cycle.disconnected:
            detail = (
                f"the server failed while answering ({type(exc).__name__}); its log has the details"
            )
            with contextlib.suppress(Exception):
                cycle.transport.write(problem_bytes(500, detail))
            cycle.response_complete = True
        cycle.transport.close()
    except BaseException:  # cancelled at shutdown
        cycle.transport.close()
        raise
    else:
        if result is not None or (not cycle.response_complete and not cycle.disconnected):
            logger.error("the app returned without completing its response; connection closed")
            if not cycle.response_started:
                cycle.transport.write(
                    problem_bytes(500, "the server returned without answering this request")
                )
            cycle.transport.close()
    finally:
        cycle.on_response = _nothing


def _nothing() -> None:
    return None


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


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request/response cycle that can also take a whole response at once."""

    def write_whole(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
        """Write the status line, headers and body in one write and complete the response;
        False (nothing written) when the ASGI messages must take over: the response has begun,
        the client is gone or not reading, or a header needs uvicorn's handling (an invalid
        name or value, `connection`, `transfer-encoding`).

        `headers` must carry the body's `content-length` (for HEAD, the body's that a GET
        would have sent; the body is not written).
        """
        if self.response_started or self.disconnected or self.flow.write_paused:
            return False
        if self.access_log:
            return False
        lines = [STATUS_LINE[status]]
        append = lines.append
        for name, value in self.default_headers:
            append(b"%s: %s\r\n" % (name, value))
        for name, value in headers:
            name = name.lower()
            if name == b"connection" or name == b"transfer-encoding":
                return False
            append(b"%s: %s\r\n" % (name, value))
        if HEADER_VALUE_RE.search(b"".join([value for _, value in headers])) or HEADER_RE.search(
            b"".join([name for name, _ in headers])
        ):
            return False  # uvicorn's send refuses it (500)
        keep_alive = self.keep_alive
        if not keep_alive:
            append(b"connection: close\r\n")
        append(b"\r\n")
        if self.scope["method"] != "HEAD":
            append(body)
        self.response_started = True
        self.waiting_for_100_continue = False
        transport = self.transport
        transport.write(b"".join(lines))
        self.response_complete = True
        self.message_event.set()
        if not keep_alive:
            transport.close()
        self.on_response()
        return True


def one_write_cycle(send: Any) -> OneWriteCycle | None:
    """The `OneWriteCycle` behind an ASGI `send` callable, or None (another server's send)."""
    owner = getattr(send, "__self__", None)
    return owner if type(owner) is OneWriteCycle else None


class CoalescingHttpProtocol(GuardedHttpProtocol):
    """The guarded protocol over a `CoalescingTransport` (the business port), whose cycles
    are `OneWriteCycle`s."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    _eager = False  # running a request's first step in place (see `_start_asgi_task`)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """Run the request's first step at once; a task takes over only if the app waits.

        A mock's answer seldom waits for anything (a GET's answer is ready when its headers
        are), so it is written in the same callback, without a task to create, schedule and
        register (asyncio's eager task start, which Python 3.11 lacks). A request started
        while another runs in place (the next pipelined one, once the first has answered)
        gets a task, so a long pipeline never nests; so does an `Upgrade` request, whose
        answer must wait for the parser to refuse the upgrade (`Connection: close`), and any
        request to an app without a true `runs_in_place` (code such as httpx's async client
        needs to run in a task: the business app under proxy settings says so).
        """
        # The same object with `write_whole` added: uvicorn builds the cycle by name.
        cycle.__class__ = OneWriteCycle
        if self._eager or not getattr(app, "runs_in_place", False) or self.parser.should_upgrade():
            super()._start_asgi_task(cycle, app)
            return
        coroutine = _run_cycle(cycle, app)
        self._eager = True
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            return
        finally:
            self._eager = False
        task = self.loop.create_task(_carry_on(coroutine, waiting_on))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)


async def _carry_on(coroutine: Any, waiting_on: Any) -> None:
    """Finish, in a task, a coroutine whose first step ran outside one."""
    await _resume(coroutine, waiting_on)


@types.coroutine
def _resume(coroutine: Any, waiting_on: Any) -> Generator[Any, Any, None]:
    """Hand what `coroutine` waits on to the task running this, and pass back what the task
    sends or throws, until the coroutine returns."""
    while True:
        try:
            sent = yield waiting_on
        except BaseException as exc:  # the task's cancellation, passed on
            try:
                waiting_on = coroutine.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_on = coroutine.send(sent)
            except StopIteration:
                return


def guarded_protocol(limits: HttpLimits, *, coalescing: bool) -> type[GuardedHttpProtocol]:
    """A protocol class for one server (`uvicorn.Config(http=...)`) with these limits and a
    `ConnectionGuard` of its own; `coalescing` sends headers and body in one write."""
    base = CoalescingHttpProtocol if coalescing else GuardedHttpProtocol

    protocol = cast("type[GuardedHttpProtocol]", type(base.__name__, (base,), {}))
    protocol.limits = limits
    protocol.guard = ConnectionGuard(limits)
    return protocol
