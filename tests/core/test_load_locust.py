"""engine="locust": a real Locust master with two workers on loopback, its statistics read back
into the native engine's result model; a missing Locust is a clear error; cancelling a run
leaves no Locust process behind."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import threading
from pathlib import Path

import pytest

from mockloop import AsyncMockLoopClient, ConfigError
from mockloop.cli import main
from mockloop.load.locust_stats import error_kind
from mockloop.load.plan import LoadPlan, RequestTemplate, parse_target
from mockloop.load.report import LoadTestResult
from mockloop.load.store import LoadRunStore
from tests.core.load_server import TestServer
from tests.waiting import wait_for, wait_for_async

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None,
    reason="Locust is not installed (pip install 'mockloop[locust]')",
)


async def _load(**kwargs) -> LoadTestResult:
    async with AsyncMockLoopClient() as client:
        return await client.run_load_test(engine="locust", **kwargs)


def _locust_children() -> dict[int, str]:
    """This process's child processes running Locust: {pid: "master" | "worker"}."""
    found: dict[int, str] = {}
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = stat.rsplit(")", 1)[1].split()[1]
        if parent == me and b"locust" in argv:
            found[int(entry.name)] = "master" if b"--master" in argv else "worker"
    return found


class _ProcessWatch:
    """Samples this process's Locust children in a thread while a run goes on."""

    def __init__(self) -> None:
        self.seen: dict[int, str] = {}
        self.most_at_once: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            now = _locust_children()
            self.seen.update(now)
            for role in ("master", "worker"):
                count = sum(1 for r in now.values() if r == role)
                self.most_at_once[role] = max(self.most_at_once.get(role, 0), count)

    def __enter__(self) -> _ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_master_and_two_workers_return_the_native_result_shape() -> None:
    with TestServer(delay=0.005) as server, _ProcessWatch() as watch:
        result = asyncio.run(
            _load(
                server_url=server.url,
                endpoints=["GET /a", {"path": "/b?q=1", "weight": 3}],
                duration=3,
                concurrent_users=4,
                processes=2,
                thresholds={"p95_ms": 5000, "min_rps": 1e9},
            )
        )
        sent = server.requests
    assert watch.most_at_once == {"master": 1, "worker": 2}
    assert isinstance(result, LoadTestResult)
    assert result.engine == "locust" and result.status == "completed"
    assert result.processes == 2
    assert result.total_requests > 0 and result.responses == result.total_requests
    assert result.responses <= sent
    assert result.status_counts == {"200": result.responses}
    assert result.failed_requests == 0 and result.errors_by_kind == {}
    assert [op.name for op in result.operations] == ["GET /a", "GET /b?q=1"]
    a, b = result.operations
    assert a.requests + b.requests == result.responses
    assert b.requests > a.requests  # weight 3 against 1
    assert a.status_counts == {"200": a.requests}
    lat = result.latency
    assert lat.count == result.total_requests
    assert lat.min_ms is not None and lat.min_ms >= 5.0
    assert lat.p50_ms is not None and lat.p50_ms >= 5.0
    assert lat.max_ms is not None and lat.p99_ms is not None and lat.max_ms >= lat.p99_ms - 1
    assert 2.0 <= result.elapsed_s <= 4.5
    assert result.achieved_rps > 0
    assert result.time_series and result.time_series[0].second == 1
    assert sum(s.requests for s in result.time_series) == result.total_requests
    assert result.generator is not None and result.generator.event_loop == "gevent (locust)"
    verdicts = {v.metric: v.passed for v in result.thresholds}
    assert verdicts == {"p95_ms": True, "min_rps": False}
    assert result.passed is False
    assert any("engine='locust'" in w for w in result.warnings)
    stored = LoadRunStore().get(result.run_id)
    assert stored is not None and stored["status"] == "completed"
    assert stored["result"]["engine"] == "locust"
    assert stored["result"]["total_requests"] == result.total_requests
    assert _locust_children() == {}


