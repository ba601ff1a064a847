"""Test sessions and schedules against a real petstore mock on 127.0.0.1.

A schedule every second produces load runs that land in its session and stops when
cancelled (sync client, on a manual clock the test moves; async client, on the real clock);
a schedule made by another process is listed, cancelled across processes, shows as orphaned
once that process is gone and can be resumed; the final report's figures are those of the
stored runs; bad input names the field.
The tests that store sessions, schedules and runs run on SQLite and on PostgreSQL (`database`).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from statistics import fmean
from typing import Any

import pytest

from mockloop import AsyncMockLoopClient, ConfigError, MockLoopClient
from mockloop.mock import MockConfig, MockServer
from mockloop.testing.runs import TestRunStore
from mockloop.testing.sessions.clock import Clock
from mockloop.testing.sessions.report import refresh_load_runs
from mockloop.testing.sessions.schedule_store import ScheduleStore
from mockloop.testing.sessions.scheduler import (
    CANCEL_GRACE_SECONDS,
    POLL_SECONDS,
    Scheduler,
    ScheduleRunner,
)
from mockloop.testing.sessions.schedules import (
    ScheduleTiming,
    SuiteTest,
    TestSuite,
    parse_schedule_config,
)
from tests.clock import ManualClock
from tests.conftest import PETSTORE
from tests.waiting import wait_for, wait_for_async

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, auth=False, storage=False)
    with MockServer(config) as served:
        yield served


def _load_test(url: str) -> dict[str, Any]:
    return {
        "operation": "run_load_test",
        "arguments": {"server_url": url, "duration": 0.3, "concurrent_users": 1},
    }


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session_runs(session_id: str) -> list[dict[str, Any]]:
    return TestRunStore().list(session_id=session_id, limit=10_000)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The clock every schedule runner of the test reads: it moves only when the test says."""
    manual = ManualClock()
    checked: Clock = manual  # what the scheduler accepts
    monkeypatch.setattr(Scheduler, "clock", checked)
    return manual


def _run_next(clock: ManualClock, schedule_id: str, runs_done: int) -> None:
    """Wait until the runner, `runs_done` suite runs in, waits for the next one; move the
    clock to that run's due time; wait until the run is done."""
    store = ScheduleStore()

    def waiting() -> dict[str, Any] | None:
        row = store.get(schedule_id)
        assert row is not None
        return row if row["runs_done"] == runs_done and clock.sleeping else None

    def done() -> bool:
        row = store.get(schedule_id)
        return row is not None and row["runs_done"] == runs_done + 1

    row = wait_for(waiting, f"the runner to wait for suite run {runs_done + 1}", timeout=20)
    clock.advance_to(row["next_run_at"])
    wait_for(done, f"suite run {runs_done + 1} to finish", timeout=20)


# -- schedules that really run --------------------------------------------------------------


