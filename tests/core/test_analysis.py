"""analyze_test_results and compare_test_runs over real load runs of a real mock."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from mockloop import AsyncMockLoopClient, ConfigError, MockLoopClient
from mockloop.mock.config import MockConfig
from mockloop.mock.server import MockServer
from mockloop.results import summary_of
from mockloop.testing.analysis.anomalies import find_anomalies
from mockloop.testing.analysis.stats import mann_whitney, two_proportion
from tests.conftest import PETSTORE

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

OWNER = "GET /owners/0b9a3f5e-2d4c-4a8e-9f1d-3c5b7a9e1f20"
_RUN = {"duration": 1.5, "concurrent_users": 2, "endpoints": ["GET /pets/1", OWNER]}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, auth=False, storage=False)
    with MockServer(config) as served:
        yield served


def _scenario(client: MockLoopClient, url: str, name: str, rules: list[dict[str, Any]]) -> None:
    client.manage_mock_data(
        server_url=url,
        operation="create_scenario",
        scenario_name=name,
        scenario_config={"rules": rules},
    )


@pytest.fixture(scope="module")
def runs(mock: MockServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Load runs of the one mock: two with a steady 20 ms delay, one with 100 ms, one failing.

    The steady delay keeps the shared machine's jitter (a few ms at p95 when it is busy) well
    inside the default 20% threshold, so "unchanged" is about the mock, not the machine."""
    home = tmp_path_factory.mktemp("analysis-home")
    url = mock.business_url
    with MockLoopClient(home=str(home)) as client:
        _scenario(client, url, "steady", [{"delay_ms": 20}])
        _scenario(client, url, "slow", [{"delay_ms": 100}])
        flaky_pet = {"operation": "getPet", "delay_ms": 20, "error_rate": 0.5, "error_status": 500}
        _scenario(client, url, "failing", [flaky_pet, {"delay_ms": 20}])
        out = {
            "home": home,
            "first": client.run_load_test(server_url=url, scenario_name="steady", **_RUN),
            "second": client.run_load_test(server_url=url, scenario_name="steady", **_RUN),
            "slow": client.run_load_test(server_url=url, scenario_name="slow", **_RUN),
            "failing": client.run_load_test(
                server_url=url, scenario_name="failing", thresholds={"error_rate": 0.05}, **_RUN
            ),
        }
    return out


def test_identical_runs_compare_as_unchanged(runs: dict[str, Any]) -> None:
    with MockLoopClient(home=str(runs["home"])) as client:
        result = client.compare_test_runs(
            baseline_results=runs["first"], comparison_results=runs["second"]
        )
    assert result.verdict == "unchanged", result.summary
    assert result["verdict"] == "unchanged"
    assert {m.metric for m in result.metrics} >= {"latency_p50", "latency_p95", "error_rate"}
    assert all(m.classification == "unchanged" for m in result.metrics + result.operations)
    assert "UNCHANGED" in summary_of(result)


def test_a_delay_compares_as_a_significant_latency_regression(runs: dict[str, Any]) -> None:
    with MockLoopClient(home=str(runs["home"])) as client:
        result = client.compare_test_runs(
            baseline_results=runs["first"], comparison_results=runs["slow"].run_id
        )
    assert result.verdict == "regressed"
    p50 = next(m for m in result.metrics if m.metric == "latency_p50")
    assert p50.classification == "regressed"
    assert p50.comparison is not None and p50.baseline is not None
    assert p50.comparison - p50.baseline >= 70  # 100 ms against 20 ms
    assert p50.test is not None and p50.test["p_value"] < 1e-6
    assert p50.test["effect_size_a12"] > 0.9
    p95 = next(m for m in result.metrics if m.metric == "latency_p95")
    assert p95.classification == "regressed" and p95.significant
    assert p95.test is not None
    assert p95.test["baseline_interval_ms"][1] < p95.test["comparison_interval_ms"][0]
    per_op = {(m.scope, m.metric): m for m in result.operations}
    assert per_op[("GET /pets/1", "latency_p50")].classification == "regressed"
    assert any("latency_p50" in line and "p = " in line for line in result.regressions)
    error = next(m for m in result.metrics if m.metric == "error_rate")
    assert error.classification == "unchanged"


def test_injected_errors_compare_as_an_error_rate_regression(runs: dict[str, Any]) -> None:
    with MockLoopClient(home=str(runs["home"])) as client:
        result = client.compare_test_runs(
            baseline_results=[runs["first"]], comparison_results=[runs["failing"]]
        )
        reverse = client.compare_test_runs(
            baseline_results=runs["failing"],
            comparison_results=runs["first"],
            comparison_metrics=["error_rate"],
        )
    error = next(m for m in result.metrics if m.metric == "error_rate")
    assert error.classification == "regressed"
    assert error.test is not None and error.test["p_value"] < 0.001
    per_op = {(m.scope, m.metric): m.classification for m in result.operations}
    assert per_op[("GET /pets/1", "error_rate")] == "regressed"
    assert per_op[(OWNER, "error_rate")] == "unchanged"
    assert reverse.verdict == "improved"
    assert [m.metric for m in reverse.metrics] == ["error_rate"]