def test_cancelling_a_run_leaves_no_locust_process() -> None:
    async def scenario(url: str, server: TestServer) -> dict[int, str]:
        task = asyncio.create_task(
            _load(server_url=url, endpoints=["/x"], duration=30, concurrent_users=2, processes=2)
        )

        def sending() -> bool:
            assert not task.done(), task
            return server.requests > 0 and len(_locust_children()) >= 3

        await wait_for_async(sending, "the Locust run to start sending", timeout=30, every=0.1)
        running = _locust_children()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return running

    with TestServer() as server:
        running = asyncio.run(scenario(server.url, server))
        # The cancelled run has reaped every Locust process: none is left to send.
        assert _locust_children() == {}
        for pid in running:
            assert not Path(f"/proc/{pid}").exists(), f"Locust process {pid} outlived the run"
        # And the server sees every connection they held closed (a live worker keeps its own).
        wait_for(lambda: server.open_connections == 0, "the workers' connections to close")
    assert sorted(running.values()) == ["master", "worker", "worker"]
    (row,) = LoadRunStore().list()
    assert row["status"] == "failed" and "CancelledError" in row["result"]["error"]


def test_missing_locust_is_a_config_error_before_any_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "locust", None)  # find_spec now reports it missing
    with TestServer() as server:
        with pytest.raises(ConfigError, match=r"pip install 'mockloop\[locust\]'"):
            asyncio.run(_load(server_url=server.url, endpoints=["/"], duration=1))
        assert server.requests == 0
    assert LoadRunStore().list() == []


def test_cli_runs_the_locust_engine(capsys: pytest.CaptureFixture[str]) -> None:
    with TestServer() as server:
        code = main(
            [
                "load", server.url, "--engine", "locust", "--processes", "1", "--users", "2",
                "--duration", "2", "--json", "--quiet", "--threshold", "error_rate=0",
            ]
        )  # fmt: skip
    assert code == 0
    result = LoadTestResult.model_validate(json.loads(capsys.readouterr().out))
    assert result.engine == "locust" and result.processes == 1
    assert result.responses > 0 and result.passed is True


def test_bad_locust_options_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with TestServer() as server:
        for kwargs, match in (
            ({"processes": 0}, "at least one worker"),
            ({"remote_workers": 2}, "master_bind"),
            ({"remote_workers": 1, "master_bind": "nowhere"}, "HOST:PORT"),
        ):
            with pytest.raises(ConfigError, match=match):
                asyncio.run(_load(server_url=server.url, endpoints=["/"], duration=1, **kwargs))
        assert server.requests == 0


def test_locust_failure_messages_map_to_native_error_kinds() -> None:
    assert error_kind("CatchResponseError('bad_status 503')") == "bad_status"
    assert error_kind("ConnectionRefusedError(111, 'Connection refused')") == "connection_refused"
    assert error_kind("ConnectionResetError(104, 'Connection reset by peer')") == (
        "connection_reset"
    )
    assert error_kind("TimeoutError('timed out')") == "timeout"
    assert error_kind("SSLCertVerificationError(1, 'certificate verify failed')") == "tls"
    assert error_kind("BrokenPipeError()") == "connection_error"


def test_the_rendered_locustfile_keeps_the_mix() -> None:
    from mockloop.load.locust_engine import render_locustfile

    plan = LoadPlan(
        target=parse_target("http://127.0.0.1:9/api"),
        templates=[
            RequestTemplate("GET /a", "GET", ["/a?x=1", "/a?x=2"], weight=0.5),
            RequestTemplate("POST /b", "POST", ["/b"], weight=2, headers={"X": "1"}, body=b"{}"),
        ],
        duration=5,
        users=3,
        think_time=0.25,
    )
    source = render_locustfile(plan)
    compile(source, "locustfile.py", "exec")
    assert "@task(10)" in source and "@task(40)" in source
    assert "'/api/a?x=1', '/api/a?x=2'" in source
    assert "wait_time = constant(0.25)" in source
    assert "b'{}'" in source and "{'X': '1'}" in source
