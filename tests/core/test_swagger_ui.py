"""Swagger UI at both ports' `/docs`, from local files, driven in a real headless browser.

The browser is Debian's `chromium`, launched by Playwright through `executable_path` (see
test_admin_ui.py): without Playwright or chromium the browser tests skip saying why, and on CI
(`CI` set) they fail instead. Every request the page makes is recorded: none may leave the
mock's own origin.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockloop.mock import MockConfig, MockServer
from mockloop.mock.docs import DOCS_ASIDE, swagger_assets
from tests.conftest import PETSTORE

try:
    from playwright.sync_api import Browser, Page, Request, expect, sync_playwright
except ImportError:  # the dev group installs it; a bare `pip install mockloop` does not
    sync_playwright = None

TIMEOUT_MS = 15_000
TOKEN = "swagger-test-token"

DEFINES_DOCS = """\
openapi: 3.0.3
info: {title: Has docs, version: "2"}
paths:
  /docs:
    get:
      operationId: getDocs
      responses:
        "200":
          description: the API's own docs resource
          content:
            application/json:
              schema: {type: object, properties: {kind: {type: string, enum: [own-docs]}}}
  /things:
    get:
      operationId: listThings
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: array}}}}
"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _serve(spec: Path = PETSTORE, **settings: Any) -> MockServer:
    config = MockConfig.build(
        spec=str(spec), port=0, admin_port=0, auth=False, storage=False, **settings
    )
    return MockServer(config)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with _serve() as served:
        yield served


@pytest.fixture(scope="module")
def guarded_server() -> Iterator[MockServer]:
    with _serve(admin_token=TOKEN) as served:
        yield served


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    spec = tmp_path_factory.mktemp("defines-docs") / "api.yaml"
    spec.write_text(DEFINES_DOCS)
    with _serve(spec) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = None
    if sync_playwright is None:
        reason = "playwright is not installed (it is in the dev dependency group: make setup)"
    elif _chromium() is None:
        reason = "no chromium on PATH: install Debian's with `apt-get install chromium`"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"Swagger UI browser tests cannot run on CI: {reason}")
        pytest.skip(reason)
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


