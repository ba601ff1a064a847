"""The admin port against a hostile web page or network: foreign Hosts (DNS rebinding),
cross-origin writes, an off-loopback bind without a token, wrong tokens, and a /docs page
that loads nothing from elsewhere."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mockloop import MockLoopClient
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.admin.guard import admin_host_names, is_loopback_host
from tests.conftest import PETSTORE
from tests.waiting import wait_for

TOKEN = "s3cret-admin-token-for-tests"
SCENARIO = {"name": "down", "rules": [{"operation": "getPet", "status": 503}]}
MARKER = {"X-MockLoop-Admin": "1"}


def _serve(**settings: object) -> MockServer:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, storage=False, **settings)
    return MockServer(config)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with _serve() as served:
        created = httpx.post(f"{served.admin_url}/api/mock-data/scenarios", json=SCENARIO)
        assert created.status_code == 201, created.text
        yield served


@pytest.fixture(scope="module")
def guarded() -> Iterator[MockServer]:
    with _serve(admin_token=TOKEN) as served:
        yield served


def _admin(server: MockServer) -> str:
    assert server.admin_url is not None
    return server.admin_url


def _port(server: MockServer) -> int:
    return int(_admin(server).rsplit(":", 1)[1])


def _active(server: MockServer) -> str | None:
    answer = httpx.get(f"{_admin(server)}/api/mock-data/scenarios/active")
    assert answer.status_code == 200
    return answer.json()["active"]


def _assert_problem(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "access-control-allow-origin" not in response.headers
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail
    return detail


# -- Host ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/health", "/docs", "/openapi.json", "/", "/ui/app.js", "/api/operations"]
)
def test_a_foreign_host_is_refused_on_every_route(server: MockServer, path: str) -> None:
    answer = httpx.get(f"{_admin(server)}{path}", headers={"Host": "attacker.example"})
    _assert_problem(answer, 421, "'attacker.example'", "--admin-allow-host attacker.example")


def test_a_foreign_host_cannot_write(server: MockServer) -> None:
    port = _port(server)
    answer = httpx.post(
        f"{_admin(server)}/api/mock-data/scenarios/down/activate",
        headers={"Host": f"attacker.example:{port}", **MARKER},
    )
    _assert_problem(answer, 421, "attacker.example")
    assert _active(server) is None


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "127.0.0.1:{port}", "127.0.0.1", "localhost", "[::1]:{port}"]
)
def test_the_admin_port_answers_its_own_names(server: MockServer, host: str) -> None:
    answer = httpx.get(
        f"{_admin(server)}/health", headers={"Host": host.format(port=_port(server))}
    )
    assert answer.status_code == 200
    assert answer.json()["service"] == "mockloop-admin"


def test_an_allowed_name_is_answered() -> None:
    with _serve(admin_allow_hosts=["mock.internal"]) as served:
        admin = _admin(served)
        assert httpx.get(f"{admin}/health", headers={"Host": "mock.internal"}).status_code == 200
        other = httpx.get(f"{admin}/health", headers={"Host": "other.internal"})
        _assert_problem(other, 421, "other.internal")


def test_host_names_and_loopback() -> None:
    assert admin_host_names("0.0.0.0") == {"127.0.0.1", "localhost", "::1"}
    assert "10.1.2.3" in admin_host_names("10.1.2.3")
    assert "mock.lan" in admin_host_names("::", ["Mock.LAN."])
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "::", "", "192.168.1.5", "example.com", "169.254.169.254"):
        assert not is_loopback_host(host), host


def test_an_allowed_host_must_be_a_bare_name() -> None:
    from mockloop.errors import ConfigError

    for bad in ("http://mock.lan", "mock.lan:8001", "*", "a/b"):
        with pytest.raises(ConfigError, match="admin_allow_hosts"):
            MockConfig.build(spec=str(PETSTORE), admin_allow_hosts=[bad])


# -- cross-origin writes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://evil.example", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
    ids=["origin", "null-origin", "origin-with-json", "cross-site", "same-site"],
)
def test_a_cross_origin_write_changes_nothing(server: MockServer, headers: dict[str, str]) -> None:
    answer = httpx.post(
        f"{_admin(server)}/api/mock-data/scenarios/down/activate", headers={**headers, **MARKER}
    )
    _assert_problem(answer, 403, "refused")
    assert _active(server) is None


def test_a_page_on_the_business_port_is_another_origin(server: MockServer) -> None:
    business_port = server.business_url.rsplit(":", 1)[1]
    answer = httpx.post(
        f"{_admin(server)}/api/mock-data/scenarios/down/activate",
        headers={"Origin": f"http://127.0.0.1:{business_port}", **MARKER},
    )
    _assert_problem(answer, 403, f"127.0.0.1:{business_port}")
    assert _active(server) is None


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_simple_write_without_the_marker_is_refused(
    server: MockServer, content_type: str
) -> None:
    answer = httpx.post(
        f"{_admin(server)}/api/mock-data/scenarios",
        content=b'{"name": "planted", "rules": []}',
        headers={"Content-Type": content_type},
    )
    _assert_problem(answer, 403, "X-MockLoop-Admin: 1", content_type)
    names = httpx.get(f"{_admin(server)}/api/mock-data/scenarios").json()["scenarios"]
    assert "planted" not in [s["name"] for s in names]


def test_the_own_page_and_tools_may_write(server: MockServer) -> None:
    admin, port = _admin(server), _port(server)
    same_origin = {
        "Host": f"localhost:{port}",
        "Origin": f"http://localhost:{port}",
        "Sec-Fetch-Site": "same-origin",
        **MARKER,
    }
    try:
        page = httpx.post(f"{admin}/api/mock-data/scenarios/down/activate", headers=same_origin)
        assert page.status_code == 200, page.text
        assert _active(server) == "down"
        tool = httpx.post(f"{admin}/api/mock-data/scenarios/deactivate", headers=MARKER)
        assert tool.status_code == 200, tool.text
        assert _active(server) is None
    finally:
        httpx.post(f"{admin}/api/mock-data/scenarios/deactivate", headers=MARKER)


def test_no_cors_grant_lets_a_page_read_answers(server: MockServer) -> None:
    evil = {"Origin": "http://evil.example"}
    read = httpx.get(f"{_admin(server)}/api/mock-data/scenarios", headers=evil)
    assert read.status_code == 200
    preflight = httpx.options(
        f"{_admin(server)}/api/mock-data/scenarios",
        headers={**evil, "Access-Control-Request-Method": "POST"},
    )
    for answer in (read, preflight):
        assert not any(name.startswith("access-control-") for name in answer.headers)


def test_the_client_writes_through_the_guard(guarded: MockServer) -> None:
    admin = _admin(guarded)
    with MockLoopClient(admin_token=TOKEN) as client:
        client.deploy_scenario(admin, SCENARIO, activate=False)
        switched = client.switch_scenario(admin, "down", verify_switch=False)
    assert switched.active_scenario == "down"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    active = httpx.get(f"{admin}/api/mock-data/scenarios/active", headers=auth).json()
    assert active["active"] == "down"
    # The activation carried the marker (the admin port logs its own requests).
    logged = httpx.get(
        f"{admin}/api/logs/search",
        params={"include_admin": "true", "path": "/activate$"},
        headers=auth,
    ).json()["records"]
    assert logged, "the activation was not logged"
    assert "x-mockloop-admin" in str(logged[0]["request_headers"]).lower()


# -- a real browser on a page of another origin ---------------------------------------------------

_EVIL_PAGE = b"""<!doctype html><html><body><p>an innocent page</p>
<form id="f" method="post" enctype="text/plain" target="sink">
<input name='{"a":"' value='"}'></form>
<iframe name="sink"></iframe></body></html>"""

_ATTACK = """async (admin) => {
  const outcome = {};
  const activate = admin + "/api/mock-data/scenarios/down/activate";
  await fetch(activate, { method: "POST", mode: "no-cors" });
  await fetch(admin + "/api/mock-data/scenarios", {
    method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ name: "planted", rules: [] }),
  });
  navigator.sendBeacon(activate);
  try {
    const read = await fetch(admin + "/api/mock-data/scenarios");
    outcome.read = await read.text();
  } catch (error) {
    outcome.read = "blocked";
  }
  try {
    await fetch(activate, { method: "POST", headers: { "X-MockLoop-Admin": "1" } });
    outcome.preflighted = "sent";
  } catch (error) {
    outcome.preflighted = "blocked";
  }
  const form = document.getElementById("f");
  form.action = activate;
  form.submit();
  return outcome;
}"""


class _EvilPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(_EVIL_PAGE)))
        self.end_headers()
        self.wfile.write(_EVIL_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_page_of_another_origin_cannot_change_the_mock_in_a_real_browser(
    server: MockServer,
) -> None:
    from tests.core.test_admin_ui import _browser_missing, _chromium

    reason = _browser_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test cannot run on CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    admin = _admin(server)
    evil = ThreadingHTTPServer(("127.0.0.1", 0), _EvilPage)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=_chromium(), headless=True, args=["--no-sandbox"]
            )
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
                outcome = page.evaluate(_ATTACK, admin)
                page.wait_for_load_state()
            finally:
                browser.close()
    finally:
        evil.shutdown()
        evil.server_close()
    assert outcome == {"read": "blocked", "preflighted": "blocked"}
    assert _active(server) is None
    listed = httpx.get(f"{admin}/api/mock-data/scenarios").json()["scenarios"]
    assert "planted" not in [s["name"] for s in listed]
    # The simple requests did reach the admin port, and were refused there.

    def refused() -> list[dict[str, object]]:
        records = httpx.get(
            f"{admin}/api/logs/search", params={"include_admin": "true", "status": "403"}
        ).json()["records"]
        found = [r for r in records if str(r["path"]).startswith("/api/mock-data/scenarios")]
        return found if len(found) >= 3 else []

    assert len(wait_for(refused, "three refusals in the admin log")) >= 3


# -- the token -----------------------------------------------------------------------------------


def test_a_wrong_or_missing_token_is_401(guarded: MockServer) -> None:
    url = f"{_admin(guarded)}/api/mock-data/scenarios"
    missing = httpx.get(url)
    _assert_problem(missing, 401, "Authorization: Bearer")
    assert missing.headers["www-authenticate"] == "Bearer"
    for sent in ("Bearer nope", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN):
        wrong = httpx.get(url, headers={"Authorization": sent})
        detail = _assert_problem(wrong, 401)
        assert TOKEN not in detail and "nope" not in detail
    right = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    write = httpx.post(f"{_admin(guarded)}/api/mock-data/scenarios/deactivate", headers=MARKER)
    _assert_problem(write, 401)


def test_open_routes_and_no_token_in_the_log(guarded: MockServer) -> None:
    admin = _admin(guarded)
    for path in ("/health", "/docs", "/openapi.json", "/", "/ui/app.css"):
        assert httpx.get(f"{admin}{path}").status_code == 200, path
    auth = {"Authorization": f"Bearer {TOKEN}"}
    httpx.get(f"{admin}/api/export", headers=auth).raise_for_status()
    httpx.get(f"{admin}/api/operations", headers={"Authorization": f"Bearer {TOKEN}-wrong"})
    logged = httpx.get(f"{admin}/api/logs/search", params={"include_admin": "true"}, headers=auth)
    assert logged.status_code == 200
    assert logged.json()["records"], "the admin requests were not logged"
    assert TOKEN not in logged.text


# -- /docs ---------------------------------------------------------------------------------------


def test_docs_load_nothing_from_elsewhere(server: MockServer) -> None:
    answer = httpx.get(f"{_admin(server)}/docs")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    page = answer.text
    # Swagger UI: scripts only as files of the admin port, none inline.
    scripts = re.findall(r"<script[^>]*>", page, re.I)
    assert scripts
    for script in scripts:
        assert re.fullmatch(r'<script src="/ui/swagger-ui/[0-9a-f]+/[\w.-]+">', script), script
    references = re.findall(r"""(?:src|href|action)\s*=\s*["']?([^"'\s>]+)""", page, re.I)
    assert references, "the page links nothing"
    for reference in references:
        assert reference.startswith(("#", "/")) and not reference.startswith("//"), reference
    assert not re.search(r"https?://", page)
    # A reference, not a stub: operations with their parameters, bodies and responses.
    for text in ("/api/mock-data/scenarios/{name}/activate", "/api/logs/search"):
        assert text in page
    assert httpx.get(f"{_admin(server)}/redoc").status_code == 404


# -- mockloop serve --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MOCKLOOP_ADMIN_TOKEN"}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _run_serve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockloop.cli", "serve", str(PETSTORE), "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "mock.example"])
def test_an_off_loopback_admin_host_needs_a_token(host: str) -> None:
    result = _run_serve("--admin-host", host, env=_env())
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in ("--admin-host", host, "--admin-token-file", "MOCKLOOP_ADMIN_TOKEN"):
        assert word in lines[0]
    assert "Traceback" not in result.stderr


class _Serving:
    """A `mockloop serve` process, its admin URL and its output so far."""

    def __init__(self, args: list[str], env: dict[str, str], tmp_path: Path) -> None:
        self.admin_port = _free_port()
        self.output_file = tmp_path / "serve.out"
        self._out = self.output_file.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mockloop.cli",
                "serve",
                str(PETSTORE),
                "--port",
                "0",
                "--admin-port",
                str(self.admin_port),
                "--data-dir",
                str(tmp_path / "data"),
                *args,
            ],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.admin = f"http://127.0.0.1:{self.admin_port}"

    def wait_ready(self, timeout: float = 30) -> str:
        def ready() -> str:
            output = self.output_file.read_text()
            assert self.process.poll() is None, output
            return output if "Press Ctrl-C to stop." in output else ""

        return wait_for(ready, "mockloop serve to print its URLs", timeout=timeout, every=0.05)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self._out.close()
        return self.output_file.read_text()


