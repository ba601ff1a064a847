"""Prometheus `/metrics` on the admin port: scraped and parsed as Prometheus parses it.

Real servers on 127.0.0.1; under `serve --workers 2` the supervisor merges the workers' counts.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from mockloop.mock import MockConfig, MockServer
from mockloop.mock.metrics import LATENCY_BUCKETS, prepare_multiprocess_dir
from tests.conftest import PETSTORE
from tests.core.test_workers import KEY, _serve, _stop
from tests.waiting import wait_for

TOKEN = "metrics-token-for-tests"
SCENARIO = {"name": "down", "rules": [{"operation": "getPet", "status": 503}]}


def _server(**settings: object) -> MockServer:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, storage=False, **settings)
    return MockServer(config)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with _server() as served:
        yield served


def _scrape(admin: str, **headers: str) -> dict[str, list[Sample]]:
    response = httpx.get(f"{admin}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        family.name: list(family.samples)
        for family in text_string_to_metric_families(response.text)
    }


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when none)."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_a_scrape_counts_requests_latency_and_the_log_writer(server: MockServer) -> None:
    admin = server.admin_url
    assert admin is not None
    before = _scrape(admin)
    with httpx.Client(base_url=server.business_url, headers=KEY, timeout=10) as client:
        for _ in range(5):
            assert client.get("/pets/1").status_code == 200
        for _ in range(3):
            assert client.get("/no/such/path").status_code == 404
    families = _scrape(admin)

    def grew(family: str, name: str, **labels: str) -> float:
        return _value(families[family], name, **labels) - _value(
            before.get(family, []), name, **labels
        )

    assert (
        grew(
            "mockloop_requests",
            "mockloop_requests_total",
            worker="main",
            operation="getPet",
            method="GET",
            status="200",
            mode="mock",
        )
        == 5
    )
    assert (
        grew("mockloop_requests", "mockloop_requests_total", operation="(none)", status="404") == 3
    )
    # The admin port's own requests (the scrapes) are not the mock's traffic.
    assert not any(s.labels.get("mode") == "admin" for s in families["mockloop_requests"])
    latency = "mockloop_request_duration_seconds"
    assert grew(latency, f"{latency}_count", operation="getPet") == 5
    assert grew(latency, f"{latency}_bucket", operation="getPet", le="+Inf") == 5
    bounds = {s.labels["le"] for s in families[latency] if s.name.endswith("_bucket")}
    assert bounds == {repr(b) for b in LATENCY_BUCKETS} | {"+Inf"}
    # The writer's counters, as its stats() say (the scrape flushed it first).
    stats = httpx.get(f"{admin}/health", timeout=10).json()["request_log"]
    written = _value(families["mockloop_request_log_written"], "mockloop_request_log_written_total")
    assert 8 <= written <= stats["written"]
    assert (
        _value(families["mockloop_request_log_dropped"], "mockloop_request_log_dropped_total") == 0
    )
    assert "mockloop_request_log_queued" in families
    assert _value(families["mockloop_request_log_enabled"], "mockloop_request_log_enabled") == 1
    (info,) = families["mockloop_info"]
    assert info.labels["role"] == "main" and info.labels["api"] == "MockLoop Pet Store"


def test_the_active_scenario_is_a_gauge(server: MockServer) -> None:
    admin = server.admin_url
    assert admin is not None
    idle = _scrape(admin)["mockloop_scenario_active"]
    assert [(s.labels["scenario"], s.value) for s in idle] == [("", 0.0)]
    created = httpx.post(f"{admin}/api/mock-data/scenarios", json=SCENARIO, params={"activate": 1})
    assert created.status_code == 201, created.text
    try:
        active = _scrape(admin)["mockloop_scenario_active"]
        assert [(s.labels["scenario"], s.value) for s in active] == [("down", 1.0)]
    finally:
        httpx.post(f"{admin}/api/mock-data/scenarios/deactivate", headers={"X-MockLoop-Admin": "1"})
    assert _scrape(admin)["mockloop_scenario_active"][0].value == 0


def test_metrics_need_the_admin_token_when_there_is_one() -> None:
    with _server(admin_token=TOKEN) as served:
        refused = httpx.get(f"{served.admin_url}/metrics", timeout=10)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        families = _scrape(str(served.admin_url), Authorization=f"Bearer {TOKEN}")
        assert "mockloop_scenario_active" in families


def test_without_the_request_log_only_the_identity_and_scenario_are_reported() -> None:
    with _server(log_requests=False) as served:
        assert httpx.get(f"{served.business_url}/pets/1", headers=KEY).status_code == 200
        families = _scrape(str(served.admin_url))
        assert _value(families["mockloop_request_log_enabled"], "mockloop_request_log_enabled") == 0
        assert "mockloop_requests" not in families
        assert "mockloop_scenario_active" in families


def test_the_workers_folder_is_emptied_at_start(tmp_path: Path) -> None:
    stale = tmp_path / "metrics" / "counter_12345.db"
    stale.parent.mkdir()
    stale.write_bytes(b"left by an earlier run")
    folder = prepare_multiprocess_dir(tmp_path)
    assert folder == stale.parent and list(folder.iterdir()) == []


def test_the_supervisor_reports_every_worker(tmp_path: Path) -> None:
    served = _serve(tmp_path / "data", "--workers", "2")
    try:
        requests = 30
        for _ in range(requests):
            assert served.fresh("/pets/1", headers=KEY).status_code == 200

        def counted() -> dict[str, list[Sample]] | None:
            families = _scrape(served.admin)
            samples = families.get("mockloop_requests", [])
            total = _value(samples, "mockloop_requests_total", operation="getPet", status="200")
            return families if total == requests else None

        families = wait_for(counted, f"{requests} getPet requests in /metrics", timeout=30)
        workers = {s.labels["worker"] for s in families["mockloop_requests"]}
        assert workers <= {"0", "1"} and workers
        latency = "mockloop_request_duration_seconds"
        assert _value(families[latency], f"{latency}_count", operation="getPet") == requests
        up = families["mockloop_worker_up"]
        assert sorted((s.labels["worker"], s.value) for s in up) == [("0", 1.0), ("1", 1.0)]
        health = served.health()
        assert {s.labels["pid"] for s in up} == {str(w["pid"]) for w in health["workers"]}
        written = _value(
            families["mockloop_request_log_written"], "mockloop_request_log_written_total"
        )
        assert written >= requests
        (info,) = families["mockloop_info"]
        assert info.labels["role"] == "supervisor"

        # A worker dies: its counts stay in the total, its files are folded away.
        victim = health["workers"][0]["pid"]
        os.kill(victim, signal.SIGKILL)

        def replaced() -> bool:
            workers = served.health()["workers"]
            return victim not in {w["pid"] for w in workers} and all(w["ready"] for w in workers)

        wait_for(replaced, "the replacement worker", timeout=60)
        folder = tmp_path / "data" / "metrics"
        wait_for(lambda: not (folder / f"counter_{victim}.db").exists(), "the folded files")
        assert (folder / "counter_archive.db").exists()
        samples = _scrape(served.admin)["mockloop_requests"]
        total = _value(samples, "mockloop_requests_total", operation="getPet", status="200")
        assert total == requests
    finally:
        if served.process.poll() is None:
            _stop(served)


def test_a_dead_workers_counts_are_folded_into_the_archive(tmp_path: Path) -> None:
    """Its totals keep counting, and no file per dead worker piles up (a crash loop)."""
    from prometheus_client.mmap_dict import MmapedDict

    from mockloop.mock.metrics import forget_worker

    folder = prepare_multiprocess_dir(tmp_path)
    key = '["mockloop_requests", "mockloop_requests_total", {"worker": "0"}, "help"]'
    for pid, count in ((101, 3.0), (102, 4.0)):
        for kind in ("counter", "histogram"):
            written = MmapedDict(str(folder / f"{kind}_{pid}.db"))
            written.write_value(key, count, 1.0)
            written.close()
        gauge = MmapedDict(str(folder / f"gauge_livesum_{pid}.db"))
        gauge.write_value(key, 9.0, 1.0)
        gauge.close()
        forget_worker(folder, pid)
    assert sorted(p.name for p in folder.iterdir()) == [
        "counter_archive.db",
        "histogram_archive.db",
    ]
    for kind in ("counter", "histogram"):
        values = list(MmapedDict.read_all_values_from_file(str(folder / f"{kind}_archive.db")))
        assert [(k, v) for k, v, _, _ in values] == [(key, 7.0)]
    forget_worker(folder, 101)  # a pid whose files are gone already: nothing happens
