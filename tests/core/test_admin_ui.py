"""The admin UI at the admin port's `/`, driven in a real headless browser.

The browser is Debian's `chromium` (installed by `make test` when missing and possible),
launched by Playwright through `executable_path`: Playwright's own browser download is never
used. Without Playwright or chromium the browser tests skip saying why; on CI (`CI` set) they
fail instead, so a missing browser cannot pass silently there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

import httpx
import pytest

from mockloop.mock import MockConfig, MockServer
from mockloop.mock.admin.ui import UI_ASSETS
from tests.conftest import PETSTORE

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
except ImportError:  # the dev group installs it; a bare `pip install mockloop` does not
    sync_playwright = None

TIMEOUT_MS = 10_000
TOKEN = "ui-test-token"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browser_missing() -> str | None:
    if sync_playwright is None:
        return "playwright is not installed (it is in the dev dependency group: make setup)"
    if _chromium() is None:
        return (
            "no chromium on PATH: `make test` installs Debian's chromium when run as root with "
            "apt-get; elsewhere install it with `apt-get install chromium`"
        )
    return None


def _serve(**settings: Any) -> MockServer:
    config = MockConfig.build(
        spec=str(PETSTORE), port=0, admin_port=0, auth=False, storage=False, **settings
    )
    return MockServer(config)


# -- servers and browser ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with _serve(stateful=True) as served:
        yield served


@pytest.fixture(scope="module")
def guarded_server() -> Iterator[MockServer]:
    with _serve(admin_token=TOKEN) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = _browser_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"admin UI browser tests cannot run on CI: {reason}")
        pytest.skip(reason)
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


class Console:
    """Console errors and uncaught page errors of one page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def _notice(page: Page) -> str:
    expect(page.locator("#notice")).to_be_visible()
    return page.locator("#notice-text").inner_text()


# -- the page in a browser --------------------------------------------------------------------


def test_every_section_loads_without_console_errors(server: MockServer, page: Page) -> None:
    console = Console(page)
    operations = httpx.get(f"{server.admin_url}/api/operations").json()
    page.goto(f"{server.admin_url}/")

    expect(page.locator("#api-title")).to_have_text("MockLoop Pet Store")
    expect(page.locator("#business-url")).to_have_text(str(server.business_url))
    expect(page.locator("#active-scenario")).to_have_text("none")
    expect(page.locator("#ops-body tr")).to_have_count(len(operations))
    expect(page.locator("#ops-body")).to_contain_text("getPet")

    page.get_by_role("tab", name="Request log").click()
    expect(page.locator("#log-total")).to_contain_text("matching request")
    page.get_by_role("tab", name="Scenarios").click()
    expect(page.locator("#scenarios-body tr")).not_to_have_count(0)
    page.get_by_role("tab", name="Stateful data").click()
    expect(page.locator("#state-collections section").first).to_be_visible()
    page.get_by_role("tab", name="Webhooks").click()
    expect(page.locator("#webhooks-body tr")).not_to_have_count(0)
    expect(page.locator("#history-body tr")).not_to_have_count(0)
    expect(page).to_have_url(re.compile(r"#webhooks$"))

    assert console.errors == []
    assert page.locator("#notice").is_hidden()


def test_request_log_shows_a_request_just_made(server: MockServer, page: Page) -> None:
    page.goto(f"{server.admin_url}/#log")
    expect(page.locator("#log-total")).to_contain_text("matching request")

    answer = httpx.get(f"{server.business_url}/pets", params={"limit": 37})
    assert answer.status_code == 200

    row = page.locator("#log-body tr", has_text="/pets?limit=37")
    expect(row).to_have_count(1)  # polled in: no reload
    cells = row.locator("td")
    expect(cells.nth(1)).to_have_text("GET")
    expect(cells.nth(3)).to_have_text("200")
    expect(cells.nth(4)).to_contain_text(" ms")
    expect(cells.nth(5)).to_have_text("listPets")
    assert page.locator("#log-body tr").first.inner_text() == row.inner_text()  # newest first

    row.get_by_role("button").click()
    expect(page.locator("#log-detail-title")).to_have_text("GET /pets → 200")
    detail = json.loads(page.locator("#log-detail-text").inner_text())
    assert detail["request"]["query"] == "limit=37"
    assert detail["operation_id"] == "listPets"


