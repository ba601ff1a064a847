"""Mock, proxy and hybrid modes against a live upstream app on loopback: routing, upstream
auth (OAuth2 refresh included), retries, circuit breaker, fallback, record and replay,
comparison, API tools, and secrets kept out of everything MockLoop writes or returns."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockloop import AsyncMockLoopClient
from mockloop.errors import ConfigError
from mockloop.mock.config import MockConfig
from mockloop.mock.server import MockServer
from mockloop.proxy.auth import UpstreamAuth
from mockloop.proxy.circuit import CircuitBreaker
from mockloop.proxy.diff import diff_json
from mockloop.proxy.recording import ExchangeRecorder, ReplayIndex, replay_key
from mockloop.proxy.routing import RoutingTable
from mockloop.proxy.settings import (
    CircuitSettings,
    parse_auth,
    parse_proxy_settings,
    parse_rules,
)
from mockloop.proxy.tools import api_tools
from mockloop.spec import load_spec
from tests.conftest import PETSTORE
from tests.waiting import wait_for

SECRET = "s3cr3t-upstream-token-42"


class LiveUpstream:
    """A live API on 127.0.0.1: counts hits, keeps the headers and query each one carried,
    echoes credentials on /v1/owners, can fail on demand, and issues OAuth2 tokens."""

    def __init__(self, token_lifetime: float = 3600.0) -> None:
        self.hits: list[dict[str, Any]] = []
        self.token_calls = 0
        self.token_forms: list[dict[str, str]] = []
        self.token_lifetime = token_lifetime
        self.fail_next = 0  # answer 503 to this many next requests
        self.lock = threading.Lock()
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/pets", self._pets, methods=["GET", "POST"]),
                Route("/v1/pets/{pet_id:int}", self._pet, methods=["GET", "DELETE"]),
                Route("/v1/owners", self._owners),
                Route("/v1/status", self._status),
                Route("/oauth/token", self._token, methods=["POST"]),
            ]
        )

    def _hit(self, request: Request) -> int:
        with self.lock:
            self.hits.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "query": dict(request.query_params),
                    "headers": dict(request.headers),
                }
            )
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503
        return 0

    async def _pets(self, request: Request) -> Response:
        if failed := self._hit(request):
            return JSONResponse({"error": "busy"}, status_code=failed)
        if request.method == "POST":
            return JSONResponse({"id": 99, "name": "Created live"}, status_code=201)
        return JSONResponse(
            [{"id": 7, "name": "Live Rex", "tag": "dog", "created_at": "2024-01-01T00:00:00Z"}],
            headers={"x-rate-limit-remaining": "41"},
        )

    async def _pet(self, request: Request) -> Response:
        if failed := self._hit(request):
            return JSONResponse({"error": "busy"}, status_code=failed)
        pet_id = int(request.path_params["pet_id"])
        return JSONResponse(
            {
                "id": pet_id,
                "name": f"Live {pet_id}",
                "tag": "cat",
                "created_at": "2024-01-01T00:00:00Z",
                "price": "free",  # breaks the description: price is a number
            }
        )

    async def _owners(self, request: Request) -> Response:
        self._hit(request)
        # An API that echoes what it received (like httpbin): the proxy must not leak it.
        return JSONResponse(
            [{"echo": request.headers.get("authorization", ""), "seen": dict(request.headers)}]
        )

    async def _status(self, request: Request) -> Response:
        if failed := self._hit(request):
            return JSONResponse({"error": "busy"}, status_code=failed)
        return JSONResponse({"status": "ok", "version": "live-2.0"})

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        with self.lock:
            self.token_calls += 1
            number = self.token_calls
            self.token_forms.append({k: str(v) for k, v in form.items()})
        if request.headers.get("authorization") != "Basic Y2xpZW50LTE6Y2xpZW50LXNlY3JldC0x":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse(
            {
                "access_token": f"oauth-token-{number}",
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
            }
        )

    def paths(self) -> list[str]:
        with self.lock:
            return [hit["path"] for hit in self.hits]

    def start(self) -> LiveUpstream:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        server = self._server
        wait_for(lambda: server.started, "the upstream to start", timeout=10, every=0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> LiveUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing listens


@pytest.fixture
def upstream() -> Iterator[LiveUpstream]:
    with LiveUpstream() as live:
        yield live


def _mock(**proxy: Any) -> MockServer:
    return MockServer(
        MockConfig.build(
            spec=str(PETSTORE),
            port=0,
            admin_port=0,
            auth=False,
            storage=False,
            webhooks=False,
            proxy=proxy,
        )
    )


def _logs(http: httpx.Client, admin: str | None) -> list[dict[str, Any]]:
    assert admin is not None
    return http.get(f"{admin}/api/logs/search", params={"limit": 1000}).json()["records"]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


# -- settings and routing (no servers) ----------------------------------------------------


def test_highest_priority_match_wins_and_conditions_apply() -> None:
    rules = parse_rules(
        [
            {"pattern": "/pets*", "mode": "mock", "priority": 5},
            {"pattern": "/pets/*", "mode": "proxy", "priority": 10},
            {"pattern": "/pets/*", "mode": "mock", "priority": 20, "methods": ["DELETE"]},
            {"pattern": "^/owners/[0-9a-f-]+$", "mode": "proxy", "priority": 1},
            {"pattern": "/status", "mode": "proxy", "headers": {"X-Live": "yes"}, "priority": 3},
            {"pattern": "/status", "mode": "proxy", "query": {"live": "*"}, "priority": 2},
        ]
    )
    table = RoutingTable.build("hybrid", "mock", rules, base_path="/v1")
    assert table.decide("GET", "/v1/pets/3", [], "").mode == "proxy"  # 10 beats 5
    assert table.decide("DELETE", "/v1/pets/3", [], "").mode == "mock"  # 20, DELETE only
    assert table.decide("GET", "/v1/pets", [], "").mode == "mock"
    assert table.decide("GET", "/v1/owners/ab-12", [], "").mode == "proxy"  # regex
    assert table.decide("GET", "/v1/status", [], "").mode == "mock"  # default_mode
    assert table.decide("GET", "/v1/status", [(b"x-live", b"yes")], "").mode == "proxy"
    assert table.decide("GET", "/v1/status", [(b"x-live", b"no")], "").mode == "mock"
    assert table.decide("GET", "/v1/status", [], "live=1").mode == "proxy"
    decision = table.decide("GET", "/v1/pets/3", [], "")
    assert decision.rule == 1 and "priority 10" in decision.reason
    assert RoutingTable.build("proxy", "mock", rules).decide("GET", "/x", [], "").mode == "proxy"


def test_invalid_settings_name_the_field() -> None:
    with pytest.raises(ConfigError, match="target_url"):
        parse_proxy_settings({"mode": "proxy"})
    with pytest.raises(ConfigError, match=r"routing_rules\[0\]"):
        parse_rules([{"pattern": "^(unclosed", "mode": "proxy"}])
    with pytest.raises(ConfigError, match=r"routing_rules\[1\]\.mode"):
        parse_rules([{"pattern": "/a"}, {"pattern": "/b", "mode": "sideways"}])
    with pytest.raises(ConfigError, match="client_secret"):
        parse_auth(
            {
                "auth_type": "oauth2_client_credentials",
                "credentials": {"token_url": "http://x/t", "client_id": "a"},
            }
        )
    with pytest.raises(ConfigError, match="location"):
        parse_auth({"auth_type": "api_key", "credentials": {"api_key": "k", "location": "body"}})


def test_structural_and_value_differences_with_ignore_paths() -> None:
    mock = {"id": 1, "name": "a", "tags": [{"at": "x", "n": 1}], "extra": True, "price": 2.0}
    live = {"id": 2, "name": "a", "tags": [{"at": "y", "n": 1}, {}], "price": "free", "new": 0}
    diff = diff_json(mock, live, ignore=["$.id", "at"])
    structural = {(d.path, d.kind) for d in diff.structural}
    assert structural == {
        ("$.extra", "missing_in_live"),
        ("$.new", "missing_in_mock"),
        ("$.price", "type"),
    }
    assert [(d.path, d.kind, d.mock, d.live) for d in diff.values] == [("$.tags", "length", 1, 2)]
    assert diff_json({"a": [{"t": 1}]}, {"a": [{"t": 2}]}, ["$.a[*].t"]).values == []


def test_circuit_breaker_opens_then_lets_one_trial_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(
        CircuitSettings(failure_threshold=2, reset_timeout_s=5), clock=lambda: now[0]
    )
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 5.1
    assert breaker.allow() and breaker.state == "half_open"
    assert not breaker.allow()  # one trial at a time
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


async def test_oauth2_token_is_fetched_once_per_lifetime_and_refreshed_before_expiry(
    upstream: LiveUpstream,
) -> None:
    upstream.token_lifetime = 2.0
    now = [100.0]
    config = parse_auth(
        {
            "auth_type": "oauth2_client_credentials",
            "credentials": {
                "token_url": f"{upstream.url}/oauth/token",
                "client_id": "client-1",
                "client_secret": "client-secret-1",
                "scope": "pets:read",
            },
        }
    )
    assert config is not None
    auth = UpstreamAuth(config, clock=lambda: now[0])
    async with httpx.AsyncClient(trust_env=False) as http:

        async def header() -> str:
            headers: dict[str, str] = {}
            await auth.apply(http, headers, [])
            return headers["authorization"]

        # Twenty concurrent requests share one fetch (the lock).
        first = await asyncio.gather(*(header() for _ in range(20)))
        assert set(first) == {"Bearer oauth-token-1"} and upstream.token_calls == 1
        now[0] = 101.5  # within the lifetime, before the refresh point (2 s - 0.4 s margin)
        assert await header() == "Bearer oauth-token-1" and upstream.token_calls == 1
        now[0] = 101.7  # past the refresh point, still before expiry at 102.0
        assert await header() == "Bearer oauth-token-2" and upstream.token_calls == 2
        assert auth.status()["token_expires_in_s"] == pytest.approx(2.0)
        now[0] = 103.0
        assert await header() == "Bearer oauth-token-2"  # refreshed at 101.7: good to 103.7
        assert upstream.token_calls == 2
    assert upstream.token_forms[0] == {"grant_type": "client_credentials", "scope": "pets:read"}
    assert "client-secret-1" not in str(auth.status())
    assert auth.scrub("x oauth-token-2 client-secret-1") == "x [REDACTED] [REDACTED]"


# -- modes against the live upstream ------------------------------------------------------


def test_mock_mode_never_reaches_the_upstream_and_proxy_mode_always_does(
    upstream: LiveUpstream, http: httpx.Client
) -> None:
    auth = {"auth_type": "bearer_token", "credentials": {"token": SECRET}}
    with _mock(mode="mock", target_url=upstream.url, auth=auth) as server:
        base, admin = server.business_url, server.admin_url
        for path in ("/v1/pets", "/v1/pets/3", "/v1/status", "/v1/owners"):
            response = http.get(base + path)
            assert response.status_code == 200
            assert response.headers["x-mockloop-mode"] == "mock"
        assert upstream.hits == []
        # Switching takes effect on the very next request, without a restart.
        assert http.put(f"{admin}/api/proxy", json={"mode": "proxy"}).status_code == 200
        for path in ("/v1/pets", "/v1/pets/3", "/v1/status"):
            response = http.get(base + path, headers={"authorization": "Bearer client-own"})
            assert response.headers["x-mockloop-mode"] == "proxy"
        assert upstream.paths() == ["/v1/pets", "/v1/pets/3", "/v1/status"]
        assert {hit["headers"]["authorization"] for hit in upstream.hits} == {f"Bearer {SECRET}"}
        assert http.get(base + "/v1/pets/3").json()["name"] == "Live 3"
        # A path the description lacks goes to the live API too (which answers 404 here).
        undescribed = http.get(base + "/v1/not-described")
        assert (undescribed.status_code, undescribed.headers["x-mockloop-mode"]) == (404, "proxy")
        assert http.get(base + "/health").json()["service"] == "mockloop"  # stays local
        assert len(upstream.hits) == 4
        http.put(f"{admin}/api/proxy", json={"mode": "mock"})
        assert http.get(base + "/v1/pets/3").headers["x-mockloop-mode"] == "mock"
        assert len(upstream.hits) == 4


@pytest.mark.parametrize(
    ("auth", "check"),
    [
        (
            {"auth_type": "api_key", "credentials": {"api_key": SECRET}},
            lambda hit: hit["headers"]["x-api-key"] == SECRET,
        ),
        (
            {
                "auth_type": "api_key",
                "credentials": {"api_key": SECRET, "name": "key", "location": "query"},
            },
            lambda hit: hit["query"] == {"limit": "2", "key": SECRET},
        ),
        (
            {
                "auth_type": "api_key",
                "credentials": {"api_key": SECRET, "name": "sid", "location": "cookie"},
            },
            lambda hit: hit["headers"]["cookie"] == f"sid={SECRET}",
        ),
        (
            {"auth_type": "basic", "credentials": {"username": "ana", "password": SECRET}},
            lambda hit: (
                hit["headers"]["authorization"] == "Basic YW5hOnMzY3IzdC11cHN0cmVhbS10b2tlbi00Mg=="
            ),
        ),
        (
            {
                "auth_type": "custom_headers",
                "credentials": {"headers": {"X-Tenant-Secret": SECRET}},
            },
            lambda hit: hit["headers"]["x-tenant-secret"] == SECRET,
        ),
    ],
    ids=["api_key_header", "api_key_query", "api_key_cookie", "basic", "custom_headers"],
)
def test_each_auth_type_reaches_the_upstream(
    upstream: LiveUpstream, http: httpx.Client, auth: dict[str, Any], check: Any
) -> None:
    with _mock(mode="proxy", target_url=upstream.url, auth=auth) as server:
        response = http.get(server.business_url + "/v1/pets", params={"limit": 2})
        assert response.status_code == 200
        assert check(upstream.hits[-1])
        status = http.get(f"{server.admin_url}/api/proxy").json()
        assert SECRET not in str(status)
        assert status["auth"]["auth_type"] == auth["auth_type"]


def test_oauth2_through_the_proxy_fetches_one_token_for_many_requests(
    upstream: LiveUpstream, http: httpx.Client
) -> None:
    auth = {
        "auth_type": "oauth2_client_credentials",
        "credentials": {
            "token_url": f"{upstream.url}/oauth/token",
            "client_id": "client-1",
            "client_secret": "client-secret-1",
        },
    }
    with _mock(mode="proxy", target_url=upstream.url, auth=auth) as server:
        for _ in range(5):
            assert http.get(server.business_url + "/v1/status").status_code == 200
        assert upstream.token_calls == 1
        assert {h["headers"]["authorization"] for h in upstream.hits} == {"Bearer oauth-token-1"}
        status = http.get(f"{server.admin_url}/api/proxy").json()
        assert status["auth"]["token_fetches"] == 1 and status["auth"]["token_cached"]
        assert "client-secret-1" not in str(status) and "oauth-token-1" not in str(status)


def test_hybrid_mode_routes_by_rules_and_priorities(
    upstream: LiveUpstream, http: httpx.Client
) -> None:
    rules = [
        {"pattern": "/pets/*", "mode": "proxy", "priority": 10},
        {"pattern": "/pets*", "mode": "mock", "priority": 5},
        {"pattern": "/v1/status", "mode": "proxy", "priority": 1, "headers": {"X-Live": "1"}},
    ]
    with _mock(mode="hybrid", target_url=upstream.url, routing_rules=rules) as server:
        base = server.business_url
        modes = {
            "/v1/pets/3": http.get(base + "/v1/pets/3").headers["x-mockloop-mode"],
            "/v1/pets": http.get(base + "/v1/pets").headers["x-mockloop-mode"],
            "/v1/status": http.get(base + "/v1/status").headers["x-mockloop-mode"],
            "/v1/status+": http.get(base + "/v1/status", headers={"X-Live": "1"}).headers[
                "x-mockloop-mode"
            ],
        }
        assert modes == {
            "/v1/pets/3": "proxy",
            "/v1/pets": "mock",
            "/v1/status": "mock",
            "/v1/status+": "proxy",
        }
        assert upstream.paths() == ["/v1/pets/3", "/v1/status"]
        # New rules at run time: everything under /pets now proxied.
        http.put(
            f"{server.admin_url}/api/proxy",
            json={"routing_rules": [{"pattern": "/v1/pets*", "mode": "proxy"}]},
        )
        assert http.get(base + "/v1/pets").headers["x-mockloop-mode"] == "proxy"
        records = _logs(http, server.admin_url)
        assert [r["mode"] for r in records][:5] == ["proxy", "proxy", "mock", "mock", "proxy"]
        proxied = records[0]
        assert proxied["upstream_status"] == 200 and proxied["upstream_latency_ms"] > 0
        assert records[2]["upstream_status"] is None


def test_switching_mode_under_load_drops_no_request(
    upstream: LiveUpstream, http: httpx.Client
) -> None:
    with _mock(mode="mock", target_url=upstream.url) as server:
        results: list[tuple[int, str]] = []
        stop = threading.Event()

        def traffic() -> None:
            with httpx.Client(trust_env=False, timeout=10) as client:
                while not stop.is_set():
                    response = client.get(server.business_url + "/v1/status")
                    results.append((response.status_code, response.headers["x-mockloop-mode"]))

        workers = [threading.Thread(target=traffic) for _ in range(4)]
        for worker in workers:
            worker.start()
        for mode in ("proxy", "mock", "proxy", "mock", "proxy"):
            wanted = len(results) + 20
            http.put(f"{server.admin_url}/api/proxy", json={"mode": mode})
            wait_for(lambda n=wanted: len(results) >= n, f"20 answers after {mode}", every=0.005)
        stop.set()
        for worker in workers:
            worker.join(10)
        assert len(results) >= 100
        assert {status for status, _ in results} == {200}
        assert {mode for _, mode in results} == {"mock", "proxy"}
        assert results[-1][1] == "proxy"


def test_upstream_down_proxy_reports_it_and_fallback_answers_from_the_mock(
    http: httpx.Client,
) -> None:
    dead = _dead_url()
    with _mock(mode="proxy", target_url=dead, retries=1, retry_backoff_s=0.01) as server:
        base, admin = server.business_url, server.admin_url
        response = http.get(base + "/v1/pets")
        assert response.status_code == 502
        problem = response.json()
        assert problem["title"] == "Upstream unavailable"
        assert dead in problem["detail"] and "ConnectError" in problem["detail"]
        assert "after 2 attempt(s)" in problem["detail"]  # one retry for a GET
        assert "fallback_to_mock" in problem["detail"]
        assert (
            http.post(base + "/v1/pets", json={"name": "x"})
            .json()["detail"]
            .endswith("turn on fallback_to_mock")
        )
        http.put(f"{admin}/api/proxy", json={"fallback_to_mock": True})
        response = http.get(base + "/v1/pets/1")
        assert response.status_code == 200
        assert response.headers["x-mockloop-mode"] == "fallback"
        assert response.json()["name"] == "Fluffy"  # the description's example
        records = _logs(http, admin)
        assert [r["mode"] for r in records[:3]] == ["fallback", "proxy", "proxy"]
        assert records[0]["upstream_status"] is None
        assert "ConnectError" in records[0]["upstream_error"]
        assert records[1]["status"] == 502


def test_circuit_breaker_opens_after_consecutive_failures(http: httpx.Client) -> None:
    settings = {
        "mode": "proxy",
        "target_url": _dead_url(),
        "retries": 0,
        "circuit_breaker": {"failure_threshold": 2, "reset_timeout_s": 60},
    }
    with _mock(**settings) as server:
        statuses = [http.get(server.business_url + "/v1/status").status_code for _ in range(3)]
        assert statuses == [502, 502, 503]
        detail = http.get(server.business_url + "/v1/status").json()["detail"]
        assert "circuit open after 2 consecutive upstream failures" in detail
        circuit = http.get(f"{server.admin_url}/api/proxy").json()["circuit"]
        assert circuit["state"] == "open" and circuit["times_opened"] == 1


def test_idempotent_requests_are_retried_and_posts_are_not(
    upstream: LiveUpstream, http: httpx.Client
) -> None:
    with _mock(mode="proxy", target_url=upstream.url, retries=2, retry_backoff_s=0.01) as server:
        upstream.fail_next = 2
        response = http.get(server.business_url + "/v1/status")
        assert response.status_code == 200 and response.json()["version"] == "live-2.0"
        assert upstream.paths() == ["/v1/status"] * 3
        upstream.fail_next = 1
        response = http.post(server.business_url + "/v1/pets", json={"name": "x"})
        assert response.status_code == 503  # the live API's own answer, not retried
        assert upstream.paths().count("/v1/pets") == 1
        upstream.fail_next = 5
        response = http.get(server.business_url + "/v1/status")
        assert response.status_code == 503  # retries exhausted: the last answer
        assert _logs(http, server.admin_url)[0]["upstream_status"] == 503


def test_record_stop_the_upstream_and_replay_the_same_answers(http: httpx.Client) -> None:
    live = LiveUpstream().start()
    auth = {"auth_type": "bearer_token", "credentials": {"token": SECRET}}
    paths = ["/v1/pets", "/v1/pets/3", "/v1/pets/4", "/v1/status", "/v1/owners"]
    try:
        server = _mock(mode="proxy", target_url=live.url, auth=auth).start()
        base, admin = server.business_url, server.admin_url
        started = http.post(f"{admin}/api/proxy/record/start", json={"scenario_name": "live"})
        assert started.json()["recording"]["active"]
        recorded = {path: http.get(base + path) for path in paths}
        stopped = http.post(f"{admin}/api/proxy/record/stop", json={"replay": True}).json()
    finally:
        live.stop()
    try:
        assert stopped["exchanges"] == 5 and stopped["status"]["mode"] == "replay"
        assert stopped["operations"] == ["getPet", "getStatus", "listOwners", "listPets"]
        for path in paths:
            replayed = http.get(base + path)
            assert replayed.headers["x-mockloop-mode"] == "replay"
            assert replayed.status_code == recorded[path].status_code
            assert replayed.json() == recorded[path].json()
        assert http.get(base + "/v1/pets").headers["x-rate-limit-remaining"] == "41"
        # The echoed credential was stripped before anything was served or stored.
        assert SECRET not in recorded["/v1/owners"].text
        scenario = http.get(f"{admin}/api/mock-data/scenarios/live").json()
        assert SECRET not in str(scenario)
        rules = {rule["operation"]: rule for rule in scenario["config"]["rules"]}
        assert rules["getPet"]["sequence"][0]["body"]["name"] == "Live 3"
        # A request never recorded falls back to the scenario's rule for its operation.
        assert http.get(base + "/v1/pets/9").json()["name"] in ("Live 3", "Live 4")
        assert http.get(f"{admin}/api/proxy").json()["replay"]["hits"] >= 5
    finally:
        server.stop()


def test_secrets_stay_out_of_the_log_and_the_served_answer(
    upstream: LiveUpstream, http: httpx.Client
) -> None:
    auth = {"auth_type": "bearer_token", "credentials": {"token": SECRET}}
    with _mock(mode="proxy", target_url=upstream.url, auth=auth) as server:
        response = http.get(server.business_url + "/v1/owners")
        assert upstream.hits[0]["headers"]["authorization"] == f"Bearer {SECRET}"
        assert response.json()[0]["echo"] == "Bearer [REDACTED]"
        assert SECRET not in response.text
        export = http.get(f"{server.admin_url}/api/export", params={"include_logs": True})
        assert SECRET not in export.text
        assert export.json()["config"]["proxy"]["auth"]["credentials"] == "[REDACTED]"
        assert SECRET not in str(_logs(http, server.admin_url))


_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"
_SK = "sk-live-" + "Ab3" * 8


def _replayed(recorder: ExchangeRecorder, path: str, query: str = "") -> Any:
    index = ReplayIndex("rec", recorder.to_scenario()["metadata"]["recording"]["exchanges"])
    answer = index.answer("GET", path, query, b"")
    assert answer is not None, (path, query)
    return answer


def test_recordings_replay_ordinary_data_and_lose_only_credentials() -> None:
    """Names with secret words in them (page tokens, token counts, "business" holding "ssn")
    replay exactly; the auth's credential, secret headers, URL passwords, scheme credentials
    and token shapes do not."""
    recorder = ExchangeRecorder("rec", "http://up.test", scrub=lambda b: b.replace(b"AUTH1", b"X"))
    body = {
        "usage": {"total_tokens": 12, "cached": True},
        "next_page_token": "abc",
        "business_name": "Acme",
        "className": "x",
        "address": "1 Road",
        "api_key_count": 3,
        "note": f"rotate {_SK} and AUTH1",
        "session": _JWT,
        "dsn": "postgres://app:hunter2@db.test/x",
    }
    link = "<https://up.test/items?page_token=p2&limit=5>; rel=next"
    recorder.capture(
        method="GET",
        path="/items",
        query="limit=5",
        operation_id="listItems",
        request_body=b"",
        status=200,
        headers=[
            (b"content-type", b"application/json"),
            (b"link", link.encode()),
            (b"set-cookie", b"sid=abc"),
            (b"x-upstream-token", b"t0k"),
            (b"x-echo-auth", b"Bearer abcdef123456"),
        ],
        body=orjson.dumps(body),
    )
    answer = _replayed(recorder, "/items", "limit=5")
    replayed = orjson.loads(answer.body)
    assert replayed == {
        **body,
        "note": "rotate [REDACTED] and X",
        "session": "[REDACTED]",
        "dsn": "postgres://app:[REDACTED]@db.test/x",
    }
    headers = {name.decode(): value.decode() for name, value in answer.headers}
    assert headers["link"] == link  # pagination through replay keeps working
    assert headers["x-echo-auth"] == "Bearer [REDACTED]"
    assert "set-cookie" not in headers and "x-upstream-token" not in headers


def test_replay_keys_keep_parameter_names_and_match_older_recordings() -> None:
    redactor = ExchangeRecorder("rec", "http://up.test", scrub=lambda b: b).redactor
    us = replay_key("GET", "/countries", "code=US", redactor)
    assert us == "GET /countries?code=US"
    assert us != replay_key("GET", "/countries", "code=FR", redactor)
    assert replay_key("GET", "/items", "access_token=t1&page=2", redactor) == (
        "GET /items?access_token=[REDACTED]&page=2"
    )
    assert replay_key("GET", f"/keys/{_SK}", "", redactor) == "GET /keys/[REDACTED]?"

    recorder = ExchangeRecorder("rec", "http://up.test", scrub=lambda b: b)
    for code in ("US", "FR"):
        recorder.capture(
            method="GET",
            path="/countries",
            query=f"code={code}",
            operation_id="getCountry",
            request_body=b"",
            status=200,
            headers=[(b"content-type", b"application/json")],
            body=orjson.dumps({"code": code}),
        )
    assert orjson.loads(_replayed(recorder, "/countries", "code=FR").body) == {"code": "FR"}
    assert orjson.loads(_replayed(recorder, "/countries", "code=US").body) == {"code": "US"}

    # Exchanges written by other rules: an older recording that redacted "business_id" (the
    # "ssn" inside it) and kept a token path in clear, and one that redacted `code`.
    older = [
        {
            "method": "GET",
            "key": "GET /shops?api_key=[REDACTED]&business_id=[REDACTED]",
            "status": 200,
            "body": {"shop": 1},
        },
        {"method": "GET", "key": f"GET /keys/{_SK}?", "status": 200, "body": {"key": 1}},
        {"method": "GET", "key": "GET /countries?code=[REDACTED]", "status": 200, "body": {}},
    ]
    index = ReplayIndex("old", older)
    shop = index.answer("GET", "/shops", "business_id=7&api_key=k9", b"")
    assert shop is not None and orjson.loads(shop.body) == {"shop": 1}
    key = index.answer("GET", f"/keys/{_SK}", "", b"")
    assert key is not None and orjson.loads(key.body) == {"key": 1}
    assert index.answer("GET", "/countries", "code=DE", b"") is not None
    assert index.answer("GET", "/shops", "business_id=7", b"") is None  # a pair missing


def test_the_api_operations_as_tools() -> None:
    tools = {tool.operation_id: tool for tool in api_tools(load_spec(PETSTORE), prefix="pets")}
    get_pet = tools["getPet"]
    assert get_pet.name == "pets_getPet"
    assert get_pet.input_schema["required"] == ["petId"]
    assert get_pet.input_schema["properties"]["petId"]["type"] == "integer"
    create = tools["createPet"].input_schema
    assert create["required"] == ["body"]
    assert "id" not in create["properties"]["body"]["properties"]  # readOnly: not sent
    request = get_pet.request({"petId": 5}, "/v1")
    assert (request.method, request.path) == ("GET", "/v1/pets/5")
    listed = tools["listPets"].request({"limit": 3, "tag": "dog"}, "/v1")
    assert listed.query == [("limit", "3"), ("tag", "dog")]
    with pytest.raises(ConfigError, match="petId"):
        get_pet.request({}, "/v1")
    with pytest.raises(ConfigError, match="limit"):
        tools["listPets"].request({"limit": "many"})


# -- the client: plugins, configuration, comparison, tools -------------------------------


async def test_plugin_end_to_end_through_the_client(
    upstream: LiveUpstream, _isolated_home: Path
) -> None:
    client = AsyncMockLoopClient()
    try:
        plugin = await client.create_mcp_plugin(
            spec_url_or_path=str(PETSTORE),
            mode="hybrid",
            plugin_name="example_api",
            target_url=upstream.url,
            auth_config={"auth_type": "bearer_token", "credentials": {"token": SECRET}},
            routing_rules=[
                {"pattern": "/v1/pets/*", "mode": "proxy", "priority": 10},
                {"pattern": "/v1/pets*", "mode": "mock", "priority": 5},
            ],
            proxy_config={"fallback_to_mock": True},
        )
        assert plugin["mode"] == "hybrid" and plugin.business_url.startswith("http://127.0.0.1:")
        assert "example_api_getPet" in plugin.tools and len(plugin.tools) == 8
        assert plugin.auth == {"auth_type": "bearer_token", "credentials": "[REDACTED]"}

        proxied = await client.call_api_tool("getPet", {"petId": 4}, plugin_name="example_api")
        assert (proxied.mode, proxied.status, proxied.body["name"]) == ("proxy", 200, "Live 4")
        mocked = await client.call_api_tool("example_api_listPets", {}, plugin_name="example_api")
        assert mocked.mode == "mock" and upstream.paths() == ["/v1/pets/4"]
        assert upstream.hits[0]["headers"]["authorization"] == f"Bearer {SECRET}"

        status = await client.configure_proxy(plugin_name="example_api", mode="proxy")
        assert status.mode == "proxy" and status.answered["proxy"] == 1
        again = await client.call_api_tool("listPets", {}, plugin_name="example_api")
        assert again.mode == "proxy" and again.body[0]["name"] == "Live Rex"

        listed = await client.list_api_tools(plugin_name="example_api")
        assert [t["name"] for t in listed.tools][:2] == [
            "example_api_listPets",
            "example_api_createPet",
        ]

        report = await client.compare_mock_and_live(
            plugin_name="example_api",
            requests=[
                {"operation_id": "getPet", "arguments": {"petId": 1}},
                {"operation_id": "getStatus"},
            ],
            ignore_paths=["created_at"],
        )
        by_op = {o.operation_id: o for o in report.operations}
        pet = by_op["getPet"]
        assert pet.status_agrees and pet.mock_conforms and pet.live_conforms is False
        assert any("price" in error for error in pet.live_schema_errors)
        assert {"path": "$.price", "kind": "type", "mock": "number", "live": "string"} in (
            pet.structural_differences
        )
        assert {"path": "$.name", "kind": "value", "mock": "Fluffy", "live": "Live 1"} in (
            pet.value_differences
        )
        assert not any("created_at" in d["path"] for d in pet.value_differences)
        assert pet.verdict == "drift" and report.live_nonconforming >= 1
        assert "getPet" in report.summary()

        upstream.stop()
        down = await client.call_api_tool("getStatus", {}, plugin_name="example_api")
        assert down.mode == "fallback" and down.status == 200
    finally:
        from mockloop.servers import stop_all_servers

        await asyncio.to_thread(stop_all_servers)
    # The one place the credential is kept is the plugin's own config, readable by its owner.
    holders = [
        path
        for path in _isolated_home.rglob("*")
        if path.is_file() and SECRET.encode() in path.read_bytes()
    ]
    assert [p.name for p in holders] == ["mockloop.yaml"]
    assert holders[0].stat().st_mode & 0o077 == 0


async def test_compare_against_a_target_with_an_in_process_mock(upstream: LiveUpstream) -> None:
    client = AsyncMockLoopClient()
    report = await client.compare_mock_and_live(
        spec_url_or_path=str(PETSTORE),
        target_url=upstream.url,
        auth_config={"auth_type": "api_key", "credentials": {"api_key": SECRET}},
        operations=["getStatus", "listPets"],
    )
    assert report.compared == 2 and report.mock == "an in-process mock of the description"
    assert {hit["headers"]["x-api-key"] for hit in upstream.hits} == {SECRET}
    status = next(o for o in report.operations if o.operation_id == "getStatus")
    assert status.status_agrees and status.mock_conforms and status.live_conforms
    version = next(d for d in status.value_differences if d["path"] == "$.version")
    assert version["live"] == "live-2.0" and version["kind"] == "value"
    assert SECRET not in report.model_dump_json()
    with pytest.raises(ConfigError, match="plugin_name or server_url"):
        await client.compare_mock_and_live(spec_url_or_path=str(PETSTORE))


async def test_plugin_arguments_are_checked_before_anything_starts() -> None:
    client = AsyncMockLoopClient()
    with pytest.raises(ConfigError, match="target_url"):
        await client.create_mcp_plugin(spec_url_or_path=str(PETSTORE), mode="proxy")
    with pytest.raises(ConfigError, match="token"):
        await client.create_mcp_plugin(
            spec_url_or_path=str(PETSTORE),
            mode="proxy",
            target_url="http://127.0.0.1:9",
            auth_config={"auth_type": "bearer_token", "credentials": {}},
        )
    with pytest.raises(ConfigError, match="unknown plugin 'nope'"):
        await client.get_proxy_status(plugin_name="nope")
