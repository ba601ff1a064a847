"""Hostile traffic on the HTTP layer: caps, deadlines and problem+json refusals on both ports."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from mockloop.mock import http_protocol
from mockloop.mock import server as mock_server
from mockloop.mock.config import MockConfig
from mockloop.mock.http_protocol import HttpLimits, guarded_protocol
from mockloop.mock.server import MockServer
from tests.conftest import PETSTORE
from tests.waiting import wait_for, wait_for_async

PROBLEM = "application/problem+json"


@dataclass
class Reply:
    """A response read off a raw socket, up to the server's close."""

    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after it

    @property
    def problem(self) -> dict[str, Any]:
        assert self.headers.get("content-type") == PROBLEM, self.headers
        return orjson.loads(self.body)


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _read_reply(sock: socket.socket) -> Reply | None:
    """Read one response, then on until the server closes (None: it closed without a word)."""
    data = b""
    closed = False
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except ConnectionResetError:
        # The server closed with bytes of ours still unread (a refused request it stopped
        # reading): the kernel resets instead of a clean FIN. Closed all the same.
        closed = True
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = _headers(head)
    return Reply(status, headers, body[: int(headers.get("content-length", len(body)))], closed)


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _exchange(url: str, data: bytes) -> Reply:
    with socket.create_connection(_address(url), timeout=30) as sock:
        sock.sendall(data)
        reply = _read_reply(sock)
    assert reply is not None, "the server closed without answering"
    return reply


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    config = MockConfig(
        spec=str(PETSTORE),
        port=0,
        admin_port=0,
        auth=False,
        request_timeout=1.0,
        data_dir=tmp_path_factory.mktemp("hostile-data"),
    )
    with MockServer(config) as server:
        yield server


def _assert_serves(mock: MockServer) -> None:
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{mock.business_url}/health").status_code == 200
        assert client.get(f"{mock.business_url}/pets/1").status_code == 200
        assert client.get(f"{mock.admin_url}/health").status_code == 200


