"""The business port's one request pipeline, called as ASGI: what a pure mock answers and logs,
and how a mock under proxy settings labels every answer with the side that gave it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import orjson
import pytest

from mockloop.mock.business import BusinessApp
from mockloop.mock.config import MockConfig
from mockloop.mock.request_log.writer import LogRecord, RequestLogWriter
from mockloop.mock.runtime import MockRuntime
from mockloop.settings import PROBE_HEADER
from tests.conftest import PETSTORE


class _Records:
    """Stands in for the request-log writer: keeps what the hot path submits."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def submit(self, record: LogRecord) -> None:
        self.records.append(record)


class _Answer:
    """One response as the app sent it."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        start, body = messages
        self.status: int = start["status"]
        self.headers: dict[bytes, bytes] = dict(start["headers"])
        self.body: bytes = body["body"]

    def json(self) -> Any:
        return orjson.loads(self.body)


async def _call(
    app: BusinessApp,
    method: str,
    path: str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> _Answer:
    sent: list[dict[str, Any]] = []
    request_headers = [(b"host", b"127.0.0.1:8000"), *(headers or [])]
    if body:
        request_headers.append((b"content-length", str(len(body)).encode()))
    incoming = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": request_headers,
        "client": ("127.0.0.1", 40000),
    }
    await app(scope, receive, send)
    return _Answer(sent)


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing listens


def _runtime(**config: Any) -> tuple[MockRuntime, _Records]:
    runtime = MockRuntime(MockConfig(spec=str(PETSTORE), auth=False, **config))
    records = _Records()
    runtime.log_writer = cast(RequestLogWriter, records)
    return runtime, records


@pytest.fixture
def pure() -> Iterator[tuple[BusinessApp, _Records]]:
    runtime, records = _runtime()
    yield BusinessApp(runtime), records
    runtime.log_writer = None
    runtime.stop()


async def _proxied(**settings: Any) -> AsyncIterator[tuple[BusinessApp, _Records]]:
    runtime, records = _runtime(max_body_bytes=64, proxy=settings)
    yield BusinessApp(runtime), records
    assert runtime.proxy is not None
    await runtime.proxy.aclose()
    runtime.log_writer = None
    runtime.stop()


@pytest.fixture
async def mock_mode() -> AsyncIterator[tuple[BusinessApp, _Records]]:
    async for app in _proxied(mode="mock"):
        yield app


@pytest.fixture
async def dead_upstream() -> AsyncIterator[tuple[BusinessApp, _Records]]:
    async for app in _proxied(
        mode="proxy", target_url=_dead_url(), retries=0, fallback_to_mock=True
    ):
        yield app


async def test_a_pure_mock_answers_unlabelled_and_logs_mode_mock(
    pure: tuple[BusinessApp, _Records],
) -> None:
    app, log = pure
    answer = await _call(app, "GET", "/v1/pets/1")
    assert answer.status == 200
    assert answer.json()["name"] == "Fluffy"
    assert b"x-mockloop-mode" not in answer.headers
    assert answer.headers[b"content-length"] == str(len(answer.body)).encode()
    (record,) = log.records
    assert (record.mode, record.operation_id, record.status) == ("mock", "getPet", 200)
    assert (record.upstream_status, record.upstream_latency_ms, record.upstream_error) == (
        None,
        None,
        None,
    )
    assert record.response_body == answer.body and record.latency_ms >= 0


async def test_a_pure_mock_logs_its_problems_but_not_mockloops_probes(
    pure: tuple[BusinessApp, _Records],
) -> None:
    app, log = pure
    missing = await _call(app, "GET", "/v1/nowhere")
    assert missing.status == 404
    assert missing.headers[b"content-type"] == b"application/problem+json"
    probe = await _call(app, "GET", "/health", headers=[(PROBE_HEADER.lower().encode(), b"1")])
    assert probe.status == 200 and probe.json()["status"] == "ok"
    head = await _call(app, "HEAD", "/v1/pets/1")
    assert head.body == b"" and int(head.headers[b"content-length"]) > 0
    assert [(r.method, r.path, r.status, r.mode) for r in log.records] == [
        ("GET", "/v1/nowhere", 404, "mock"),
        ("HEAD", "/v1/pets/1", 200, "mock"),
    ]


async def test_under_proxy_settings_every_answer_carries_its_side(
    mock_mode: tuple[BusinessApp, _Records],
) -> None:
    app, log = mock_mode
    routed = await _call(app, "GET", "/v1/pets/1")
    missing = await _call(app, "GET", "/v1/nowhere")
    too_large = await _call(app, "POST", "/v1/pets", body=b"x" * 65)
    probe = await _call(app, "GET", "/health", headers=[(PROBE_HEADER.lower().encode(), b"1")])
    assert [(a.status, a.headers[b"x-mockloop-mode"]) for a in (routed, missing, too_large)] == [
        (200, b"mock"),
        (404, b"mock"),
        (413, b"mock"),
    ]
    assert "max_body_bytes" in too_large.json()["detail"]
    assert (probe.status, probe.headers[b"x-mockloop-mode"]) == (200, b"mock")
    assert [(r.path, r.status, r.mode) for r in log.records] == [
        ("/v1/pets/1", 200, "mock"),
        ("/v1/nowhere", 404, "mock"),
        ("/v1/pets", 413, "mock"),
    ]
    engine = app.runtime.proxy
    assert engine is not None
    # Routed and unrouted requests went through the proxy stage; the oversized body and the
    # probe never reached it.
    assert engine.answered["mock"] == 2


async def test_a_failure_after_the_live_api_failed_is_labelled_fallback(
    dead_upstream: tuple[BusinessApp, _Records], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, log = dead_upstream
    fallback = await _call(app, "GET", "/v1/pets/1")
    assert (fallback.status, fallback.headers[b"x-mockloop-mode"]) == (200, b"fallback")
    assert fallback.json()["name"] == "Fluffy"

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("responder broke")

    monkeypatch.setattr(app.runtime.responder, "respond_async", broken)
    failed = await _call(app, "GET", "/v1/pets/1")
    assert (failed.status, failed.headers[b"x-mockloop-mode"]) == (500, b"fallback")
    assert failed.json()["title"] == "Mock internal error"
    assert "responder broke" in failed.json()["detail"]
    assert [(r.status, r.mode, r.upstream_status) for r in log.records] == [
        (200, "fallback", None),
        (500, "fallback", None),
    ]
    assert all("ConnectError" in (r.upstream_error or "") for r in log.records)
    assert all(r.upstream_latency_ms is not None for r in log.records)