def test_sync_schedule_runs_land_in_the_session_and_stop_when_cancelled(
    mock: MockServer, tmp_path: Path, database, clock: ManualClock
) -> None:
    lines = tmp_path / "notify.jsonl"
    with MockLoopClient() as client:
        session = client.create_test_session("nightly", test_plan="smoke")
        schedule = client.schedule_test_suite(
            test_suite={"name": "smoke", "tests": [_load_test(mock.business_url)]},
            schedule_config={"interval_seconds": 1, "run_immediately": True},
            notification_config={"file": str(lines), "on": "always"},
        )
        # Without schedule_config.session_id the schedule opens a session named after the suite.
        assert schedule["session_id"] != session["session_id"]
        assert schedule.status == "active" and schedule.running_here
        assert schedule.next_run_at is not None and schedule.next_run_at <= time.time() + 0.5
        scheduled = client.get_test_session(schedule.session_id)
        assert scheduled.name == "smoke" and scheduled.created_by == "schedule_test_suite"
        assert scheduled.schedules == [schedule.schedule_id]

        _run_next(clock, schedule.schedule_id, 0)  # due at once: run_immediately
        _run_next(clock, schedule.schedule_id, 1)  # one interval later on the clock
        assert len(_session_runs(schedule.session_id)) == 2
        listed = client.list_test_schedules(status="active")
        assert [s.schedule_id for s in listed.schedules] == [schedule.schedule_id]
        assert listed.schedules[0].runs_done == 2
        assert listed.schedules[0].next_run_at == pytest.approx(clock.now() + 1, abs=1e-3)
        assert listed.schedules[0].last_outcome == "passed"

        cancelled = client.cancel_test_schedule(schedule.schedule_id)
        assert cancelled.status == "cancelled" and not cancelled.running_here
        assert cancelled.next_run_at is None
        assert "runner stopped" in cancelled.message
        after_cancel = _session_runs(schedule.session_id)
        # A runner runs again only when its clock wakes it: none waits on it any more, and ten
        # intervals later nothing more has run.
        assert clock.sleeping == 0
        clock.advance(10)
        assert clock.sleeping == 0
        assert _session_runs(schedule.session_id) == after_cancel
        assert client.cancel_test_schedule(schedule.schedule_id).message.startswith("already")

        # Each suite run was recorded, notified, and its run is a load run of this session.
        suite_runs = ScheduleStore().runs(schedule_id=schedule.schedule_id)
        done = [r for r in suite_runs if r["outcome"] == "passed"]
        assert len(done) == 2 == cancelled.runs_done
        notified = [json.loads(line) for line in lines.read_text().splitlines()]
        assert [n["suite_run"] for n in notified] == [r["seq"] for r in done]
        stored = {run["id"]: run for run in after_cancel}
        for suite_run in done:
            (test,) = suite_run["tests"]
            assert stored[test["run_id"]]["kind"] == "load"
            assert stored[test["run_id"]]["status"] == "completed"

        ended = client.end_test_session(schedule.session_id)
        assert ended.status == "ended" and ended.report is not None
        report = ended.report
        load = [run for run in after_cancel if run["kind"] == "load"]
        assert report.runs == len(after_cancel) and report.by_kind == {"load": len(load)}
        assert report.load is not None and report.load.runs == len(load)
        assert report.load.requests == sum(run["summary"]["requests"] for run in load)
        p95 = [run["summary"]["p95_ms"] for run in load]
        assert report.load.p95_ms is not None
        assert (report.load.p95_ms.min, report.load.p95_ms.max) == (min(p95), max(p95))
        # The report rounds its means to 6 decimals (0.17866666... is reported as 0.178667).
        assert report.load.p95_ms.mean == round(fmean(p95), 6)
        rps = [run["summary"]["achieved_rps"] for run in load]
        assert report.load.achieved_rps is not None
        assert report.load.achieved_rps.mean == round(fmean(rps), 6)
        assert report.verdict == "pass", report.reasons
        # The client's own session is untouched by the schedule and still current.
        assert client.async_client.current_session_id == session.session_id


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_async_schedule_records_failures_goes_on_and_completes(mock: MockServer, database) -> None:
    handler = type("Hook", (_Hook,), {"received": []})
    hook = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    down = f"http://127.0.0.1:{_closed_port()}"

    async def main() -> tuple[Any, Any, Any]:
        async with AsyncMockLoopClient() as client:
            session = await client.create_test_session("with a dead target")
            schedule = await client.schedule_test_suite(
                {"name": "mixed", "tests": [_load_test(down), _load_test(mock.business_url)]},
                {"interval_seconds": 1, "max_runs": 2, "session_id": session.session_id},
                {"webhook_url": f"http://127.0.0.1:{hook.server_port}/hook"},
            )
            assert schedule.next_run_at is not None
            assert schedule.next_run_at == pytest.approx(time.time() + 1, abs=0.5)

            async def ended_schedule() -> Any:
                (listed,) = (await client.list_test_schedules()).schedules
                return listed if listed.status != "active" else None

            final = await wait_for_async(ended_schedule, "the schedule to end", timeout=25)
            ended = await client.end_test_session(session.session_id)
            return schedule, final, ended

    try:
        schedule, final, ended = asyncio.run(main())
    finally:
        hook.shutdown()
    # The dead target failed both times; the schedule went on and stopped at max_runs.
    assert final.status == "completed" and final.runs_done == 2
    assert final.state == "max_runs (2) reached"
    assert final.last_outcome == "failed"
    assert final.last_error is not None and "ServerError" in final.last_error
    assert [r["outcome"] for r in final.recent_runs] == ["failed", "failed"]
    for suite_run in final.recent_runs:
        dead, alive = suite_run["tests"]
        assert dead["run_id"] is None and dead["error"].startswith("ServerError")
        assert alive["status"] == "completed" and alive["error"] is None
    # on="failure" (the default): both failed suite runs were POSTed.
    assert [n["suite_run"] for n in handler.received] == [1, 2]
    assert all(n["outcome"] == "failed" for n in handler.received)
    assert handler.received[0]["session_id"] == schedule.session_id
    # The report counts the two real runs and the two calls that could not produce one.
    report = ended.report
    assert report.by_kind == {"load": 2} and report.verdict == "fail"
    assert [e.suite_run for e in report.schedule_errors] == [1, 2]
    assert "scheduled test call(s) failed" in " ".join(report.reasons)