def test_untrusted_text_is_shown_as_text(server: MockServer, page: Page) -> None:
    page.goto(f"{server.admin_url}/#log")
    hostile = "/x/<img src=x onerror=window.pwned=1>"
    assert httpx.get(server.business_url + hostile.replace(" ", "%20")).status_code == 404

    expect(page.locator("#log-body")).to_contain_text(hostile)
    assert page.locator("#log-body img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_scenario_created_and_switched_from_the_page(server: MockServer, page: Page) -> None:
    business = httpx.Client(base_url=str(server.business_url))
    assert business.get("/pets/1").status_code == 200
    page.goto(f"{server.admin_url}/#scenarios")

    scenario = {
        "name": "ui-outage",
        "description": "getPet is down",
        "rules": [{"operation": "getPet", "status": 503}],
    }
    page.get_by_label("Scenario (JSON").fill(json.dumps(scenario))
    page.get_by_role("button", name="Create scenario").click()
    row = page.locator('#scenarios-body tr[data-name="ui-outage"]')
    state = row.locator("td").nth(3)
    expect(row).to_contain_text("getPet is down")
    expect(state).to_have_text("inactive")
    assert "created" in _notice(page)
    assert business.get("/pets/1").status_code == 200  # created, not active yet

    row.get_by_role("button", name="Activate").click()
    expect(page.locator("#active-scenario")).to_have_text("ui-outage")
    expect(state).to_have_text("active")
    assert business.get("/pets/1").status_code == 503
    assert business.get("/pets").status_code == 200  # the rule selects getPet only

    # The API's problem detail is shown on the page.
    page.get_by_role("button", name="Create scenario").click()
    expect(page.locator("#notice-text")).to_contain_text("exists already")
    page.get_by_label("Scenario (JSON").fill("{not json")
    page.get_by_role("button", name="Create scenario").click()
    expect(page.locator("#notice-text")).to_contain_text("not valid JSON")

    row.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#active-scenario")).to_have_text("none")
    assert business.get("/pets/1").status_code == 200

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    stored = httpx.get(f"{server.admin_url}/api/mock-data/scenarios").json()["scenarios"]
    assert "ui-outage" not in [s["name"] for s in stored]
    business.close()


def test_stateful_data_seeded_and_reset_from_the_page(server: MockServer, page: Page) -> None:
    def count(collection: str) -> int:
        state = httpx.get(f"{server.admin_url}/api/state/{collection}").json()
        return state["count"]

    page.goto(f"{server.admin_url}/#state")
    pets = page.locator('section[data-collection="pets"]')
    before = count("pets")
    expect(pets.locator("h2")).to_have_text(f"pets · {before} items")
    expect(pets.locator("tbody tr")).to_have_count(before)

    page.get_by_label("Items to seed").fill("2")
    pets.get_by_role("button", name="Seed pets").click()
    expect(pets.locator("h2")).to_have_text(f"pets · {before + 2} items")
    assert count("pets") == before + 2
    assert "pets: +2" in _notice(page)

    page.get_by_role("button", name="Empty every collection").click()
    expect(pets.locator("h2")).to_have_text("pets · 0 items")
    expect(pets).to_contain_text("Empty.")
    page.get_by_role("button", name="Reset to the seed").click()
    seeded = server.config.state_seed_items
    expect(pets.locator("h2")).to_have_text(f"pets · {seeded} items")
    assert count("pets") == seeded


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture()
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", received
    httpd.shutdown()
    httpd.server_close()


def test_webhook_registered_tested_and_deleted_from_the_page(
    server: MockServer, page: Page, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    page.goto(f"{server.admin_url}/#webhooks")
    page.get_by_label("Target URL").fill(url)
    page.get_by_label("Events").fill("createPet, scenario.activated")
    page.get_by_label("Signing secret").fill("s3cret")
    page.get_by_role("button", name="Register webhook").click()

    row = page.locator("#webhooks-body tr", has_text=url)
    expect(row).to_contain_text("createPet, scenario.activated")
    expect(row.locator("td").nth(2)).to_have_text("yes")
    listed = httpx.get(f"{server.admin_url}/api/webhooks").json()["webhooks"]
    registered = next(w for w in listed if w["url"] == url)
    assert registered["events"] == ["createPet", "scenario.activated"]
    assert registered["has_secret"] is True
    assert "s3cret" not in page.content()

    row.get_by_role("button", name="Test").click()
    expect(page.locator("#notice-text")).to_contain_text("Test delivery delivered")
    assert len(received) == 1
    headers = {k.lower(): v for k, v in received[0][0].items()}
    assert headers["x-mockloop-signature"].startswith("sha256=")
    row.get_by_role("button", name="History").click()
    expect(page.locator("#history-title")).to_have_text(f"Delivery history of {registered['id']}")
    expect(page.locator("#history-body tr").first).to_contain_text("delivered")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    listed = httpx.get(f"{server.admin_url}/api/webhooks").json()["webhooks"]
    assert all(w["id"] != registered["id"] for w in listed)


def test_admin_token_asked_for_and_used(guarded_server: MockServer, page: Page) -> None:
    page.goto(f"{guarded_server.admin_url}/#state")
    expect(page.locator("#token-form")).to_be_visible()
    assert "Bearer" in _notice(page)
    expect(page.locator("#ops-body tr")).to_have_count(0)

    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#token-form")).to_be_hidden()
    expect(page.locator("#state-off")).to_be_visible()  # this mock is not stateful
    expect(page.locator("#state-off")).to_contain_text("stateful=True")
    assert page.evaluate("sessionStorage.getItem('mockloop.adminToken')") == TOKEN
    page.get_by_role("tab", name="Operations").click()
    expect(page.locator("#ops-body tr").first).to_contain_text("GET")


def test_narrow_screen_keeps_the_page_usable(server: MockServer, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{server.admin_url}/#scenarios")
    expect(page.get_by_role("button", name="Create scenario")).to_be_visible()
    # Nothing but the tables (which scroll inside their own box) is wider than the screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    context.close()


# -- what is served, without a browser --------------------------------------------------------


def test_assets_are_served_with_a_strict_policy(server: MockServer) -> None:
    with httpx.Client(base_url=str(server.admin_url)) as admin:
        index = admin.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        policy = index.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        for name in ("app.js", "app.css"):
            asset = admin.get(f"/ui/{name}")
            assert asset.status_code == 200
            assert asset.headers["content-type"] == UI_ASSETS[name]
        assert admin.get("/ui/secrets.txt").status_code == 404
        assert "/ui/" not in admin.get("/openapi.json").text


def test_assets_reference_nothing_outside_the_admin_app() -> None:
    folder = files("mockloop.mock.admin").joinpath("assets")
    page = folder.joinpath("index.html").read_text()
    for reference in re.findall(r"""(?:src|href)=["']([^"']*)""", page):
        assert reference.startswith(("/", "#", "data:")), reference
    assert "<script>" not in page and "style=" not in page  # no inline code for the CSP to block
    script = folder.joinpath("app.js").read_text()
    # The SVG namespace name is an identifier, not an address anything is fetched from.
    script = script.replace('"http://www.w3.org/2000/svg"', '"SVG-NAMESPACE"')
    assert re.findall(r"https?://|innerHTML|outerHTML|insertAdjacentHTML", script) == []
    style = folder.joinpath("app.css").read_text()
    assert "url(" not in style and "@import" not in style


def test_disabled_ui_leaves_a_page_of_links() -> None:
    with _serve(admin_ui=False) as served, httpx.Client(base_url=str(served.admin_url)) as admin:
        index = admin.get("/")
        assert index.status_code == 200
        assert "admin UI is disabled" in index.text
        for link in ('href="/docs"', 'href="/api/logs/search"', 'href="/api/state"'):
            assert link in index.text
        assert str(served.business_url) in index.text
        assert admin.get("/ui/app.js").status_code == 404
        assert admin.get("/health").status_code == 200