@pytest.mark.parametrize("port", ["business", "admin"])
def test_a_request_line_over_the_cap_is_414_problem(mock: MockServer, port: str) -> None:
    url = mock.business_url if port == "business" else mock.admin_url or ""
    target = b"/pets?q=" + b"a" * (mock.config.max_request_line_bytes + 10)
    reply = _exchange(url, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.status == 414
    assert "8192 bytes" in reply.problem["detail"]
    assert reply.headers["connection"] == "close" and reply.closed
    _assert_serves(mock)


def test_a_request_line_at_the_cap_is_served(mock: MockServer) -> None:
    line_framing = len(b"GET  HTTP/1.1")
    target = b"/pets/1?q=" + b"a" * (mock.config.max_request_line_bytes - line_framing - 10)
    reply = _exchange(
        mock.business_url, b"GET " + target + b" HTTP/1.1\r\nConnection: close\r\n\r\n"
    )
    assert reply.status == 200


@pytest.mark.parametrize("port", ["business", "admin"])
def test_a_header_block_over_the_cap_is_431_problem(mock: MockServer, port: str) -> None:
    url = mock.business_url if port == "business" else mock.admin_url or ""
    headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))  # ~70 KiB
    reply = _exchange(url, b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert reply.status == 431
    assert "65536 bytes" in reply.problem["detail"]
    assert reply.closed


def test_too_many_header_fields_is_431_problem(mock: MockServer) -> None:
    headers = b"".join(b"X-%d: y\r\n" % i for i in range(http_protocol.MAX_HEADERS + 1))
    reply = _exchange(mock.business_url, b"GET /health HTTP/1.1\r\n" + headers + b"\r\n")
    assert reply.status == 431
    assert "header fields" in reply.problem["detail"]


def test_a_header_trickled_past_the_cap_is_refused_before_it_ends(mock: MockServer) -> None:
    """One header value arriving in reads: the count of bytes received refuses it, though
    httptools never reports an unfinished header."""
    limit = mock.config.max_request_line_bytes + mock.config.max_header_bytes
    with socket.create_connection(_address(mock.business_url), timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: ")
        sent = 0
        while sent <= limit:  # never ends the header: only the byte count can refuse it
            sock.sendall(b"v" * 4096)
            sent += 4096
        reply = _read_reply(sock)
    assert reply is not None and reply.status == 431 and reply.closed


def test_a_50_mb_header_is_never_buffered(mock: MockServer) -> None:
    size = 50 * 1024 * 1024
    chunk = b"v" * 65536
    sent = 0
    with socket.create_connection(_address(mock.business_url), timeout=30) as sock:
        with contextlib.suppress(OSError):  # the server closes mid-send: broken pipe or reset
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Bomb: ")
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
        with contextlib.suppress(OSError):
            reply = _read_reply(sock)
            if reply is not None:
                assert reply.status == 431
    assert sent < size  # the server stopped reading long before the end
    _assert_serves(mock)


@pytest.mark.parametrize(
    "half",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\n",  # headers never finished
        b"POST /pets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{",  # a body shorter than its Content-Length
        b'POST /pets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a"',
    ],
    ids=["headers", "content-length", "chunked"],
)
def test_a_half_sent_request_is_answered_408_and_closed(mock: MockServer, half: bytes) -> None:
    reply = _exchange(mock.business_url, half)
    assert reply.status == 408
    assert "1 s" in reply.problem["detail"]
    assert reply.closed
    _assert_serves(mock)


def test_a_trickled_request_is_closed_by_its_deadline(mock: MockServer) -> None:
    """Bytes keep coming, but the deadline counts from the request's first byte."""
    with socket.create_connection(_address(mock.business_url), timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        sock.settimeout(0.1)  # the pace of the trickle: one header line per 0.1 s

        def closed_after_one_more_line() -> bool:
            try:
                sock.sendall(b"X-A: b\r\n")
                return sock.recv(65536) == b""
            except TimeoutError:
                return False  # still open, nothing answered yet
            except OSError:
                return True

        assert wait_for(closed_after_one_more_line, "the server to close", timeout=20, every=0)


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b"\xff\xfe\x00garbage\r\n\r\n", 400, "Invalid method"),
        (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "url"),
        (b"GET /health HTTP/1.1\r\nHo st: x\r\n\r\n", 400, "header"),
        (b"GET /health HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400, "header value"),
        (
            b"POST /pets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
            400,
            "chunk size",
        ),
        (
            b"POST /pets HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            "Content-Length",
        ),
        (b"POST /pets HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "Content-Length"),
        (
            b"POST /pets HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            400,
            "Content-Length",
        ),
        (b"POST /pets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400, "Transfer"),
        (b"GET /\r\n\r\n", 505, "HTTP/0.9"),
        (b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HTTP/2"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417, "Expect: magic"),
    ],
    ids=[
        "garbage",
        "non-ascii-url",
        "bad-header-name",
        "control-in-value",
        "bad-chunk",
        "cl-and-te",
        "bad-content-length",
        "two-content-lengths",
        "unknown-te",
        "http-0.9",
        "http-2.0",
        "h2-preface",
        "unmet-expect",
    ],
)
@pytest.mark.parametrize("port", ["business", "admin"])
def test_what_the_parser_refuses_is_problem_json_and_closes(
    mock: MockServer,
    port: str,
    raw: bytes,
    status: int,
    says: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = mock.business_url if port == "business" else mock.admin_url or ""
    with caplog.at_level(logging.WARNING):
        reply = _exchange(url, raw)
    assert reply.status == status
    document = reply.problem
    assert document["status"] == status and document["title"]
    assert says.lower() in document["detail"].lower()
    assert reply.headers["connection"] == "close" and reply.closed
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    _assert_serves(mock)


def test_an_upgrade_is_answered_as_plain_http_and_closes(mock: MockServer) -> None:
    reply = _exchange(
        mock.business_url,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    assert reply.status == 200 and orjson.loads(reply.body)["status"] == "ok"
    assert reply.headers["connection"] == "close" and reply.closed


def test_keep_alive_and_pipelining_still_work(mock: MockServer) -> None:
    with socket.create_connection(_address(mock.business_url), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        data = b""
        while data.count(b"HTTP/1.1 200") < 3:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        post = b'{"name": "Rex", "species": "dog"}'
        sock.sendall(
            b"POST /pets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(post), post)
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 ")


def _serve(config: uvicorn.Config) -> Iterator[str]:
    sock = mock_server.bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "uvicorn to start", timeout=10, every=0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


RELEASE = threading.Event()  # lets the test app's /slow requests finish
SLOW_STARTED: list[str] = []  # one entry per /slow request the test app has begun


async def _failing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        SLOW_STARTED.append(scope["path"])
        await wait_for_async(RELEASE.is_set, "the test to release /slow", timeout=60, every=0.01)
    if scope["path"] in ("/ok", "/slow"):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    raise RuntimeError("secret internals")


@pytest.fixture()
def failing_server() -> Iterator[str]:
    config = uvicorn.Config(
        _failing_app,
        http=guarded_protocol(HttpLimits(max_connections=3, request_timeout=2), coalescing=True),
        ws="none",
        lifespan="off",
        log_level="warning",
        timeout_keep_alive=1,
    )
    yield from _serve(config)


def test_an_exception_in_the_app_is_500_problem_logged_once(
    failing_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        reply = _exchange(failing_server, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.status == 500
    assert "RuntimeError" in reply.problem["detail"]
    assert "secret internals" not in reply.body.decode()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1 and "RuntimeError" in failures[0].getMessage()
    assert failures[0].exc_info is None  # one line, no traceback
    assert _exchange(failing_server, b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n").status == 204


def test_a_new_connection_at_the_cap_sheds_a_waiting_one(failing_server: str) -> None:
    address = _address(failing_server)
    held = [socket.create_connection(address, timeout=30) for _ in range(3)]
    held[0].sendall(b"GET /ok HTTP/1.1\r\n")  # a request still arriving; the others idle
    try:
        # The cap is 3, all of them waiting: the next client is served, one of them makes room.
        reply = _exchange(failing_server, b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert reply.status == 204
        for sock in held:  # shed, or closed by the keep-alive timeout / the request deadline
            reply = _read_reply(sock)
            assert reply is None or (reply.status in (408, 503) and reply.closed)
    finally:
        for sock in held:
            sock.close()


def test_a_new_connection_is_refused_when_all_are_being_answered(failing_server: str) -> None:
    address = _address(failing_server)
    RELEASE.clear()
    SLOW_STARTED.clear()
    busy = [socket.create_connection(address, timeout=30) for _ in range(3)]
    try:
        for sock in busy:
            sock.sendall(b"GET /slow HTTP/1.1\r\nConnection: close\r\n\r\n")
        wait_for(lambda: len(SLOW_STARTED) == 3, "the app to begin all three answers", every=0.01)
        reply = _exchange(failing_server, b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert reply.status == 503 and "3 connections" in reply.problem["detail"]
        RELEASE.set()
        for sock in busy:  # the requests being answered were not touched
            answer = _read_reply(sock)
            assert answer is not None and answer.status == 204
    finally:
        RELEASE.set()
        for sock in busy:
            sock.close()


def test_the_admin_api_answers_a_failing_route_with_a_500_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()

    @app.get("/boom")
    def boom() -> None:
        raise ValueError("no")

    config = mock_server._admin_config(app, MockConfig(spec=str(PETSTORE)))  # pyright: ignore[reportPrivateUsage]
    with caplog.at_level(logging.INFO):
        for url in _serve(config):
            reply = _exchange(url, b"GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert reply.status == 500 and "ValueError" in reply.problem["detail"]
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1 and failures[0].exc_info is None


def test_the_header_count_refusal_names_the_servers_own_limit() -> None:
    config = uvicorn.Config(
        _failing_app,
        http=guarded_protocol(HttpLimits(max_headers=10), coalescing=True),
        ws="none",
        lifespan="off",
        log_level="warning",
    )
    headers = b"".join(b"X-%d: y\r\n" % i for i in range(11))
    for url in _serve(config):
        reply = _exchange(url, b"GET /ok HTTP/1.1\r\n" + headers + b"\r\n")
        assert reply.status == 431
        assert reply.problem["detail"].endswith("11 header fields, more than 10")


UNREAD_BODY = b"x" * (8 * 1024 * 1024)  # far beyond what loopback's socket buffers absorb


async def _large_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """`/big`: 8 MiB in one write; `/stream`: the same in 256 KiB chunks; else a short 200."""
    if scope["type"] != "http":
        return
    body = UNREAD_BODY if scope["path"] in ("/big", "/stream") else b"ok"
    length = (b"content-length", b"%d" % len(body))
    await send({"type": "http.response.start", "status": 200, "headers": [length]})
    if scope["path"] == "/stream":
        step = 256 * 1024
        for start in range(0, len(body), step):
            chunk = body[start : start + step]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:  # complete at once: the bytes wait in the transport, the app is done
        await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def _large_server(limits: HttpLimits) -> Iterator[tuple[str, http_protocol.ConnectionGuard]]:
    protocol = guarded_protocol(limits, coalescing=True)
    config = uvicorn.Config(
        _large_app, http=protocol, ws="none", lifespan="off", log_level="warning"
    )
    config.timeout_keep_alive = 1
    for url in _serve(config):
        yield url, protocol.guard


def _non_reader(url: str, path: str) -> socket.socket:
    """A client that asks for `path` and never reads, its receive buffer as small as allowed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(_address(url))
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    return sock


def _received(sock: socket.socket) -> int:
    """Bytes the client can still read before the server's close or reset."""
    total = 0
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(1 << 20):
            total += len(chunk)
    return total


def _ok(url: str) -> bool:
    with httpx.Client(timeout=10) as client:
        return client.get(f"{url}/health").status_code == 200


@pytest.mark.parametrize("path", ["/big", "/stream"])
def test_a_client_that_does_not_read_is_cut_off_after_the_timeout(path: str) -> None:
    with _large_server(HttpLimits(request_timeout=0.5)) as (url, guard):
        stalled = [_non_reader(url, path) for _ in range(3)]
        try:
            _poll(
                lambda: any(c.flow.write_paused for c in guard.connections),
                "the answers never filled the write buffers",
            )
            assert _ok(url)
            _poll(
                lambda: not guard.connections,
                "the server kept the connections of clients that do not read",
            )
            assert guard.write_held == 0
            for sock in stalled:  # the answer was cut short, not delivered whole
                assert _received(sock) < len(UNREAD_BODY)
            assert _ok(url)
        finally:
            for sock in stalled:
                sock.close()


@pytest.mark.parametrize("path", ["/big", "/stream"])
def test_clients_that_do_not_read_are_shed_at_the_connection_cap(path: str) -> None:
    with _large_server(HttpLimits(request_timeout=60, max_connections=3)) as (url, guard):
        stalled = [_non_reader(url, path) for _ in range(3)]
        try:
            # All three hold the cap: writes paused, and for /big (complete, idle past the
            # 1 s keep-alive) closing with its bytes unsent.
            _poll(
                lambda: (
                    len(guard.connections) == 3
                    and all(
                        c.flow.write_paused and (path == "/stream" or c.transport.is_closing())
                        for c in guard.connections
                    )
                ),
                "the three clients never stalled",
            )
            assert _ok(url)  # one of them made room
            cut = [sock for sock in stalled if _received(sock) < len(UNREAD_BODY)]
            assert cut
        finally:
            for sock in stalled:
                sock.close()


def test_unread_answers_beyond_the_budget_cut_off_the_longest_stalled() -> None:
    # Loopback's socket buffers absorb at most 4 MiB of an answer, so each unread 8 MiB answer
    # leaves over 4 MiB with the server: two of them exceed a 7 MiB budget, one does not.
    budget = 7 * 1024 * 1024
    limits = HttpLimits(request_timeout=60, max_write_held_bytes=budget)
    with _large_server(limits) as (url, guard):
        first = _non_reader(url, "/big")
        second: socket.socket | None = None
        try:
            address = first.getsockname()
            _poll(lambda: guard.write_held > 0, "the first answer never filled its buffer")
            second = _non_reader(url, "/big")
            _poll(
                lambda: all(tuple(c.client or ()) != address for c in guard.connections),
                "the longest stalled answer was not cut off beyond the budget",
            )
            assert guard.write_held <= budget
            assert _ok(url)
            assert _received(first) < len(UNREAD_BODY)
        finally:
            first.close()
            if second is not None:
                second.close()


def _poll(condition: Any, what: str) -> None:
    wait_for(condition, what, timeout=20)