_OTHER_PROCESS = textwrap.dedent(
    """
    from mockloop import MockLoopClient
    from mockloop.testing.sessions.schedule_store import ScheduleStore
    from tests.waiting import wait_for

    suite = {"name": "elsewhere", "tests": [{"operation": "run_load_test",
             "arguments": {"server_url": "http://127.0.0.1:9", "duration": 1}}]}
    with MockLoopClient() as client:
        first = client.schedule_test_suite(suite, {"interval_seconds": 3600})
        second = client.schedule_test_suite(suite, {"interval_seconds": 3600})
        print(first.schedule_id, second.schedule_id, flush=True)
        store = ScheduleStore()
        wait_for(lambda: store.get(first.schedule_id)["runner_exited_at"] is not None,
                 "the cancelled schedule's runner to exit", timeout=30)
    """
)


def test_schedules_of_another_process_cancel_orphan_and_resume(database) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _OTHER_PROCESS],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ},
    )
    try:
        assert child.stdout is not None
        first, second = child.stdout.readline().split()
        with MockLoopClient() as client:
            listed = {s.schedule_id: s for s in client.list_test_schedules().schedules}
            assert listed[first].status == "active" and not listed[first].running_here
            assert listed[first].state == f"runs in process {child.pid}"
            # Cancelled here, noticed by the other process's runner at its next poll.
            cancelled = client.cancel_test_schedule(first)
            assert cancelled.status == "cancelled"
            assert "runner stopped" in cancelled.message
            assert child.wait(timeout=20) == 0
            orphan = {s.schedule_id: s for s in client.list_test_schedules().schedules}[second]
            assert orphan.status == "orphaned" and not orphan.running_here
            assert f"process {child.pid} is gone" in orphan.state
            assert [s.schedule_id for s in client.list_test_schedules("orphaned").schedules] == [
                second
            ]
            resumed = client.schedule_test_suite({}, {"resume": second})
            assert resumed.status == "active" and resumed.running_here
            assert resumed.next_run_at == orphan.next_run_at  # not due before its time
            with pytest.raises(ConfigError, match=r"schedule_config.resume: .* is active"):
                client.schedule_test_suite({}, {"resume": second})
            stopped = client.cancel_test_schedule(second)
            assert stopped.status == "cancelled" and "runner stopped" in stopped.message
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_test_running_at_cancel_gets_its_grace_then_is_interrupted() -> None:
    """On a manual clock: a cancel from elsewhere (only the store says so) is noticed at the
    runner's next poll; the running test then has CANCEL_GRACE_SECONDS, not a moment less,
    and is interrupted; the suite's next test never starts. No real second is waited."""
    clock = ManualClock()
    store = ScheduleStore()
    suite = TestSuite(
        name="stuck", tests=[SuiteTest(operation="run_load_test"), SuiteTest(operation="x")]
    )
    timing = ScheduleTiming(kind="interval", interval_seconds=60, run_immediately=True)
    row = store.create(
        suite=suite, timing=timing, notification=None, session_id="s1", next_run_at=clock.now()
    )
    calls: list[str] = []

    async def call(operation: str, arguments: dict[str, Any], session_id: str) -> Any:
        calls.append(operation)
        await asyncio.Event().wait()  # a test that never ends by itself

    async def main() -> None:
        runner = ScheduleRunner(
            schedule_id=row["id"],
            suite=suite,
            timing=timing,
            session_id="s1",
            notification=None,
            store=store,
            run_store=TestRunStore(),
            call=call,
            clock=clock,
        )
        task = asyncio.create_task(runner.run())
        await wait_for_async(lambda: calls and clock.sleeping, "the first test to run")
        assert store.finish(row["id"], "cancelled", "cancelled elsewhere")
        clock.advance(POLL_SECONDS)  # the runner's poll of the store is due
        await wait_for_async(lambda: clock.sleeping, "the runner to grant the grace time")
        clock.advance(CANCEL_GRACE_SECONDS - 0.01)
        assert clock.sleeping == 1 and not task.done()  # the grace is not over: nothing woke
        clock.advance(0.01)
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(main())
    assert calls == ["run_load_test"]
    (suite_run,) = store.runs(schedule_id=row["id"])
    assert suite_run["outcome"] == "cancelled"
    (test,) = suite_run["tests"]
    assert test["interrupted"] and test["error"] == "interrupted: the schedule was cancelled"
    final = store.get(row["id"])
    assert final is not None and final["runs_done"] == 0
    assert final["runner_exited_at"] is not None


