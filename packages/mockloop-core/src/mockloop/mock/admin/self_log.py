"""Logs the admin port's own requests into the request log, marked `mode="admin"`.

They are left out of searches and analyses unless `include_admin` is asked for. Reads of the
log itself (`/api/logs/...`) and the admin UI's static files are not logged: reading the log
must not change what is read, and a UI polling every second would bury every other record.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mockloop.mock.request_log.writer import KEPT_BODY_BYTES, LogRecord
from mockloop.mock.runtime import MockRuntime

__all__ = ["AdminRequestLogger"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_NOT_LOGGED = ("/api/logs/", "/ui/", "/favicon.ico", "/openapi.json", "/docs")


class AdminRequestLogger:
    """ASGI middleware: one `LogRecord` (mode "admin") per admin request, bodies included."""

    def __init__(self, app: ASGIApp, runtime: MockRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        writer = self.runtime.log_writer
        path: str = scope.get("path", "")
        if scope["type"] != "http" or writer is None or path == "/" or path.startswith(_NOT_LOGGED):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        arrived = time.time()
        request_body = bytearray()
        response_body = bytearray()
        sizes = [0, 0]  # whole request and response body lengths; only their starts are kept
        status = 500
        response_headers: list[tuple[bytes, bytes]] = []
        submitted = False

        def submit() -> None:
            nonlocal submitted
            submitted = True
            client = scope.get("client")
            writer.submit(
                LogRecord(
                    ts=arrived,
                    method=scope["method"],
                    path=path,
                    query=scope.get("query_string", b"").decode("latin-1"),
                    operation_id=None,
                    status=status,
                    latency_ms=(time.perf_counter() - started) * 1000.0,
                    request_headers=scope.get("headers", []),
                    response_headers=response_headers,
                    request_body=bytes(request_body),
                    response_body=bytes(response_body),
                    client=f"{client[0]}:{client[1]}" if client else "",
                    scenario=self.runtime.rules.active_scenario,
                    mode="admin",
                    request_size=sizes[0],
                    response_size=sizes[1],
                )
            )

        def keep(buffer: bytearray, chunk: bytes, index: int) -> None:
            sizes[index] += len(chunk)
            room = KEPT_BODY_BYTES - len(buffer)
            if room > 0:
                buffer.extend(chunk[:room])

        async def receive_logged() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                keep(request_body, message.get("body", b""), 0)
            return message

        async def send_logged(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                keep(response_body, message.get("body", b""), 1)
                if not message.get("more_body", False) and not submitted:
                    # Numbered before the answer's last bytes leave, as on the business port: a
                    # process killed after answering has always counted the request.
                    submit()
            await send(message)

        try:
            await self.app(scope, receive_logged, send_logged)
        finally:
            if not submitted:
                submit()
