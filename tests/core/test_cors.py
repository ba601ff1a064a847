"""CORS on the business port: preflights from the documented methods, headers on answers, the
switch and its defaults, and a page on another origin calling the mock in a real browser."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockloop.errors import ConfigError
from mockloop.mock import MockConfig, MockServer
from mockloop.proxy.settings import ProxySettings
from tests.conftest import PETSTORE

KEY = {"X-API-Key": "k"}
FRONT = "http://localhost:5173"


def _serve(**settings: Any) -> MockServer:
    return MockServer(MockConfig(spec=str(PETSTORE), port=0, storage=False, **settings))


def _preflight(url: str, origin: str, method: str, **extra: str) -> httpx.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": method, **extra}
    return httpx.options(url, headers=headers)


def test_by_default_any_origin_may_read_a_pure_mock() -> None:
    with _serve() as mock:
        answer = httpx.get(f"{mock.business_url}/pets/1", headers={**KEY, "Origin": FRONT})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "*"
        assert answer.headers["vary"] == "Origin"
        assert answer.headers["access-control-expose-headers"] == "*"
        assert "access-control-allow-credentials" not in answer.headers
        # Without an Origin (not a browser's cross-origin call) nothing is added.
        plain = httpx.get(f"{mock.business_url}/pets/1", headers=KEY)
        assert "access-control-allow-origin" not in plain.headers

        preflight = _preflight(
            f"{mock.business_url}/pets/1",
            FRONT,
            "DELETE",
            **{"Access-Control-Request-Headers": "x-api-key, content-type"},
        )
        assert preflight.status_code == 204
        assert preflight.content == b""
        assert preflight.headers["access-control-allow-methods"] == "DELETE, GET, OPTIONS, PUT"
        assert preflight.headers["access-control-allow-headers"] == "x-api-key, content-type"
        assert preflight.headers["access-control-max-age"] == "600"
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-private-network" not in preflight.headers

        unknown = _preflight(f"{mock.business_url}/nowhere", FRONT, "GET")
        assert unknown.status_code == 404
        # A plain OPTIONS (no Access-Control-Request-Method) is routed as any request.
        plain_options = httpx.options(f"{mock.business_url}/pets", headers={"Origin": FRONT})
        assert plain_options.status_code == 405
        assert plain_options.headers["access-control-allow-origin"] == "*"


def test_listed_origins_get_credentials_and_others_nothing() -> None:
    with _serve(cors=[FRONT]) as mock:
        url = f"{mock.business_url}/pets/1"
        answer = httpx.get(url, headers={**KEY, "Origin": FRONT})
        assert answer.headers["access-control-allow-origin"] == FRONT
        assert answer.headers["access-control-allow-credentials"] == "true"
        exposed = answer.headers["access-control-expose-headers"].split(", ")
        assert "content-type" in exposed and "*" not in exposed

        other = httpx.get(url, headers={**KEY, "Origin": "http://evil.example"})
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers
        refused = _preflight(url, "http://evil.example", "GET")
        assert refused.status_code == 403
        assert "allow it with --cors http://evil.example" in refused.json()["detail"]

        network = _preflight(
            url, FRONT, "GET", **{"Access-Control-Request-Private-Network": "true"}
        )
        assert network.status_code == 204
        assert network.headers["access-control-allow-private-network"] == "true"


def test_cors_off_and_the_proxy_default() -> None:
    with _serve(cors=[]) as mock:
        answer = httpx.get(f"{mock.business_url}/pets/1", headers={**KEY, "Origin": FRONT})
        assert "access-control-allow-origin" not in answer.headers
        assert _preflight(f"{mock.business_url}/pets/1", FRONT, "GET").status_code == 405
    # With proxy settings the answers may be the live API's: no origin unless named.
    proxied = ProxySettings(mode="mock", target_url="http://127.0.0.1:9")
    with _serve(proxy=proxied) as mock:
        answer = httpx.get(f"{mock.business_url}/pets/1", headers={**KEY, "Origin": FRONT})
        assert "access-control-allow-origin" not in answer.headers
    with _serve(proxy=proxied, cors=["*"]) as mock:
        answer = httpx.get(f"{mock.business_url}/pets/1", headers={**KEY, "Origin": FRONT})
        assert answer.headers["access-control-allow-origin"] == "*"


def test_bad_origins_are_refused_with_the_form_expected() -> None:
    with pytest.raises(ConfigError, match=r"'localhost:3000' is not an origin: give '\*' or"):
        MockConfig.build(spec=str(PETSTORE), cors=["localhost:3000"])
    with pytest.raises(ConfigError, match="no path"):
        MockConfig.build(spec=str(PETSTORE), cors=["http://a.test/app"])
    assert MockConfig.build(spec=str(PETSTORE), cors=["HTTP://A.test:8080/"]).cors == [
        "http://a.test:8080"
    ]
    from mockloop.cli import main

    assert main(["serve", str(PETSTORE), "--cors", "off", "http://a.test"]) == 2


# -- a real browser ------------------------------------------------------------------------------

PAGE = """<!doctype html><meta charset="utf-8"><title>front-end</title>
<script>
fetch(MOCK + "/pets/1", {headers: {"X-API-Key": "k"}})
  .then(r => r.json().then(body => { document.title = "ok " + r.status + " " + body.name; }))
  .catch(e => { document.title = "failed " + e; });