def test_a_closing_client_leaves_its_schedules_orphaned_and_resumable(database) -> None:
    async def main() -> None:
        async with AsyncMockLoopClient() as client:
            schedule = await client.schedule_test_suite(
                {"name": "later", "tests": [_load_test("http://127.0.0.1:9")]},
                {"interval_seconds": 3600},
            )
            assert await client._stop_schedule_runners() == [schedule.schedule_id]
            (orphan,) = (await client.list_test_schedules("orphaned")).schedules
            assert orphan.schedule_id == schedule.schedule_id and not orphan.running_here
            assert "runner in this process stopped" in orphan.state
            resumed = await client.schedule_test_suite({}, {"resume": schedule.schedule_id})
            assert resumed.running_here and resumed.next_run_at == schedule.next_run_at
            cancelled = await client.cancel_test_schedule(schedule.schedule_id)
            assert "runner stopped" in cancelled.message and cancelled.runs_done == 0

    asyncio.run(main())


# -- timing ---------------------------------------------------------------------------------


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_cron_and_interval_due_times_from_a_fixed_base() -> None:
    base = _at("2026-01-01T10:02:30+00:00")
    timing = parse_schedule_config({"cron": "*/5 * * * *"}, now=base).timing
    assert timing is not None
    assert timing.first_due(base) == _at("2026-01-01T10:05:00+00:00")
    assert timing.next_due(_at("2026-01-01T10:05:00+00:00"), _at("2026-01-01T10:05:02+00:00")) == (
        _at("2026-01-01T10:10:00+00:00")
    )
    # A run that overran its slot: the next one is the next cron time after it ended.
    assert timing.next_due(_at("2026-01-01T10:05:00+00:00"), _at("2026-01-01T10:11:00+00:00")) == (
        _at("2026-01-01T10:15:00+00:00")
    )
    paris = parse_schedule_config({"cron": "0 9 * * *", "timezone": "Europe/Paris"}, now=base)
    assert paris.timing is not None
    assert paris.timing.first_due(base) == _at("2026-01-02T08:00:00+00:00")
    bounded = parse_schedule_config(
        {"cron": "*/5 * * * *", "end_at": "2026-01-01T10:07:00Z", "run_immediately": True},
        now=base,
    ).timing
    assert bounded is not None
    assert bounded.first_due(base) == base
    assert bounded.next_due(base, base + 1) == _at("2026-01-01T10:05:00+00:00")
    assert bounded.next_due(_at("2026-01-01T10:05:00+00:00"), base + 200) is None
    interval = parse_schedule_config({"interval_seconds": 10}, now=base).timing
    assert interval is not None
    assert interval.first_due(base) == base + 10
    assert interval.next_due(base + 10, base + 11) == base + 20
    assert interval.next_due(base + 10, base + 35) == base + 40  # missed slots are skipped
    started = parse_schedule_config({"interval_seconds": 10, "start_at": base + 60}, now=base)
    assert started.timing is not None and started.timing.first_due(base) == base + 60


