"""Webhooks beyond the happy path: isolation between targets, dead and slow targets, removal
and shutdown with deliveries queued, the admin contract's shapes, the allow-list at delivery,
bounded history, run-time events through `notify_event`, and the CLI flag."""

from __future__ import annotations

import http.server
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mockloop import cli
from mockloop.errors import StoreError
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.webhooks.delivery import SIGNATURE_HEADER, verify_signature
from mockloop.mock.webhooks.store import WebhookStore
from mockloop.store.database import Location
from tests.conftest import PETSTORE
from tests.waiting import wait_for


class Receiver:
    """Records POSTs. With `hold` set, each request waits until `release()` before answering."""

    def __init__(self, *, hold: bool = False) -> None:
        self.received: list[dict[str, Any]] = []
        self.script: list[int] = []
        self.released = threading.Event()
        if not hold:
            self.released.set()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                receiver.released.wait(10)
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def release(self) -> None:
        self.released.set()

    def events(self) -> list[str]:
        return [orjson.loads(r["body"])["event"] for r in self.received]

    def close(self) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**options: Any) -> Receiver:
        made.append(Receiver(**options))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def serve(tmp_path: Path, **options: Any) -> MockServer:
    config = MockConfig.build(
        spec=str(PETSTORE), port=0, admin_port=0, auth=False, data_dir=tmp_path, **options
    )
    server = MockServer(config).start()
    if server.runtime.webhooks is not None:
        server.runtime.webhooks.backoff = 0.01  # keep retries quick in tests
    return server


