"""The load engine against real servers on 127.0.0.1: latencies match a known delay, the open
model keeps its rate and shows a stall in the tail, a dying server is reported, bad input is
refused before any load is sent.

Bounds are tolerant on purpose: they check correctness (a 50 ms delay is never measured below
50 ms), not speed; speed is measured by bench/bench_load.py.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from mockloop import AsyncMockLoopClient, ConfigError, ScenarioError, ServerError
from mockloop.load.store import LoadRunStore
from mockloop.mock import MockConfig, MockServer
from tests.conftest import PETSTORE
from tests.core.load_server import TestServer
from tests.waiting import wait_for_async


def run(coro):
    return asyncio.run(coro)


async def _load(**kwargs):
    async with AsyncMockLoopClient() as client:
        return await client.run_load_test(**kwargs)


def test_closed_model_latency_matches_an_injected_delay() -> None:
    with TestServer(delay=0.05) as server:
        result = run(
            _load(server_url=server.url, endpoints=["/slow"], duration=1.5, concurrent_users=4)
        )
    assert result.status == "completed"
    assert result.model == "closed"
    lat = result.latency.model_dump()
    ordered = [lat[k] for k in ("min_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms")]
    assert ordered == sorted(ordered) and ordered[-1] <= lat["max_ms"]
    assert lat["min_ms"] >= 50.0
    assert 50.0 <= lat["p50_ms"] <= 90.0
    # 4 users for 1.5 s at >= 50 ms per request: at most 4 * 30 (+ the last in flight).
    assert 20 <= result.responses <= 4 * 30 + 4
    assert result.status_counts == {"200": result.responses}
    assert result.errors_by_kind == {}
    assert result.latency.count == result.responses
    assert result["latency"]["p50_ms"] == lat["p50_ms"]  # results read like mappings
    assert [op.name for op in result.operations] == ["GET /slow"]
    assert result.time_series and result.time_series[0].second == 1
    assert sum(s.requests for s in result.time_series) == result.total_requests
    assert result.generator is not None and result.generator.event_loop in ("uvloop", "asyncio")


def test_open_model_keeps_its_rate_and_a_stall_shows_in_the_tail() -> None:
    # The server holds every answer for 300 ms one second in; arrivals keep coming on schedule.
    with TestServer(delay=0.002, stall_at=1.0, stall_for=0.3) as server:
        result = run(
            _load(
                server_url=server.url,
                endpoints=["/x"],
                duration=2.0,
                target_rps=100,
                concurrent_users=60,
            )
        )
    assert result.model == "open"
    assert result.total_requests == 200  # arrivals are scheduled, not paced by answers
    assert result.failed_requests == 0
    assert abs(result.achieved_rps - 100) / 100 < 0.02
    lat = result.latency.model_dump()
    assert lat["p50_ms"] < 100
    # Requests due at the start of the stall waited for it: they are in the tail.
    assert lat["max_ms"] >= 250
    assert lat["p99_ms"] >= 150
    assert result.generator is not None and result.generator.send_lag_mean_ms is not None


def test_a_server_that_dies_midway_is_reported_with_what_was_measured() -> None:
    with TestServer(delay=0.01, die_after=0.7) as server:
        result = run(
            _load(server_url=server.url, endpoints=["/x"], duration=2.0, concurrent_users=3)
        )
    assert result.status == "completed"
    assert result.responses > 0
    assert result.failed_requests > 0
    kinds = set(result.errors_by_kind)
    assert kinds & {"connection_refused", "connection_reset"}, result.errors_by_kind
    assert result.error_rate > 0


@pytest.mark.parametrize("mode", ["chunked", "close"])
def test_chunked_and_close_delimited_bodies_are_read(mode: str) -> None:
    body = b"x" * 3000
    with TestServer(body=body, mode=mode) as server:  # type: ignore[arg-type]
        result = run(
            _load(server_url=server.url, endpoints=["/c"], duration=0.6, concurrent_users=2)
        )
    assert result.responses > 0
    assert result.errors_by_kind == {}
    assert result.bytes_received >= result.responses * len(body)


def test_bad_status_counts_as_an_error_and_thresholds_judge_the_run() -> None:
    with TestServer(delay=0.02, status=503) as server:
        result = run(
            _load(
                server_url=server.url,
                endpoints=["/x"],
                duration=0.6,
                concurrent_users=2,
                thresholds={"p95_ms": 1, "error_rate": 0.5, "max_ms": 10_000},
            )
        )
    assert result.status_counts == {"503": result.responses}
    assert result.errors_by_kind == {"bad_status": result.responses}
    assert result.error_rate == 1.0
    verdicts = {v.metric: v.passed for v in result.thresholds}
    assert verdicts == {"p95_ms": False, "error_rate": False, "max_ms": True}
    assert result.passed is False


def test_several_processes_merge_their_histograms_exactly() -> None:
    with TestServer(delay=0.02) as server:
        result = run(
            _load(
                server_url=server.url,
                endpoints=[{"path": "/a", "weight": 3}, "GET /b"],
                duration=1.2,
                concurrent_users=4,
                processes=2,
            )
        )
    assert result.generator is not None and result.generator.processes == 2
    by_name = {op.name: op for op in result.operations}
    assert set(by_name) == {"GET /a", "GET /b"}
    assert sum(op.latency.count for op in result.operations) == result.latency.count
    assert result.latency.count == result.responses
    assert by_name["GET /a"].requests > by_name["GET /b"].requests  # weight 3 to 1
    assert result.latency.min_ms is not None and result.latency.min_ms >= 20.0
    from mockloop.load.report import histogram_of

    assert histogram_of(result).get_total_count() == result.responses


def test_background_run_is_monitored_and_aggregated(database) -> None:
    # The run's progress and result go through the load run store: on SQLite and PostgreSQL.
    async def scenario() -> tuple:
        async with AsyncMockLoopClient() as client:
            with TestServer(delay=0.01) as server:
                started = await client.run_load_test(
                    server_url=server.url,
                    endpoints=["/x"],
                    duration=1.5,
                    concurrent_users=2,
                    background=True,
                )
                running = await client.monitor_test_progress(run_id=started.run_id)

                async def ended() -> Any:
                    progress = await client.monitor_test_progress(session_id=started.run_id)
                    return progress if progress.status != "running" else None

                final = await wait_for_async(ended, "the run to end", every=0.05)
            metrics = await client.get_performance_metrics(
                run_ids=[started.run_id], aggregation_method="max"
            )
            return started, running, final, metrics

    started, running, final, metrics = run(scenario())
    assert started.status == "running" and started.total_requests == 0
    assert running.status == "running" and running.run_id == started.run_id
    assert final.status == "completed"
    assert final.result is not None and final.result.responses == final.requests
    assert metrics.runs == [started.run_id]
    assert metrics.metrics["total_requests"] == final.requests
    assert metrics.combined_latency is not None
    assert metrics.combined_latency.count == final.result.responses
    assert "GET /x" in metrics.per_operation


def test_mix_from_the_mock_scenario_and_the_scenario_comes_back() -> None:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, log_requests=False)
    with MockServer(config) as server:

        async def scenario():
            async with AsyncMockLoopClient() as client:
                await client.manage_mock_data(
                    server.business_url,
                    "create_scenario",
                    scenario_name="slow_pets",
                    scenario_config={"rules": [{"operation": "getPet", "delay_ms": 30}]},
                )
                result = await client.run_load_test(
                    server_url=server.business_url,
                    scenario_name="slow_pets",
                    duration=0.8,
                    concurrent_users=2,
                )
                listed = await client.manage_mock_data(server.business_url, "list_scenarios")
                with pytest.raises(ScenarioError, match="nope"):
                    await client.run_load_test(
                        server_url=server.business_url, scenario_name="nope", duration=1
                    )
                return result, listed

        result, listed = run(scenario())
    assert [op.name for op in result.operations] == ["getPet"]
    assert result.plan["mix_source"] == "scenario"
    # The mock's event loop timer may fire up to a millisecond early.
    assert result.operations[0].latency.model_dump()["min_ms"] >= 29.0
    assert result.status_counts == {"200": result.responses}
    assert listed.active_scenario is None  # restored after the run


def test_mix_from_a_description_sends_its_get_operations() -> None:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, log_requests=False)
    with MockServer(config) as server:
        result = run(
            _load(
                server_url=server.business_url, spec=str(PETSTORE), duration=0.6, concurrent_users=2
            )
        )
    names = {op.name for op in result.operations}
    assert names and all(op.method == "GET" for op in result.operations)
    assert result.responses > 0
    # Generated parameters and placeholder credentials: the mock accepts every request.
    assert not any(int(code) >= 400 for code in result.status_counts), result.status_counts


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"duration": 0}, ConfigError, "duration=0"),
        ({"concurrent_users": -1}, ConfigError, "concurrent_users=-1"),
        ({"target_rps": 0}, ConfigError, "target_rps"),
        ({"ramp_up": 5, "duration": 1}, ConfigError, "ramp_up"),
        ({"thresholds": {"p42_ms": 1}}, ConfigError, "unknown threshold"),
        ({"engine": "locust", "remote_workers": 1}, ConfigError, "master_bind"),
        ({"engine": "native", "remote_workers": 1}, ConfigError, "engine='locust' only"),
        ({"endpoints": ["pets"]}, ConfigError, "must start with '/'"),
        ({"server_url": "http://example.com"}, ConfigError, "MOCKLOOP_ALLOWED_HOSTS"),
    ],
)
def test_bad_input_is_refused_before_any_load(kwargs: dict, error: type, match: str) -> None:
    with TestServer() as server:
        arguments = {"server_url": server.url, "endpoints": ["/x"], "duration": 1, **kwargs}
        with pytest.raises(error, match=match):
            run(_load(**arguments))
        assert server.requests == 0
    assert LoadRunStore().list() == []


def test_an_unreachable_url_is_a_clear_error() -> None:
    port = _closed_port()
    with pytest.raises(ServerError, match="connection refused"):
        run(_load(server_url=f"http://127.0.0.1:{port}", endpoints=["/"], duration=1))
    assert LoadRunStore().list() == []


def test_allowed_hosts_lets_a_listed_host_through(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockloop.load.plan import Target, check_allowed

    target = Target("http", "10.1.2.3", 80)
    with pytest.raises(ConfigError, match="loopback"):
        check_allowed(target)
    monkeypatch.setenv("MOCKLOOP_ALLOWED_HOSTS", "api.example.test, 10.1.0.0/16")
    check_allowed(target)
    check_allowed(Target("https", "api.example.test", 443))
    with pytest.raises(ConfigError):
        check_allowed(Target("https", "other.example.test", 443))
