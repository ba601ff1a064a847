"""The admin UI's Traffic tab and the `/api/traffic` figures it draws: requests per second,
latency percentiles, status classes and the busiest operations, refreshed while open."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from mockloop.mock import MockServer
from mockloop.mock.request_log.traffic import traffic
from tests.core.test_admin_ui import (  # noqa: F401 - browser and page are fixtures
    Console,
    _serve,
    browser,
    page,
)
from tests.waiting import wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture(scope="module")
def served() -> Iterator[MockServer]:
    with _serve() as mock:
        yield mock


def _flush(mock: MockServer) -> None:
    writer = mock.runtime.log_writer
    assert writer is not None
    writer.flush()


def test_traffic_figures_per_bucket_and_operation() -> None:
    now = 1_000.0
    rows = [
        (951.0, 200, 2.0, "getPet"),
        (952.0, 200, 4.0, "getPet"),
        (996.0, 404, 1.0, "getPet"),
        (997.0, 503, 10.0, "listPets"),
        (900.0, 200, 1.0, "old"),  # outside the window
    ]
    figures = traffic(rows, now=now, window_s=50, step_s=10)
    assert figures["window_s"] == 50 and len(figures["buckets"]) == 5
    first, last = figures["buckets"][0], figures["buckets"][-1]
    assert first["requests"] == 2 and first["rps"] == 0.2 and first["p50_ms"] == 2.0
    assert first["p99_ms"] == 4.0 and first["status"]["2xx"] == 2
    assert last["status"] == {"2xx": 0, "3xx": 0, "4xx": 1, "5xx": 1}
    assert figures["buckets"][2]["p50_ms"] is None  # no request: no latency
    assert figures["totals"]["requests"] == 4
    top = {o["operation_id"]: o for o in figures["top_operations"]}
    assert top["getPet"]["requests"] == 3 and top["listPets"]["server_errors"] == 1
    assert "old" not in top


def test_api_traffic_counts_the_business_requests(served: MockServer) -> None:
    for pet in range(1, 8):
        assert httpx.get(f"{served.business_url}/pets/{pet}").status_code == 200
    assert httpx.get(f"{served.business_url}/nowhere").status_code == 404
    _flush(served)
    figures = httpx.get(f"{served.admin_url}/api/traffic", params={"window_s": 60}).json()
    assert figures["totals"]["requests"] >= 8
    assert figures["totals"]["status"]["4xx"] >= 1
    top = {o["operation_id"]: o["requests"] for o in figures["top_operations"]}
    assert top["getPet"] >= 7
    refused = httpx.get(f"{served.admin_url}/api/traffic", params={"window_s": 5})
    assert refused.status_code == 422  # at least 10 s


def test_the_traffic_tab_draws_and_refreshes_while_open(
    served: MockServer,
    page: Page,  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect  # the `page` fixture skipped already when missing

    console = Console(page)
    for pet in range(1, 6):
        httpx.get(f"{served.business_url}/pets/{pet}")
    _flush(served)
    page.goto(f"{served.admin_url}/#traffic")
    summary = page.locator("#traffic-summary")
    expect(summary).to_contain_text("req/s")
    expect(page.locator("#chart-rps polyline")).not_to_have_count(0)
    expect(page.locator("#chart-status rect")).not_to_have_count(0)
    expect(page.locator("#traffic-ops")).to_contain_text("getPet")
    before = int(summary.inner_text().split()[0])
    for pet in range(1, 11):
        httpx.get(f"{served.business_url}/pets/{pet}")
    _flush(served)
    deadline = time.monotonic() + 15

    def refreshed() -> int | None:
        shown = int(summary.inner_text().split()[0])
        return shown if shown >= before + 10 or time.monotonic() > deadline else None

    assert wait_for(refreshed, "the tab to refresh on its own", timeout=20) >= before + 10
    assert console.errors == []