def register(server: MockServer, url: str, **fields: Any) -> dict[str, Any]:
    answer = httpx.post(f"{server.admin_url}/api/webhooks", json={"url": url, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def history(server: MockServer, **params: Any) -> list[dict[str, Any]]:
    answer = httpx.get(f"{server.admin_url}/api/webhooks/history", params=params)
    assert answer.status_code == 200
    return answer.json()["deliveries"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_payload_headers_and_admin_shapes(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    with serve(tmp_path) as server:
        admin = server.admin_url
        hook = register(server, receiver.url, events=["POST /pets"], secret="top-secret-1")
        assert set(hook) == {"id", "url", "events", "active", "created_at", "has_secret"}
        assert hook["id"].startswith("wh_") and hook["events"] == ["POST /pets"]
        assert httpx.get(f"{admin}/api/webhooks/{hook['id']}").json() == hook
        assert httpx.get(f"{admin}/api/webhooks").json() == {"webhooks": [hook]}

        httpx.post(f"{server.business_url}/v1/pets?src=test", json={"name": "Rex"})
        [delivery] = wait_for(lambda: receiver.received)
        payload = orjson.loads(delivery["body"])
        assert set(payload) == {"event", "timestamp", "mock", "request", "response", "data"}
        assert payload["event"] == "createPet"
        assert payload["mock"] == {"title": server.runtime.spec.title}
        assert payload["request"] == {
            "method": "POST",
            "path": "/v1/pets",
            "query": "src=test",
            "operation_id": "createPet",
        }
        assert payload["data"] == {}
        headers = {name.lower(): value for name, value in delivery["headers"].items()}
        assert headers["content-type"] == "application/json"
        assert headers["x-mockloop-event"] == "createPet"
        assert verify_signature("top-secret-1", delivery["body"], headers["x-mockloop-signature"])
        assert not verify_signature(
            "top-secret-1", delivery["body"] + b" ", headers[SIGNATURE_HEADER.lower()]
        )
        assert not verify_signature("top-secret-1", delivery["body"], None)

        [record] = wait_for(lambda: history(server))
        assert record["id"] == headers["x-mockloop-delivery"]
        assert set(record) == {
            "id",
            "webhook_id",
            "event",
            "url",
            "status",
            "attempts",
            "response_status",
            "error",
            "ts",
            "duration_ms",
        }
        assert (record["status"], record["response_status"], record["error"]) == (
            "delivered",
            200,
            None,
        )
        tested = httpx.post(f"{admin}/api/webhooks/{hook['id']}/test")
        assert tested.status_code == 200 and tested.json()["event"] == "webhook.test"
        for text in (
            httpx.get(f"{admin}/api/webhooks").text,
            httpx.get(f"{admin}/api/webhooks/{hook['id']}").text,
            httpx.get(f"{admin}/api/webhooks/history").text,
            tested.text,
        ):
            assert "top-secret-1" not in text


def test_errors_are_problem_documents(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        admin = server.admin_url
        for answer in (
            httpx.get(f"{admin}/api/webhooks/wh_missing"),
            httpx.delete(f"{admin}/api/webhooks/wh_missing"),
            httpx.post(f"{admin}/api/webhooks/wh_missing/test"),
        ):
            assert answer.status_code == 404
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["status"] == 404 and "wh_missing" in answer.json()["detail"]
        for body in ({}, {"url": 5}, {"url": "http://127.0.0.1/x", "colour": "red"}):
            answer = httpx.post(f"{admin}/api/webhooks", json=body)
            assert answer.status_code == 400, body
            assert answer.headers["content-type"] == "application/problem+json"
            assert "invalid webhook" in answer.json()["detail"]
        empty = httpx.post(f"{admin}/api/webhooks", json={"url": "http://[::1]/x", "events": []})
        assert empty.status_code == 400 and "at least one event" in empty.json()["detail"]
    with serve(tmp_path / "off", webhooks=False) as server:
        for answer in (
            httpx.get(f"{server.admin_url}/api/webhooks"),
            httpx.get(f"{server.admin_url}/api/webhooks/history"),
            httpx.post(f"{server.admin_url}/api/webhooks", json={"url": "http://127.0.0.1/x"}),
        ):
            assert answer.status_code == 404
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["detail"].startswith("webhooks are disabled for this mock")


def test_a_stuck_target_does_not_hold_up_other_webhooks(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    stuck, healthy = receivers(hold=True), receivers()
    with serve(tmp_path) as server:
        register(server, stuck.url, events=["getPet"])
        register(server, healthy.url, events=["getPet"])
        for pet in range(3):
            httpx.get(f"{server.business_url}/v1/pets/{pet}")
        wait_for(lambda: len(healthy.received) == 3)
        # The stuck target still holds the first delivery; the rest wait in its own lane.
        assert len(stuck.received) == 1
        stuck.release()
        wait_for(lambda: len(stuck.received) == 3)
        paths = [orjson.loads(r["body"])["request"]["path"] for r in stuck.received]
        assert paths == ["/v1/pets/0", "/v1/pets/1", "/v1/pets/2"]  # in order


def test_dead_and_slow_targets_fail_after_max_attempts(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    slow = receivers(hold=True)
    with serve(tmp_path) as server:
        hooks = server.runtime.webhooks
        assert hooks is not None
        hooks.max_attempts, hooks.timeout = 3, 0.2
        dead = register(server, f"http://127.0.0.1:{closed_port()}/hook")
        record = httpx.post(f"{server.admin_url}/api/webhooks/{dead['id']}/test").json()
        assert (record["status"], record["attempts"], record["response_status"]) == (
            "failed",
            3,
            None,
        )
        assert "ConnectError" in record["error"]

        late = register(server, slow.url)
        record = httpx.post(f"{server.admin_url}/api/webhooks/{late['id']}/test").json()
        assert (record["status"], record["attempts"]) == ("failed", 3)
        assert "Timeout" in record["error"]
        wait_for(lambda: len(slow.received) == 3)


def test_allow_list_is_checked_again_at_delivery(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    with serve(tmp_path) as server:
        hooks = server.runtime.webhooks
        assert hooks is not None
        hook = register(server, receiver.url)
        hooks.allow_hosts = {"hooks.example.test"}
        record = httpx.post(f"{server.admin_url}/api/webhooks/{hook['id']}/test").json()
        assert record["status"] == "failed" and record["attempts"] == 1
        assert "not allowed" in record["error"] and "hooks.example.test" in record["error"]
        assert receiver.received == []


def test_only_listed_hosts_are_allowed(tmp_path: Path) -> None:
    with serve(tmp_path, webhook_allow_hosts=["hooks.example.test"]) as server:
        admin = server.admin_url
        allowed = httpx.post(f"{admin}/api/webhooks", json={"url": "https://HOOKS.example.test/in"})
        assert allowed.status_code == 201  # registering sends nothing
        refused = httpx.post(f"{admin}/api/webhooks", json={"url": "http://127.0.0.1:9/in"})
        assert refused.status_code == 400
        detail = refused.json()["detail"]
        assert "'127.0.0.1' is not allowed (allowed: hooks.example.test)" in detail
        assert "MockConfig.webhook_allow_hosts" in detail


def test_cli_flag_widens_the_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[MockConfig] = []

    def fake_serve(config: MockConfig, on_ready: object = None) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr("mockloop.mock.serve", fake_serve)
    argv = ["serve", str(PETSTORE), "--webhook-allow-host", "a.test"]
    assert cli.main([*argv, "--webhook-allow-host", "b.test"]) == 0
    assert seen[0].webhook_allow_hosts == ["127.0.0.1", "localhost", "::1", "a.test", "b.test"]
    assert cli.main(["serve", str(PETSTORE), "--no-webhooks"]) == 0
    assert seen[1].webhooks is False


def test_runtime_events_reach_only_webhooks_that_list_them(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    everything, scenarios, state = receivers(), receivers(), receivers()
    with serve(tmp_path) as server:
        register(server, everything.url, events=["*"])
        register(server, scenarios.url, events=["scenario.activated", "scenario.deactivated"])
        register(server, state.url, events=["state.reset"])
        admin = server.admin_url
        httpx.post(
            f"{admin}/api/mock-data/scenarios",
            json={"name": "calm", "rules": [{"operation": "getPet", "status": 404}]},
        )
        assert httpx.post(f"{admin}/api/mock-data/scenarios/calm/activate").status_code == 200
        assert httpx.post(f"{admin}/api/mock-data/scenarios/deactivate").status_code == 200
        hooks = server.runtime.webhooks
        assert hooks is not None
        hooks.notify_event("state.reset", {"session_id": None, "collections": {"pets": 3}})
        httpx.get(f"{server.business_url}/v1/pets/1")

        wait_for(lambda: len(scenarios.received) == 2 and state.received and everything.received)
        assert scenarios.events() == ["scenario.activated", "scenario.deactivated"]
        first = orjson.loads(scenarios.received[0]["body"])
        assert first["data"] == {"scenario": "calm"} and first["request"] is None
        assert orjson.loads(state.received[0]["body"])["data"]["collections"] == {"pets": 3}
        # "*" means every business request, not run-time events.
        assert everything.events() == ["getPet"]
        assert scenarios.events() == ["scenario.activated", "scenario.deactivated"]


def test_removing_a_webhook_records_its_queued_deliveries_as_failed(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    stuck = receivers(hold=True)
    with serve(tmp_path) as server:
        hook = register(server, stuck.url)
        for pet in range(3):
            httpx.get(f"{server.business_url}/v1/pets/{pet}")
        wait_for(lambda: stuck.received)
        deleted = httpx.delete(f"{server.admin_url}/api/webhooks/{hook['id']}")
        assert deleted.json() == {"deleted": hook["id"]}
        stuck.release()
        records = wait_for(lambda: len(history(server)) == 3 and history(server))
        unsent = [r for r in records if r["attempts"] == 0]
        assert len(unsent) == 2
        assert all(r["status"] == "failed" and "removed" in r["error"] for r in unsent)
        httpx.get(f"{server.business_url}/v1/pets/9")
        assert len(stuck.received) == 1


def test_stop_delivers_what_is_queued(
    database: Any, tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    with serve(tmp_path) as server:
        register(server, receiver.url, events=["listPets"])
        for _ in range(5):
            httpx.get(f"{server.business_url}/v1/pets")
    assert receiver.events() == ["listPets"] * 5  # no polling: stop waited for them
    with serve(tmp_path) as server:
        records = history(server)
        assert [r["status"] for r in records] == ["delivered"] * 5


def _delivery(n: int, webhook_id: str = "wh_a", **changes: Any) -> dict[str, Any]:
    return {
        "id": f"dl_{n}",
        "webhook_id": webhook_id,
        "event": "getPet",
        "url": "http://127.0.0.1/x",
        "status": "delivered",
        "attempts": 1,
        "response_status": 200,
        "error": None,
        "ts": float(n),
        "duration_ms": 1.0,
        **changes,
    }


@pytest.fixture
def webhook_store(database: Any, tmp_path: Path) -> Iterator[WebhookStore]:
    store = WebhookStore(database.location("webhooks_petstore", tmp_path / "webhooks.db"))
    yield store
    store.close()


def test_history_is_bounded_newest_first_and_filtered(database: Any, tmp_path: Path) -> None:
    location = database.location("webhooks_petstore", tmp_path / "webhooks.db")
    store = WebhookStore(location, history_limit=3)
    try:
        for n in range(5):
            store.add_delivery(_delivery(n, "wh_a" if n % 2 == 0 else "wh_b"))
        assert [r["id"] for r in store.deliveries()] == ["dl_4", "dl_3", "dl_2"]
        assert [r["id"] for r in store.deliveries(webhook_id="wh_a")] == ["dl_4", "dl_2"]
        assert [r["id"] for r in store.deliveries(limit=1)] == ["dl_4"]
        store.add_deliveries([_delivery(n) for n in range(5, 9)])  # one batch past the bound
        assert [r["id"] for r in store.deliveries()] == ["dl_8", "dl_7", "dl_6"]
        store.add_deliveries([])
    finally:
        store.close()


def test_webhooks_are_stored_listed_and_removed(webhook_store: WebhookStore) -> None:
    store = webhook_store
    added = store.add_webhook(
        webhook_id="wh_1", url="http://127.0.0.1/a", events=["*"], secret="s3", active=True
    )
    assert added["has_secret"] is True and "secret" not in added and added["active"] is True
    store.add_webhook(
        webhook_id="wh_0", url="http://127.0.0.1/b", events=["getPet"], secret=None, active=False
    )
    hook = store.get_webhook("wh_1", include_secret=True)
    assert hook is not None and hook["secret"] == "s3" and hook["events"] == ["*"]
    assert [h["id"] for h in store.list_webhooks()] == ["wh_1", "wh_0"]  # oldest first
    assert [h["active"] for h in store.list_webhooks()] == [True, False]
    assert store.get_webhook("wh_nope") is None
    with pytest.raises(StoreError, match="could not add a webhook"):
        store.add_webhook(webhook_id="wh_1", url="http://x/", events=[], secret=None, active=True)
    assert store.delete_webhook("wh_1") and not store.delete_webhook("wh_1")
    assert [h["id"] for h in store.list_webhooks()] == ["wh_0"]
    store.add_delivery(_delivery(1, "wh_1", status="failed", response_status=None, error="x"))
    [kept] = store.deliveries(webhook_id="wh_1")  # history outlives its webhook
    assert kept["status"] == "failed" and kept["response_status"] is None


def test_the_store_is_shared_by_threads_and_reopens(
    database: Any, tmp_path: Path, webhook_store: WebhookStore
) -> None:
    def deliver(worker: int) -> None:
        for n in range(20):
            webhook_store.add_delivery(_delivery(worker * 100 + n, f"wh_{worker}"))
            webhook_store.deliveries(webhook_id=f"wh_{worker}", limit=5)

    threads = [threading.Thread(target=deliver, args=(w,)) for w in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(webhook_store.deliveries(limit=1000)) == 100
    webhook_store.close()
    webhook_store.close()  # idempotent
    with pytest.raises(StoreError, match="the webhook store is closed"):
        webhook_store.deliveries()
    again = WebhookStore(database.location("webhooks_petstore", tmp_path / "webhooks.db"))
    try:
        assert len(again.deliveries(limit=1000)) == 100  # persisted
    finally:
        again.close()


def test_a_store_from_before_schema_versions_opens(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.db"
    old = WebhookStore(path)
    old.add_webhook(webhook_id="wh_1", url="http://127.0.0.1/", events=[], secret=None, active=True)
    old.close()
    with sqlite3.connect(path) as db:  # as MockLoop left it before versions were recorded
        db.execute("DROP TABLE schema_version")
    db.close()
    store = WebhookStore(path)
    try:
        assert [h["id"] for h in store.list_webhooks()] == ["wh_1"]
    finally:
        store.close()


def test_store_errors_start_with_the_location(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match=r"^\S*dir\.db: could not open the webhook store"):
        WebhookStore(tmp_path / "dir.db")
    nowhere = Location.postgresql("postgresql://u:pw@127.0.0.1:1/db", "mockloop_webhooks_x")
    with pytest.raises(StoreError) as failed:
        WebhookStore(nowhere, busy_timeout=1)
    assert str(failed.value).startswith("postgresql://u:***@127.0.0.1:1/db (schema mockloop_webh")
