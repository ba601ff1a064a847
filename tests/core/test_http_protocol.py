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
