"""Webhooks against a real receiver on loopback: matching, signatures, retries, history."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mockloop.mock import MockConfig, MockServer
from mockloop.mock.webhooks.delivery import SIGNATURE_HEADER, sign, verify_signature
from tests.conftest import PETSTORE
from tests.waiting import wait_for


class Receiver:
    """An HTTP server recording POSTs; answers with the scripted statuses, then 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.script: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def serve(tmp_path: Path, **options: Any) -> MockServer:
    config = MockConfig.build(
        spec=str(PETSTORE), port=0, admin_port=0, auth=False, data_dir=tmp_path, **options
    )
    server = MockServer(config).start()
    hooks = server.runtime.webhooks
    if hooks is not None:
        hooks.backoff = 0.01  # keep retries quick in tests
    return server


def test_matching_request_fires_a_signed_post(tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path) as server:
        admin = server.admin_url
        created = httpx.post(
            f"{admin}/api/webhooks",
            json={"url": receiver.url, "events": ["createPet"], "secret": "shh-123"},
        )
        assert created.status_code == 201
        hook = created.json()
        assert hook["has_secret"] is True and "secret" not in hook
        assert "shh-123" not in httpx.get(f"{admin}/api/webhooks").text

        httpx.get(f"{server.business_url}/v1/pets")  # not subscribed
        httpx.post(f"{server.business_url}/v1/pets", json={"name": "Rex"})
        [delivery] = wait_for(lambda: receiver.received)
        body = delivery["body"]
        payload = orjson.loads(body)
        assert payload["event"] == "createPet"
        assert payload["request"]["method"] == "POST"
        assert payload["response"]["status"] in (200, 201)
        signature = delivery["headers"][SIGNATURE_HEADER]
        assert signature == sign("shh-123", body)
        assert verify_signature("shh-123", body, signature)
        assert not verify_signature("wrong", body, signature)
        history = wait_for(lambda: httpx.get(f"{admin}/api/webhooks/history").json()["deliveries"])
        assert history[0]["status"] == "delivered" and history[0]["attempts"] == 1
        assert "shh-123" not in httpx.get(f"{admin}/api/export").text


@pytest.mark.parametrize("events", [["*"], ["GET /pets/{petId}"], ["getPet"]])
def test_event_names(tmp_path: Path, receiver: Receiver, events: list[str]) -> None:
    with serve(tmp_path) as server:
        httpx.post(f"{server.admin_url}/api/webhooks", json={"url": receiver.url, "events": events})
        httpx.get(f"{server.business_url}/v1/pets/4")
        [delivery] = wait_for(lambda: receiver.received)
        assert orjson.loads(delivery["body"])["request"]["path"] == "/v1/pets/4"


def test_retries_then_delivers_and_gives_up(tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path) as server:
        admin = server.admin_url
        hook = httpx.post(f"{admin}/api/webhooks", json={"url": receiver.url}).json()
        receiver.script = [500, 503]
        first = httpx.post(f"{admin}/api/webhooks/{hook['id']}/test").json()
        assert (first["status"], first["attempts"], first["response_status"]) == (
            "delivered",
            3,
            200,
        )
        receiver.script = [500] * 10
        failed = httpx.post(f"{admin}/api/webhooks/{hook['id']}/test").json()
        assert failed["status"] == "failed" and failed["attempts"] == 4
        assert "500" in failed["error"]


def test_scenario_and_state_events(tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path, stateful=True) as server:
        admin = server.admin_url
        httpx.post(
            f"{admin}/api/webhooks",
            json={"url": receiver.url, "events": ["scenario.activated", "state.created"]},
        )
        httpx.post(
            f"{admin}/api/mock-data/scenarios?activate=true",
            json={"name": "slow", "rules": [{"operation": "getPet", "delay_ms": 1}]},
        )
        httpx.post(f"{server.business_url}/v1/pets", json={"name": "Rex"})
        wait_for(lambda: len(receiver.received) >= 2)
        events = sorted(orjson.loads(r["body"])["event"] for r in receiver.received)
        assert events == ["scenario.activated", "state.created"]


def test_disallowed_host_and_bad_urls_are_refused(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        refused = httpx.post(
            f"{server.admin_url}/api/webhooks", json={"url": "http://192.0.2.1/hook"}
        )
        assert refused.status_code == 400
        assert "not allowed" in refused.json()["detail"]
        assert "--webhook-allow-host" in refused.json()["detail"]
        bad = httpx.post(f"{server.admin_url}/api/webhooks", json={"url": "ftp://127.0.0.1/x"})
        assert bad.status_code == 400
        assert httpx.delete(f"{server.admin_url}/api/webhooks/wh_nope").status_code == 404


def test_webhooks_off_answers_404(tmp_path: Path) -> None:
    with serve(tmp_path, webhooks=False) as server:
        answer = httpx.get(f"{server.admin_url}/api/webhooks")
        assert answer.status_code == 404 and "disabled" in answer.text
        assert server.runtime.webhooks is None


def test_webhooks_survive_a_restart(database: Any, tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path) as server:
        httpx.post(f"{server.admin_url}/api/webhooks", json={"url": receiver.url})
    with serve(tmp_path) as server:
        listed = httpx.get(f"{server.admin_url}/api/webhooks").json()["webhooks"]
        assert [hook["url"] for hook in listed] == [receiver.url]
        httpx.get(f"{server.business_url}/v1/pets")
        wait_for(lambda: receiver.received)