</script>"""


@pytest.fixture()
def front_end() -> Iterator[tuple[str, list[str]]]:
    """A page on another origin (its own port) that calls the mock with fetch()."""
    mock_url: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = PAGE.replace("MOCK", repr(mock_url[0])).encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", mock_url
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("cors", [None, []])
def test_a_page_on_another_origin_calls_the_mock_in_a_browser(
    front_end: tuple[str, list[str]], cors: list[str] | None
) -> None:
    from tests.core.test_admin_ui import _browser_missing, _chromium

    reason = _browser_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the CORS browser test cannot run on CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    page_url, mock_url = front_end
    with _serve(cors=cors) as mock, sync_playwright() as playwright:
        mock_url.append(mock.business_url)
        browser = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.goto(page_url)
            page.wait_for_function(
                "document.title.startsWith('ok') || document.title.startsWith('failed')"
            )
            title = page.title()
        finally:
            browser.close()
    if cors is None:
        assert title.startswith("ok 200 "), title  # the preflight (X-API-Key) and the GET
    else:
        assert title.startswith("failed TypeError"), title  # the browser refuses to read it


def test_security_header_profiles_add_what_an_answer_lacks() -> None:
    with _serve() as mock:
        plain = httpx.get(f"{mock.business_url}/pets/1", headers=KEY)
        assert "x-content-type-options" not in plain.headers  # off by default
    with _serve(security_headers="standard") as mock:
        answer = httpx.get(f"{mock.business_url}/pets/1", headers=KEY)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert "strict-transport-security" not in answer.headers
        refused = httpx.get(f"{mock.business_url}/nowhere")
        assert refused.status_code == 404 and refused.headers["x-frame-options"] == "DENY"
    with _serve(security_headers="strict") as mock:
        answer = httpx.get(f"{mock.business_url}/pets/1", headers=KEY)
        assert answer.headers["strict-transport-security"].startswith("max-age=31536000")
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
    from mockloop.mock.cors import security_headers

    own = [(b"cache-control", b"max-age=60"), (b"x-frame-options", b"SAMEORIGIN")]
    added = dict(security_headers("strict", own))
    assert b"cache-control" not in added and b"x-frame-options" not in added
    assert added[b"x-content-type-options"] == b"nosniff"


def test_the_policy_replaces_documented_cors_headers_and_builtin_pages_keep_theirs() -> None:
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "Gateway export", "version": "1"},
        "paths": {
            "/items": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "headers": {
                                "Access-Control-Allow-Origin": {
                                    "schema": {"type": "string", "example": "*"}
                                }
                            },
                            "content": {"application/json": {"example": [1]}},
                        }
                    }
                }
            }
        },
    }
    config = MockConfig(spec=spec, port=0, storage=False, cors=[FRONT], security_headers="strict")
    with MockServer(config) as mock:
        answer = httpx.get(f"{mock.business_url}/items", headers={"Origin": FRONT})
        assert answer.headers.get_list("access-control-allow-origin") == [FRONT]
        # Without an Origin the answer still says it varies by Origin (listed origins).
        assert "Origin" in httpx.get(f"{mock.business_url}/items").headers.get_list("vary")
        docs = httpx.get(f"{mock.business_url}/docs")
        assert docs.status_code == 200
        assert docs.headers.get("content-security-policy", "") != (
            "default-src 'none'; frame-ancestors 'none'"
        )