@pytest.mark.parametrize("source", ["env", "file"])
def test_the_token_comes_from_the_environment_or_a_file(tmp_path: Path, source: str) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text(f"  {TOKEN}\n")
    if source == "env":
        serving = _Serving([], _env(MOCKLOOP_ADMIN_TOKEN=TOKEN), tmp_path)
    else:
        serving = _Serving(["--admin-token-file", str(token_file)], _env(), tmp_path)
    try:
        output = serving.wait_ready()
        url = f"{serving.admin}/api/mock-data/scenarios"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert f"  Admin: {serving.admin}   (API reference: {serving.admin}/docs)" in output
    finally:
        output = serving.stop()
    assert TOKEN not in output


def test_a_wildcard_admin_host_prints_its_real_address_and_a_warning(tmp_path: Path) -> None:
    # Bound on every interface for a moment, behind a token.
    serving = _Serving(["--admin-host", "0.0.0.0"], _env(MOCKLOOP_ADMIN_TOKEN=TOKEN), tmp_path)
    try:
        output = serving.wait_ready()
        assert f"Admin: http://0.0.0.0:{serving.admin_port}" in output
        assert f"from here: {serving.admin}" in output
        assert "Warning: the admin port listens on every interface" in output
        health = httpx.get(f"{serving.admin}/health")
        assert health.status_code == 200
        foreign = httpx.get(f"{serving.admin}/health", headers={"Host": "rebound.example"})
        assert foreign.status_code == 421
    finally:
        output = serving.stop()
    assert serving.process.returncode == 0, output
    assert TOKEN not in output