def test_analysis_of_real_runs_cites_its_figures(runs: dict[str, Any]) -> None:
    failing = runs["failing"]
    with MockLoopClient(home=str(runs["home"])) as client:
        analysis = client.analyze_test_results(
            test_results=[runs["first"], failing], slo={"p95_ms": 5000}
        )
    load = analysis.load
    assert load is not None
    assert load.requests == runs["first"].total_requests + failing.total_requests
    assert load.errors == runs["first"].failed_requests + failing.failed_requests
    assert load.latency_exact
    assert analysis.verdict == "fail"  # the failing run's error_rate threshold failed
    threshold = next(c for c in analysis.checks if c.source == "threshold")
    assert threshold.run_id == failing.run_id and not threshold.passed
    assert threshold.actual == pytest.approx(failing.error_rate)
    assert all(c.passed for c in analysis.checks if c.source == "slo")
    failing_ops = [b for b in analysis.bottlenecks if b.reason == "most_failing"]
    assert failing_ops and failing_ops[0].operation == "GET /pets/1"
    assert any(rec.title == "GET /pets/1 fails" for rec in analysis.recommendations)
    assert any(f"{failing.error_rate:g}" in rec.evidence for rec in analysis.recommendations)
    assert analysis["summary"].startswith("2 run(s) analysed: verdict FAIL")
    assert f"{load.requests} requests" in analysis.summary


def test_analysis_by_run_id_and_context(runs: dict[str, Any]) -> None:
    with MockLoopClient(home=str(runs["home"])) as client:
        analysis = client.analyze_test_results(run_ids=[runs["first"].run_id])
        assert analysis.verdict == "pass", analysis.reasons
        assert analysis.runs[0]["run_id"] == runs["first"].run_id
        # A run as get_context_data lists it (id, kind, status, summary) is fetched by its id.
        reference = {"run_id": runs["first"].run_id, "kind": "load", "summary": {"requests": 1}}
        by_reference = client.analyze_test_results(test_results=[reference])
        assert by_reference.load is not None
        assert by_reference.load.requests == runs["first"].total_requests
        with pytest.raises(ConfigError, match="no stored run 'nope'"):
            client.analyze_test_results(run_ids=["nope"])
        with pytest.raises(ConfigError, match="analysis_type"):
            client.analyze_test_results(test_results=runs["first"], analysis_type="deep")
        with pytest.raises(ConfigError, match="slo: unknown threshold 'p42'"):
            client.analyze_test_results(test_results=runs["first"], slo={"p42": 1})
        with pytest.raises(ConfigError, match=r"test_results\[0\] is not a test result"):
            client.analyze_test_results(test_results=[{"hello": 1}])
        with pytest.raises(ConfigError, match="comparison_metrics"):
            client.compare_test_runs(runs["first"], runs["second"], comparison_metrics=["speed"])


async def test_plan_results_compare_step_by_step(mock: MockServer) -> None:
    url = mock.business_url
    async with AsyncMockLoopClient() as client:
        good = await client.execute_test_plan(server_url=url, openapi_spec=str(PETSTORE))
        await client.manage_mock_data(
            server_url=url,
            operation="create_scenario",
            scenario_name="no_pet",
            scenario_config={"rules": [{"operation": "getPet", "status": 500}]},
        )
        await client.manage_mock_data(
            server_url=url, operation="switch_scenario", scenario_name="no_pet"
        )
        try:
            bad = await client.execute_test_plan(server_url=url, openapi_spec=str(PETSTORE))
        finally:
            await client.manage_mock_data(server_url=url, operation="reset")
        analysis = await client.analyze_test_results(test_results=bad)
        compared = await client.compare_test_runs(good, bad)
    functional = analysis.functional
    assert functional is not None
    assert set(functional.failing_operations) == {"getPet"}
    assert functional.failed == bad.failed and functional.passed == bad.passed
    assert analysis.verdict == "fail"
    regressed = [m.scope for m in compared.steps if m.classification == "regressed"]
    assert regressed and all("getPet" in name for name in regressed)
    assert compared.verdict == "regressed"


# -- the statistics themselves -----------------------------------------------------------------


def test_mann_whitney_matches_the_definition() -> None:
    rng = random.Random(7)
    first = [round(rng.gauss(10, 2), 1) for _ in range(40)]
    second = [round(rng.gauss(12, 2), 1) for _ in range(55)]
    test = mann_whitney(first, second)
    assert test is not None
    brute = sum((y > x) + 0.5 * (y == x) for y in second for x in first)
    assert test.u == brute
    assert test.a12 == pytest.approx(brute / (40 * 55))
    assert test.p_value < 0.001
    same = mann_whitney(first, list(first))
    assert same is not None and same.p_value > 0.9 and same.a12 == pytest.approx(0.5)
    assert mann_whitney([], second) is None
    assert two_proportion(0, 100, 0, 100)["p_value"] == 1.0  # type: ignore[index]


def test_anomalies_are_found_where_they_happened() -> None:
    series = [
        {"second": s, "requests": 100, "errors": 0, "rps": 100.0, "p95_ms": 10.0 + (s % 2)}
        for s in range(12)
    ]
    series[5] = {**series[5], "p95_ms": 80.0}
    series[6] = {**series[6], "p95_ms": 95.0}
    series[8] = {**series[8], "errors": 40}
    series[10] = {**series[10], "requests": 20, "rps": 20.0}
    found = {(a.kind, a.start_second, a.end_second): a for a in find_anomalies("r1", series)}
    assert set(found) == {
        ("latency_spike", 5, 6),
        ("error_burst", 8, 8),
        ("throughput_drop", 10, 10),
    }
    spike = found[("latency_spike", 5, 6)]
    assert spike.peak == 95.0 and "95.0 ms" in spike.detail
    steady = [{**s, "p95_ms": 10.0, "errors": 0, "requests": 100, "rps": 100.0} for s in series]
    assert find_anomalies("r2", steady) == []