class Watched:
    """A page with its console errors, uncaught errors and every URL it requested."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        # The context sees every request, a service worker's or a frame's included.
        self.context.on("request", self._request)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _request(self, request: Request) -> None:
        self.urls.append(request.url)

    def assert_only(self, origin: str) -> None:
        """No console error, and every request went to `origin`."""
        assert self.errors == []
        assert self.urls, "the page requested nothing"
        strangers = [url for url in self.urls if not url.startswith(origin.rstrip("/") + "/")]
        assert strangers == []


@pytest.fixture()
def watched(browser: Browser) -> Iterator[Watched]:
    page = Watched(browser)
    yield page
    page.context.close()


# -- business port -----------------------------------------------------------------------------


def test_business_docs_render_the_description_from_local_files(
    server: MockServer, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{server.business_url}/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("MockLoop Pet Store")
    for operation_id in ("listPets", "createPet", "getPet"):
        expect(page.locator(f"#operations-pets-{operation_id}")).to_be_visible()
    expect(page.locator("#operations-pets-listPets")).to_contain_text("/pets")
    watched.assert_only(str(server.business_url))
    assets = swagger_assets()
    requested = {url.rsplit("/", 1)[-1] for url in watched.urls if f"/{assets.tag}/" in url}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js"} <= requested
    assert f"{server.business_url}/docs/openapi.json" in watched.urls


def test_try_it_out_calls_the_mock(server: MockServer, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{server.business_url}/docs#/pets/listPets")
    operation = page.locator("#operations-pets-listPets")
    expect(operation.locator(".opblock-body")).to_be_visible()  # opened by the deep link
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    expect(
        operation.locator(".live-responses-table tr.response .response-col_status").first
    ).to_have_text("200")
    expect(operation.locator(".request-url")).to_contain_text(f"{server.business_url}/v1/pets")
    watched.assert_only(str(server.business_url))


def test_business_docs_answers_and_headers(server: MockServer) -> None:
    base = str(server.business_url)
    page = httpx.get(f"{base}/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "<script>" not in page.text  # every script is a file of the same origin
    assert "listPets" in page.text  # the <noscript> list
    for reference in re.findall(r"""(?:src|href)="([^"]+)\"""", page.text):
        assert reference.startswith("/") and not reference.startswith("//"), reference

    tag = swagger_assets().tag
    expected = {
        "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
        "swagger-init.js": "text/javascript; charset=utf-8",
        "swagger-ui.css": "text/css; charset=utf-8",
        "favicon-32x32.png": "image/png",
    }
    for name, kind in expected.items():
        answer = httpx.get(f"{base}/docs/swagger-ui/{tag}/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == kind
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.content
    bundle = httpx.head(f"{base}/docs/swagger-ui/{tag}/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and int(bundle.headers["content-length"]) > 100_000
    for missing in (f"/docs/swagger-ui/{'0' * 16}/swagger-ui.css", f"/docs/swagger-ui/{tag}/x.js"):
        answer = httpx.get(base + missing)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"

    document = httpx.get(f"{base}/docs/openapi.json").json()
    assert document["servers"] == [
        {"url": "/v1", "description": "this MockLoop mock"}
    ]  # petstore's base path
    assert document["paths"] == httpx.get(f"{base}/openapi.json").json()["paths"]
    # The aside path serves the same UI even when /docs is free.
    aside = httpx.get(f"{base}{DOCS_ASIDE}")
    assert aside.status_code == 200
    assert f'data-url="{DOCS_ASIDE}/openapi.json"' in aside.text


def test_a_description_defining_docs_keeps_it_and_the_ui_moves_aside(
    docs_server: MockServer, watched: Watched
) -> None:
    base = str(docs_server.business_url)
    own = httpx.get(f"{base}/docs")
    assert own.status_code == 200
    assert own.headers["content-type"].startswith("application/json")  # the description's
    assert own.json().get("kind", "own-docs") == "own-docs"
    assert httpx.get(f"{base}/docs/openapi.json").status_code == 404  # not the UI's any more

    page = watched.page
    page.goto(f"{base}{DOCS_ASIDE}")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Has docs")
    expect(page.locator("#operations-default-getDocs")).to_be_visible()
    expect(page.locator("#operations-default-listThings")).to_be_visible()
    watched.assert_only(base)
    assert f"{base}{DOCS_ASIDE}/openapi.json" in watched.urls


# -- admin port --------------------------------------------------------------------------------


def test_admin_docs_render_the_admin_api(server: MockServer, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{server.admin_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("MockLoop admin")
    expect(page.locator(".opblock-summary-path", has_text="/api/logs/search").first).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/api/mock-data/scenarios").first
    ).to_be_visible()
    watched.assert_only(str(server.admin_url))
    assert f"{server.admin_url}/openapi.json" in watched.urls


def test_admin_docs_load_without_the_token_and_offer_it(
    guarded_server: MockServer, watched: Watched
) -> None:
    admin = str(guarded_server.admin_url)
    assert httpx.get(f"{admin}/api/operations").status_code == 401  # the API itself is guarded
    page = watched.page
    page.goto(f"{admin}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("MockLoop admin")
    expect(page.get_by_role("button", name=re.compile("Authorize"))).to_be_visible()
    watched.assert_only(admin)


def test_admin_docs_answers_and_headers(server: MockServer) -> None:
    admin = str(server.admin_url)
    page = httpx.get(f"{admin}/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "<script>" not in page.text
    assert not re.search(r"""(?:src|href)="https?:""", page.text)
    assert "/api/mock-data/scenarios" in page.text  # the <noscript> list
    tag = swagger_assets().tag
    css = httpx.get(f"{admin}/ui/swagger-ui/{tag}/swagger-ui.css")
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert httpx.get(f"{admin}/ui/swagger-ui/{tag}/nothing.js").status_code == 404
    # The Host check holds for the reference and its files too.
    foreign = {"Host": "evil.example"}
    assert httpx.get(f"{admin}/docs", headers=foreign).status_code == 421
    assert (
        httpx.get(f"{admin}/ui/swagger-ui/{tag}/swagger-ui.css", headers=foreign).status_code == 421
    )
