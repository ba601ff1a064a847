"""The business port's protocol sends a response's headers and body in one write."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx

from mockloop.mock.config import MockConfig
from mockloop.mock.http_protocol import CoalescingTransport
from mockloop.mock.server import MockServer
from tests.conftest import PETSTORE

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.events.append("close")

    def abort(self) -> None:
        self.events.append("abort")

    def write_eof(self) -> None:
        self.events.append("eof")

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_headers_and_body_leave_in_one_write() -> None:
    raw = FakeTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    assert raw.writes == []  # held for the body
    transport.write(b"{}")
    assert raw.writes == [HEAD + b"{}"]
    transport.write(b"more")  # not a header block: straight through
    assert raw.writes[-1] == b"more"
    await asyncio.sleep(0)  # the scheduled flush finds nothing held
    assert len(raw.writes) == 2
    assert transport.get_extra_info("peername") == "info:peername"  # everything else delegates


async def test_a_header_block_never_waits_past_the_tick() -> None:
    raw = FakeTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert raw.writes == []
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


async def test_close_writes_what_is_held_and_abort_drops_it() -> None:
    raw = FakeTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.close()
    assert raw.writes == [HEAD] and raw.events == ["close"]
    other = FakeTransport()
    aborted = CoalescingTransport(other, asyncio.get_running_loop())  # type: ignore[arg-type]
    aborted.write(HEAD)
    aborted.abort()
    await asyncio.sleep(0)
    assert other.writes == [] and other.events == ["abort"]


def test_a_real_response_arrives_in_one_segment_and_keep_alive_works() -> None:
    config = MockConfig.build(spec=str(PETSTORE), port=0, auth=False)
    with MockServer(config) as server:
        host, port = server.business_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            for _ in range(3):  # three requests on one connection
                sock.sendall(b"GET /pets/1 HTTP/1.1\r\nhost: x\r\n\r\n")
                first = sock.recv(65536)
                head, _, body = first.partition(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                assert len(body) == length  # the whole body came with the headers
        # HEAD, 204 and errors still answer correctly.
        with httpx.Client(base_url=server.business_url) as client:
            assert client.head("/pets").status_code == 200
            assert client.delete("/pets/1").status_code == 204
            assert client.get("/nowhere").status_code == 404
            assert client.get("/pets", params={"limit": "x"}).status_code in (400, 422)


def _read_response(
    sock: socket.socket, pending: bytearray, *, head_only: bool = False
) -> tuple[bytes, bytes]:
    """One response from `sock` (bytes already read wait in `pending`, and what follows the
    response is left there): its header block and the body content-length says (none for
    `head_only`, the answer to a HEAD)."""
    while b"\r\n\r\n" not in pending:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed mid-header: {bytes(pending)!r}"
        pending += chunk
    end = pending.index(b"\r\n\r\n")
    head = bytes(pending[:end])
    del pending[: end + 4]
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = 0 if head_only else int(fields[b"content-length"])
    while len(pending) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-body"
        pending += chunk
    body = bytes(pending[:length])
    del pending[:length]
    return head, body


def test_whole_responses_keep_uvicorn_semantics() -> None:
    """The one-write path (`OneWriteCycle.write_whole`) answers as uvicorn's send would:
    a date header, HEAD without a body, pipelined requests in order, HTTP/1.0 closed."""
    config = MockConfig.build(spec=str(PETSTORE), port=0, auth=False)
    with MockServer(config) as server:
        host, port = server.business_url.removeprefix("http://").split(":")
        pending = bytearray()
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"GET /pets/1 HTTP/1.1\r\nhost: x\r\n\r\nHEAD /pets/1 HTTP/1.1\r\nhost: x\r\n\r\n"
            )
            head, body = _read_response(sock, pending)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"\r\ndate: " in head
            assert body.startswith(b"{")
            head_only, nothing = _read_response(sock, pending, head_only=True)
            assert head_only.startswith(b"HTTP/1.1 200 OK\r\n")
            assert f"content-length: {len(body)}".encode() in head_only  # a GET's length
            assert nothing == b""
            sock.sendall(b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n")
            missing, problem_body = _read_response(sock, pending)
            assert not pending  # no body came after the HEAD's headers
            assert missing.startswith(b"HTTP/1.1 404 ")
            assert b"application/problem+json" in missing
            assert b'"status":404' in problem_body
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"GET /pets/1 HTTP/1.0\r\n\r\n")
            pending.clear()
            head, _ = _read_response(sock, pending)
            assert b"\r\nconnection: close" in head
            assert sock.recv(65536) == b""  # closed after the answer


async def test_write_whole_declines_what_uvicorn_must_handle() -> None:
    """A header uvicorn's send treats specially, or refuses, leaves the response to it."""
    from mockloop.mock.http_protocol import OneWriteCycle, one_write_cycle

    class Flow:
        write_paused = False

    transport = FakeTransport()
    cycle = OneWriteCycle.__new__(OneWriteCycle)
    cycle.scope = {"method": "GET"}  # type: ignore[assignment]
    cycle.transport = transport  # type: ignore[assignment]
    cycle.flow = Flow()  # type: ignore[assignment]
    cycle.access_log = False
    cycle.default_headers = []
    cycle.disconnected = cycle.response_started = cycle.response_complete = False
    cycle.keep_alive = True
    cycle.message_event = asyncio.Event()
    completed: list[bool] = []
    cycle.on_response = lambda: completed.append(True)
    length = (b"content-length", b"2")
    assert not cycle.write_whole(200, [(b"connection", b"close"), length], b"{}")
    assert not cycle.write_whole(200, [(b"x-bad", b"a\r\nb"), length], b"{}")
    assert not cycle.write_whole(200, [(b"bad name", b"v"), length], b"{}")
    assert transport.writes == [] and not cycle.response_started
    assert cycle.write_whole(200, [length], b"{}")
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    assert cycle.response_complete and completed == [True]
    assert not cycle.write_whole(200, [length], b"{}")  # answered already
    assert one_write_cycle(cycle.send) is cycle

    async def plain_send(message: Any) -> None:
        return None

    assert one_write_cycle(plain_send) is None  # another server's send: the ASGI messages