def test_a_cron_schedule_reports_its_next_run_and_is_cancelled(mock: MockServer, database) -> None:
    with MockLoopClient() as client:
        session = client.create_test_session("hourly checks")
        before = time.time()
        schedule = client.schedule_test_suite(
            {"name": "hourly", "tests": [_load_test(mock.business_url)]},
            {"cron": "0 * * * *", "session_id": session.session_id},
        )
        assert schedule.schedule == "cron 0 * * * * (UTC)"
        assert schedule.session_id == session.session_id
        expected = (int(before) // 3600 + 1) * 3600
        assert schedule.next_run_at == expected
        assert schedule.next_run_at_iso == datetime.fromtimestamp(expected, UTC).isoformat()
        # Ending the session cancels the schedules feeding it.
        ended = client.end_test_session(session.session_id)
        assert f"cancelled schedule(s) {schedule.schedule_id}" in ended.message
        (cancelled,) = client.list_test_schedules("cancelled").schedules
        assert cancelled.state == "its session ended" and cancelled.runs_done == 0
        assert cancelled.next_run_at is None


# -- sessions and their report --------------------------------------------------------------


def _seed(session_id: str, run_id: str, kind: str, status: str, summary: dict[str, Any]) -> None:
    started = time.time()
    TestRunStore().save(
        run_id=run_id,
        kind=kind,  # type: ignore[arg-type]
        status=status,
        server_url="http://127.0.0.1:1",
        started_at=started,
        finished_at=started + 0.5,
        summary=summary,
        session_id=session_id,
    )


def test_session_lifecycle_and_a_report_computed_from_the_stored_runs(database) -> None:
    with MockLoopClient() as client:
        first = client.create_test_session("first", session_config={"env": "ci"})
        assert first["session_id"] == first.session_id and first.current
        second = client.create_test_session("second", test_plan={"name": "checkout", "steps": []})
        assert client.async_client.current_session_id == second.session_id
        empty = client.get_test_session(first.session_id)
        assert empty.report is not None and empty.report.verdict == "inconclusive"
        sid = second.session_id
        plans = [
            {"total": 10, "passed": 10, "failed": 0, "errors": 0, "skipped": 0, "pass_rate": 1.0},
            {"total": 8, "passed": 5, "failed": 2, "errors": 1, "skipped": 0, "pass_rate": 0.625},
        ]
        _seed(sid, "plan-1", "test_plan", "passed", plans[0])
        _seed(sid, "plan-2", "test_plan", "failed", plans[1])
        _seed(sid, "sec-1", "security", "completed", {"critical": 0, "high": 1, "medium": 2})
        loads = [
            {"requests": 100, "achieved_rps": 50.0, "error_rate": 0.0, "p95_ms": 12.0},
            {"requests": 300, "achieved_rps": 150.0, "error_rate": 0.02, "p95_ms": 30.0},
        ]
        _seed(sid, "load-1", "load", "completed", {**loads[0], "passed": True})
        _seed(sid, "load-2", "load", "completed", {**loads[1], "passed": False})
        live = client.get_test_session(sid)
        assert live.run_count == 5 and live.runs is not None
        assert [r["id"] for r in live.runs] == ["plan-1", "plan-2", "sec-1", "load-1", "load-2"]
        ended = client.end_test_session(sid)
        assert client.async_client.current_session_id is None
        report = ended.report
        assert report is not None and ended.status == "ended"
        assert report.by_kind == {"load": 2, "security": 1, "test_plan": 2}
        assert report.by_kind_status["test_plan"] == {"failed": 1, "passed": 1}
        plans_fig = report.test_plans
        assert plans_fig is not None
        assert (plans_fig.total, plans_fig.passed, plans_fig.failed) == (18, 15, 2)
        assert plans_fig.pass_rate == round(15 / 18, 6)
        assert plans_fig.pass_rates is not None and plans_fig.pass_rates.min == 0.625
        assert report.load is not None and report.load.requests == 400
        assert report.load.error_rate is not None and report.load.error_rate.max == 0.02
        assert report.load.p95_ms is not None and report.load.p95_ms.mean == 21.0
        assert report.load.thresholds_failed == 1
        assert report.security is not None
        assert report.security.findings_by_severity == {"high": 1, "medium": 2}
        assert report.verdict == "fail"
        assert {f.run_id for f in report.failing_runs} == {"plan-2", "sec-1", "load-2"}
        reasons = " ".join(report.reasons)
        assert "2 failed test(s)" in reasons and "1 high finding(s)" in reasons
        assert "missed its thresholds" in reasons
        # Ending again is no error: the stored report comes back unchanged.
        again = client.end_test_session(sid)
        assert again.message.startswith("was already ended")
        assert again.report == report
        assert [s.session_id for s in client.list_test_sessions(status="ended").sessions] == [sid]
        listed = client.list_test_sessions()
        assert [s.session_id for s in listed.sessions] == [sid, first.session_id]
        assert listed.sessions[0].run_count == 5
        assert listed.current_session_id is None


def test_warnings_and_a_pass_verdict_follow_from_the_runs(database) -> None:
    with MockLoopClient() as client:
        sid = client.create_test_session("warned").session_id
        _seed(sid, "load-a", "load", "completed", {"requests": 10, "error_rate": 0.1})
        report = client.get_test_session(sid).report
        assert report is not None and report.verdict == "warn"
        assert "error rate 10.00%" in report.reasons[0]
        ok = client.create_test_session("fine").session_id
        _seed(ok, "plan-ok", "test_plan", "passed", {"total": 3, "passed": 3, "failed": 0})
        passed = client.end_test_session(ok, generate_final_report=True).report
        assert passed is not None and passed.verdict == "pass"
        bare = client.create_test_session("no report").session_id
        assert client.end_test_session(bare, generate_final_report=False).report is None


def test_background_load_runs_are_read_in_their_latest_state() -> None:
    runs = [
        {"id": "load-x", "kind": "load", "status": "running", "summary": {}, "started_at": 1.0},
        {"id": "plan-y", "kind": "test_plan", "status": "passed", "summary": {}, "started_at": 2},
    ]
    latest = {
        "load-x": {
            "status": "completed",
            "pid": os.getpid(),
            "finished_at": 3.0,
            "result": {
                "total_requests": 42,
                "achieved_rps": 21.0,
                "error_rate": 0.0,
                "latency": {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0},
                "passed": None,
            },
        }
    }
    refreshed = refresh_load_runs(runs, latest.get)
    assert refreshed[0]["status"] == "completed" and refreshed[0]["summary"]["requests"] == 42
    assert refreshed[0]["summary"]["p95_ms"] == 2.0 and refreshed[1] is runs[1]
    gone = {"load-x": {**latest["load-x"], "status": "running", "pid": 2**22 + 12345}}
    assert refresh_load_runs(runs, gone.get)[0]["status"] == "interrupted"


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suite", "config", "notification", "message"),
    [
        (
            {"name": "s", "tests": [{"operation": "run_load_test", "arguments": {}}]},
            {"interval_seconds": 5},
            None,
            r"test_suite.tests\[0\].arguments.server_url: Field required",
        ),
        (
            {"name": "s", "tests": ["ok", {"operation": "deploy_scenario"}]},
            {"interval_seconds": 5},
            None,
            r"test_suite.tests\[0\]: must be an object",
        ),
        (
            {"name": "s", "tests": [{"operation": "stop_mock_server", "arguments": {}}]},
            {"interval_seconds": 5},
            None,
            r"test_suite.tests\[0\].operation: 'stop_mock_server' is not a testing operation",
        ),
        (
            {
                "name": "s",
                "tests": [
                    {"operation": "run_load_test", "arguments": {"server_url": "http://x"}},
                    {"operation": "run_load_test", "arguments": {"duration": "long"}},
                ],
            },
            {"interval_seconds": 5},
            None,
            r"test_suite.tests\[1\].arguments.server_url: Field required",
        ),
        (
            {"name": "s", "tests": [{"operation": "run_load_test", "arguments": {"x": 1}}]},
            {"interval_seconds": 5},
            None,
            r"arguments.server_url: Field required; .*arguments.x: Extra inputs",
        ),
        ({"name": "", "tests": []}, {"interval_seconds": 5}, None, r"test_suite.name"),
        ({"name": "s", "tests": []}, {"interval_seconds": 5}, None, r"test_suite.tests:"),
        (None, {"interval_seconds": 0.5}, None, r"schedule_config.interval_seconds: 0.5 is below"),
        (None, {"interval_seconds": "5"}, None, r"schedule_config.interval_seconds"),
        (None, {"cron": "*/5 * * *"}, None, r"schedule_config.cron: .*5, 6 or 7 columns"),
        (None, {"cron": "61 * * * *"}, None, r"schedule_config.cron: .*out of range"),
        (None, {"cron": "* * * * *", "interval_seconds": 5}, None, r"exactly one of"),
        (None, {}, None, r"exactly one of"),
        (None, {"every": 5}, None, r"schedule_config.every: unknown field"),
        (None, {"cron": "* * * * *", "timezone": "Mars/Base"}, None, r"schedule_config.timez"),
        (None, {"interval_seconds": 5, "max_runs": 0}, None, r"schedule_config.max_runs"),
        (None, {"interval_seconds": 5, "end_at": 1.0}, None, r"schedule_config.end_at: is in"),
        (None, {"interval_seconds": 5, "start_at": "tomorrow"}, None, r"schedule_config.start_at"),
        (None, {"interval_seconds": 5, "session_id": "nope"}, None, r"schedule_config.session_id"),
        (None, {"resume": "nope"}, None, r"schedule_config.resume: no schedule 'nope'"),
        (None, {"interval_seconds": 5}, {"webhook_url": "ftp://x"}, r"notification_config.webh"),
        (None, {"interval_seconds": 5}, {"file": "x", "on": "never"}, r"notification_config.on"),
        (None, {"interval_seconds": 5}, {}, r"notification_config: give webhook_url"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(
    suite: Any, config: Any, notification: Any, message: str
) -> None:
    suite = suite or {"name": "s", "tests": [_load_test("http://127.0.0.1:9")]}
    with MockLoopClient() as client:
        with pytest.raises(ConfigError, match=message):
            client.schedule_test_suite(suite, config, notification)
        # Nothing is left behind by a refused schedule.
        assert client.list_test_sessions().count == 0
        assert client.list_test_schedules().count == 0


def test_bad_session_input_is_refused_naming_the_field(database) -> None:
    with MockLoopClient() as client:
        with pytest.raises(ConfigError, match="session_name"):
            client.create_test_session("  ")
        with pytest.raises(ConfigError, match="session_config"):
            client.create_test_session("s", session_config=[1])  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="session_id: no test session 'nope'"):
            client.end_test_session("nope")
        with pytest.raises(ConfigError, match="session_id: no test session"):
            client.get_test_session("nope")
        with pytest.raises(ConfigError, match="schedule_id: no schedule 'nope'"):
            client.cancel_test_schedule("nope")
        with pytest.raises(ConfigError, match="status"):
            client.list_test_schedules(status="running")  # type: ignore[arg-type]
        ended = client.create_test_session("done").session_id
        client.end_test_session(ended)
        with pytest.raises(ConfigError, match=r"schedule_config.session_id: .* is ended"):
            client.schedule_test_suite(
                {"name": "s", "tests": [_load_test("http://127.0.0.1:9")]},
                {"interval_seconds": 5, "session_id": ended},
            )


# -- following a test session, and schedules judged like analyze_test_results --------------


class _Failing(BaseHTTPRequestHandler):
    """Answers every request 500: a target whose every load request fails."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(500)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"down")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_monitor_test_progress_follows_a_test_session(mock: MockServer) -> None:
    with MockLoopClient() as client:
        session = client.create_test_session("followed")
        sid = session.session_id
        empty = client.monitor_test_progress(session_id=sid)
        assert empty.followed == "test_session" and empty.run_id == sid
        assert empty.status == "active" and empty.runs == [] and "no run yet" in empty.message
        done = client.run_load_test(mock.business_url, duration=0.3, concurrent_users=1)
        _seed(sid, "plan-bad", "test_plan", "failed", {"total": 2, "passed": 1, "failed": 1})
        progress = client.monitor_test_progress(session_id=sid)
        assert progress.followed == "test_session" and progress.session_name == "followed"
        assert [r.run_id for r in progress.runs] == [done.run_id, "plan-bad"]
        load, plan = progress.runs
        assert load.kind == "load" and load.status == "completed"
        assert load.requests == done.total_requests and done.total_requests > 0
        assert plan.verdict == "fail" and "1 failed test(s)" in plan.failures
        assert (progress.running_runs, progress.finished_runs) == (0, 2)
        assert progress.requests == done.total_requests
        assert "0 run(s) running, 2 finished" in progress.message
        # A load run id still reports that run, under either name.
        by_run = client.monitor_test_progress(session_id=done.run_id)
        assert by_run.followed == "load_run" and by_run.run_id == done.run_id
        assert by_run.result is not None and by_run.status == "completed"
        ended = client.end_test_session(sid)
        assert client.monitor_test_progress(session_id=sid).status == ended.status == "ended"
        with pytest.raises(ConfigError, match="no load run or test session with id 'nope'"):
            client.monitor_test_progress(session_id="nope")
        with pytest.raises(ConfigError, match="follow a test session with session_id"):
            client.monitor_test_progress(run_id=sid)


def test_a_background_load_run_shows_running_then_finished_in_its_session(
    mock: MockServer,
) -> None:
    with MockLoopClient() as client:
        sid = client.create_test_session("live").session_id
        started = client.run_load_test(
            mock.business_url, duration=1.5, concurrent_users=1, background=True
        )
        progress = client.monitor_test_progress(session_id=sid)
        (run,) = progress.runs
        assert run.run_id == started.run_id and run.verdict == "running"
        assert progress.running_runs == 1 and progress.remaining_s > 0

        def finished() -> Any:
            now = client.monitor_test_progress(session_id=sid)
            return now if now.running_runs == 0 else None

        final = wait_for(finished, "the background run to finish", timeout=30)
        (run,) = final.runs
        assert run.status == "completed" and run.verdict != "running"
        assert final.requests == run.requests and run.requests


def test_a_scheduled_load_run_with_every_request_failing_fails_its_suite_run(
    failing_url: str, clock: ManualClock
) -> None:
    with MockLoopClient() as client:
        schedule = client.schedule_test_suite(
            test_suite={"name": "broken", "tests": [_load_test(failing_url)]},
            schedule_config={"interval_seconds": 1, "run_immediately": True},
        )
        _run_next(clock, schedule.schedule_id, 0)
        client.cancel_test_schedule(schedule.schedule_id)
        (suite_run,) = ScheduleStore().runs(schedule_id=schedule.schedule_id)
        (test,) = suite_run["tests"]
        stored = TestRunStore().get(test["run_id"])
        assert stored is not None and stored["summary"]["error_rate"] == 1.0
        assert stored["summary"]["passed"] is None  # no thresholds of its own
        assert suite_run["outcome"] == "failed"
        assert test["failures"] == ["slo error_rate <= 0.05 failed (actual 1.0)"]
        # What analyze_test_results says of the same run with the same SLO.
        analysis = client.analyze_test_results(run_ids=[test["run_id"]], slo={"error_rate": 0.05})
        assert analysis.verdict == "fail"


def test_a_scheduled_load_run_is_held_to_its_own_error_rate_threshold(
    failing_url: str, clock: ManualClock
) -> None:
    test = _load_test(failing_url)
    test["arguments"]["thresholds"] = {"error_rate": 1.0}
    with MockLoopClient() as client:
        schedule = client.schedule_test_suite(
            test_suite={"name": "tolerant", "tests": [test]},
            schedule_config={"interval_seconds": 1, "run_immediately": True},
        )
        _run_next(clock, schedule.schedule_id, 0)
        client.cancel_test_schedule(schedule.schedule_id)
    (suite_run,) = ScheduleStore().runs(schedule_id=schedule.schedule_id)
    assert suite_run["outcome"] == "passed" and suite_run["tests"][0]["failures"] == []
