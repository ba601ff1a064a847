"""Test sessions that group runs, and schedules that run test suites in the background."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_jsonable_python

from mockloop.errors import ConfigError
from mockloop.load.session import pid_alive
from mockloop.operation import catalog_of, operation
from mockloop.operations.base import OperationsBase
from mockloop.operations.parameters.typed import (
    NotificationConfigJson,
    ScheduleConfigJson,
    TestPlanJson,
    TestSuiteJson,
)
from mockloop.testing.sessions.report import (
    RUNNING_STATUSES,
    ScheduleError,
    SessionReport,
    build_session_report,
    refresh_load_runs,
    run_problems,
)
from mockloop.testing.sessions.schedule_store import PROCESS, schedule_state
from mockloop.testing.sessions.scheduler import (
    CANCEL_GRACE_SECONDS,
    POLL_SECONDS,
    Scheduler,
    ScheduleRunner,
    TestCall,
)
from mockloop.testing.sessions.schedules import (
    NotificationConfig,
    ScheduleListStatus,
    ScheduleTiming,
    TestSchedule,
    TestScheduleList,
    TestSuite,
    parse_notification_config,
    parse_schedule_config,
    parse_test_suite,
)
from mockloop.testing.sessions.store import (
    RUNS_SHOWN,
    SessionListStatus,
    TestSession,
    TestSessionList,
)

__all__ = ["TestSessionOperations"]

_ALL_RUNS = 10_000_000
#: The error rate a scheduled load run may reach when its own thresholds set no error_rate.
SCHEDULED_ERROR_RATE = 0.05


def judge_scheduled_run(stored: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(why a scheduled run failed, its warnings): `run_problems`, and for a finished load
    run the checks analyze_test_results runs: the run's own thresholds and the SLO
    error_rate <= SCHEDULED_ERROR_RATE (unless its thresholds set an error_rate)."""
    from mockloop.testing.analysis import analyze_runs
    from mockloop.testing.inputs import RunRecord

    failures, warnings = run_problems(stored)
    result = stored.get("result")
    if stored.get("kind") != "load" or stored.get("status") in RUNNING_STATUSES:
        return failures, warnings
    if not isinstance(result, dict):
        return failures, warnings
    own = {verdict.get("metric") for verdict in result.get("thresholds") or []}
    slo = {} if "error_rate" in own else {"error_rate": SCHEDULED_ERROR_RATE}
    record = RunRecord(
        kind="load",
        run_id=str(stored["id"]),
        result=result,
        server_url=str(stored.get("server_url") or ""),
        status=str(stored.get("status") or ""),
    )
    analysis = analyze_runs([record], "performance", include_recommendations=False, slo=slo)
    failed = [
        f"{check.source} {check.metric} "
        f"{'>=' if check.metric == 'min_rps' else '<='} {check.limit:g} failed "
        f"(actual {check.actual})"
        for check in analysis.checks
        if not check.passed
    ]
    # The checks name each missed threshold; the error rate is judged, not just noted.
    failures = [f for f in failures if f != "missed its thresholds"] + failed
    warnings = [w for w in warnings if not w.startswith("error rate ")]
    return failures, warnings


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat() if moment is not None else None


def _jsonable(value: Any, what: str) -> Any:
    try:
        return to_jsonable_python(value)
    except Exception as exc:  # pydantic raises several kinds for what it cannot serialise
        raise ConfigError(f"{what}: cannot be stored as JSON ({exc})") from None


class TestSessionOperations(OperationsBase):
    """Test sessions that group runs, and schedules that run test suites in the background."""

    async def _session_row(self, session_id: str, what: str = "session_id") -> dict[str, Any]:
        if not isinstance(session_id, str) or not session_id:
            raise ConfigError(f"{what}: give the id create_test_session returned")
        row = await self._in_thread(self.services.stores.sessions.get, session_id)
        if row is None:
            raise ConfigError(
                f"{what}: no test session {session_id!r}; list_test_sessions() shows them"
            )
        return row

    def _session_result(self, row: dict[str, Any], **extra: Any) -> TestSession:
        return TestSession(
            session_id=row["id"],
            name=row["name"],
            status=row["status"],
            test_plan=row["test_plan"],
            config=row["config"],
            created_at=row["created_at"],
            ended_at=row["ended_at"],
            created_by=row["created_by"],
            current=row["id"] == self.current_session_id,
            **extra,
        )

    async def _report(self, row: dict[str, Any]) -> tuple[SessionReport, list[dict[str, Any]]]:
        """The session's report from its stored runs (background load runs refreshed)."""
        stores = self.services.stores
        runs = await self._in_thread(stores.test_runs.list, session_id=row["id"], limit=_ALL_RUNS)
        runs = await self._in_thread(refresh_load_runs, runs, stores.load_runs.get)
        suite_runs = await self._in_thread(
            self.services.stores.schedules.runs, session_id=row["id"]
        )
        errors = [
            ScheduleError(
                schedule_id=suite_run["schedule_id"],
                suite_run=suite_run["seq"],
                operation=test["operation"],
                started_at=suite_run["started_at"],
                error=test["error"],
            )
            for suite_run in suite_runs
            for test in suite_run["tests"]
            if test.get("error") and not test.get("run_id") and not test.get("interrupted")
        ]
        return build_session_report(row, runs, errors), runs

    # -- sessions ---------------------------------------------------------------------------

    @operation(group="sessions")
    async def create_test_session(
        self,
        session_name: str,
        test_plan: str | TestPlanJson | None = None,
        session_config: dict[str, Any] | None = None,
    ) -> TestSession:
        """Open a test session that groups the testing runs made while it is open.

        The new session becomes this client's current session: every later run of
        execute_test_plan, run_test_iteration, run_security_test and run_load_test made by
        this client lands in it unless the call names another session_id (opening a second
        session makes the new one current). end_test_session ends it with a final report
        computed from its runs. Sessions are stored in MOCKLOOP_HOME/sessions.db.

        Args:
            session_name: a name for the session, e.g. "checkout_regression".
            test_plan: the plan (or the name of the plan) the session is about, kept with it.
            session_config: free-form settings to keep with the session, e.g.
                {"environment": "staging", "build": "1.4.2"} (JSON).
        """
        if not isinstance(session_name, str) or not session_name.strip():
            raise ConfigError("session_name: give a non-empty name, e.g. 'checkout_regression'")
        if session_config is not None and not isinstance(session_config, dict):
            raise ConfigError("session_config: give an object of settings, or leave it out")
        plan = _jsonable(test_plan, "test_plan")
        config = _jsonable(session_config or {}, "session_config")
        row = await self._in_thread(
            self.services.stores.sessions.create,
            name=session_name.strip(),
            test_plan=plan,
            config=config,
        )
        self.current_session_id = row["id"]
        return self._session_result(
            row,
            run_count=0,
            message="open; runs of this client land in it until end_test_session",
        )

    @operation(group="sessions")
    async def end_test_session(
        self, session_id: str, generate_final_report: bool = True
    ) -> TestSession:
        """End a test session and compute its final report from the runs stored in it.

        The report counts runs by kind and status, adds up test plan and iteration results
        (pass rates), gives load figures across runs (requests per second, p95 latency and
        error rate as min/mean/max), security findings by severity and the failing runs with
        their reasons, and a verdict (pass, warn, fail, inconclusive) with what decided it.
        Schedules whose runs land in the session are cancelled. Ending a session that is
        already ended changes nothing and returns it with its stored report.

        Args:
            session_id: the id create_test_session returned.
            generate_final_report: compute and store the final report (False: just end it).
        """
        row = await self._session_row(session_id)
        if row["status"] == "ended":
            report = SessionReport.model_validate(row["report"]) if row["report"] else None
            return self._session_result(
                row,
                report=report,
                message=f"was already ended at {_iso(row['ended_at'])}; nothing changed",
            )
        stopped = await self._cancel_feeding_schedules(row["id"])
        report, runs = await self._report(row) if generate_final_report else (None, None)
        dumped = report.model_dump(mode="json") if report is not None else None
        ended_now = await self._in_thread(self.services.stores.sessions.end, row["id"], dumped)
        if self.current_session_id == row["id"]:
            self.current_session_id = None
        ended = await self._session_row(row["id"])
        count = len(runs) if runs is not None else None
        message = "ended" + (f"; cancelled schedule(s) {', '.join(stopped)}" if stopped else "")
        if not ended_now:
            message = "was ended meanwhile by another call; its stored report is shown"
        stored = SessionReport.model_validate(ended["report"]) if ended["report"] else None
        return self._session_result(ended, report=stored, run_count=count, message=message)

    async def _cancel_feeding_schedules(self, session_id: str) -> list[str]:
        store = self.services.stores.schedules
        stopped = []
        for schedule in await self._in_thread(store.list, session_id=session_id):
            if schedule["status"] != "active":
                continue
            await self._in_thread(store.finish, schedule["id"], "cancelled", "its session ended")
            await self._await_runner(schedule)
            stopped.append(schedule["id"])
        return stopped

    @operation(group="sessions", read_only=True)
    async def get_test_session(self, session_id: str) -> TestSession:
        """Show a test session: its settings, its latest runs and a live report of them.

        Read-only. For an active session the report is computed now from the runs stored so
        far; for an ended one the final report stored when it ended is shown.

        Args:
            session_id: the id create_test_session (or schedule_test_suite) returned.
        """
        row = await self._session_row(session_id)
        live, runs = await self._report(row)
        report = live
        if row["status"] == "ended" and row["report"]:
            report = SessionReport.model_validate(row["report"])
        schedules = await self._in_thread(self.services.stores.schedules.list, session_id=row["id"])
        shown = [{k: v for k, v in run.items() if k != "result"} for run in runs[-RUNS_SHOWN:]]
        return self._session_result(
            row,
            run_count=len(runs),
            runs=shown,
            schedules=[s["id"] for s in schedules],
            report=report,
            message=f"verdict so far: {live.verdict}" if row["status"] == "active" else "",
        )

    @operation(group="sessions", read_only=True)
    async def list_test_sessions(
        self, status: SessionListStatus | None = None, limit: int = 50
    ) -> TestSessionList:
        """List stored test sessions, newest first, with their run counts and verdicts.

        Args:
            status: only "active" or only "ended" sessions; None: both.
            limit: the most sessions to list (1 to 1000).
        """
        if status not in (None, "active", "ended"):
            raise ConfigError(f"status: {status!r}; use 'active', 'ended' or leave it out")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ConfigError("limit: give a whole number from 1 to 1000")
        rows = await self._in_thread(self.services.stores.sessions.list, status=status, limit=limit)
        runs = self.services.stores.test_runs
        sessions = []
        for row in rows:
            stored = await self._in_thread(runs.list, session_id=row["id"], limit=_ALL_RUNS)
            report = SessionReport.model_validate(row["report"]) if row["report"] else None
            sessions.append(self._session_result(row, run_count=len(stored), report=report))
        return TestSessionList(
            sessions=sessions, count=len(sessions), current_session_id=self.current_session_id
        )

    # -- schedules --------------------------------------------------------------------------

    def _test_call(self) -> TestCall:
        """Each scheduled test calls the client's own operation (audited, stored)."""

        async def call(name: str, arguments: dict[str, Any], session_id: str) -> Any:
            checked = catalog_of(type(self))[name].validate_arguments(arguments)
            return await getattr(self, name)(**checked, session_id=session_id)

        return call

    def _start_runner(
        self,
        row: dict[str, Any],
        suite: TestSuite,
        timing: ScheduleTiming,
        notification: NotificationConfig | None,
    ) -> None:
        Scheduler.start(
            ScheduleRunner(
                schedule_id=row["id"],
                suite=suite,
                timing=timing,
                session_id=row["session_id"],
                notification=notification,
                store=self.services.stores.schedules,
                run_store=self.services.stores.test_runs,
                call=self._test_call(),
                owner=self,
                judge=judge_scheduled_run,
            )
        )

    async def _stop_schedule_runners(self) -> list[str]:
        """Stop the schedules this client runs, for `aclose`: they stay active in the store
        and show as orphaned (resumable) rather than dying with the event loop."""
        return await Scheduler.abandon(self)

    async def _describe(self, row: dict[str, Any], message: str = "") -> TestSchedule:
        status, here, note = schedule_state(row, Scheduler.is_running(row["id"]))
        timing = ScheduleTiming.model_validate(row["timing"])
        suite_runs = await self._in_thread(
            self.services.stores.schedules.runs, schedule_id=row["id"]
        )
        last = row["last_outcome"] or {}
        return TestSchedule(
            schedule_id=row["id"],
            name=row["name"],
            status=status,
            state=note,
            running_here=here,
            schedule=timing.describe(),
            timing=row["timing"],
            tests=[test["operation"] for test in row["suite"]["tests"]],
            session_id=row["session_id"],
            next_run_at=row["next_run_at"],
            next_run_at_iso=_iso(row["next_run_at"]),
            runs_done=row["runs_done"],
            last_run_at=row["last_run_at"],
            last_outcome=last.get("outcome"),
            last_error=row["last_error"],
            recent_runs=suite_runs[-5:],
            notification=row["notification"],
            notification_errors=row["notification_errors"],
            owner_pid=row["owner_pid"],
            created_at=row["created_at"],
            message=message,
        )

    async def _schedule_row(self, schedule_id: str, what: str = "schedule_id") -> dict[str, Any]:
        if not isinstance(schedule_id, str) or not schedule_id:
            raise ConfigError(f"{what}: give the id schedule_test_suite returned")
        row = await self._in_thread(self.services.stores.schedules.get, schedule_id)
        if row is None:
            raise ConfigError(
                f"{what}: no schedule {schedule_id!r}; list_test_schedules() shows them"
            )
        return row

    @operation(group="sessions")
    async def schedule_test_suite(
        self,
        test_suite: TestSuiteJson,
        schedule_config: ScheduleConfigJson,
        notification_config: NotificationConfigJson | None = None,
    ) -> TestSchedule:
        """Run a test suite on a schedule (every N seconds or by cron) in the background.

        The schedule runs in this process, as long as it lives (the MCP server, or a script
        using MockLoopClient); it is stored in MOCKLOOP_HOME/sessions.db, so any process can
        list or cancel it. Each suite run calls the tests in order through this client's
        operations; their runs land in the schedule's session. A failing test (a target
        down) is recorded on the schedule and the schedule goes on. Runs never overlap: a
        slot missed while a suite run lasts is skipped. A suite run fails when a test fails
        the checks analyze_test_results runs: a load run its thresholds, and error_rate <=
        0.05 unless its thresholds set an error_rate; a plan failed steps; a security test
        critical or high findings.

        Args:
            test_suite: {"name": "smoke", "tests": [{"operation": "run_load_test",
                "arguments": {"server_url": "http://127.0.0.1:8000", "duration": 5}}, ...]};
                operations: execute_test_plan, run_test_iteration, run_load_test,
                run_security_test, with their own arguments (session_id comes from the
                schedule). With schedule_config.resume pass {} to keep the stored suite.
            schedule_config: {"interval_seconds": 60} (1 or more) or {"cron": "*/5 * * * *"}
                (read in "timezone", default UTC), plus optional "start_at" and "end_at"
                (epoch seconds or ISO 8601), "max_runs", "run_immediately" (true: first run
                now), "session_id" (the session runs land in; default a new session named
                after the suite). {"resume": schedule_id} restarts an orphaned schedule here.
            notification_config: after each suite run, {"webhook_url": URL} gets a POST of
                its JSON summary and/or {"file": path} gets it appended as a JSON line; "on":
                "failure" (default) or "always". Delivery errors are recorded, never fatal.
        """
        request = parse_schedule_config(schedule_config)
        notification = parse_notification_config(notification_config)
        if request.resume is not None:
            return await self._resume(request.resume, test_suite, notification)
        assert request.timing is not None
        suite = parse_test_suite(test_suite, catalog_of(type(self)))
        timing = request.timing
        sessions = self.services.stores.sessions
        if request.session_id is not None:
            session = await self._session_row(request.session_id, "schedule_config.session_id")
            if session["status"] != "active":
                raise ConfigError(
                    f"schedule_config.session_id: session {request.session_id!r} is ended; "
                    "give an active session or leave it out for a new one"
                )
        else:
            session = await self._in_thread(
                sessions.create,
                name=suite.name,
                test_plan=suite.name,
                config={"schedule": timing.describe()},
                created_by="schedule_test_suite",
            )
        row = await self._in_thread(
            self.services.stores.schedules.create,
            suite=suite,
            timing=timing,
            notification=notification,
            session_id=session["id"],
            next_run_at=timing.first_due(time.time()),
        )
        self._start_runner(row, suite, timing, notification)
        return await self._describe(row, f"scheduled; runs land in session {session['id']}")

    async def _resume(
        self, schedule_id: str, test_suite: Any, notification: NotificationConfig | None
    ) -> TestSchedule:
        row = await self._schedule_row(schedule_id, "schedule_config.resume")
        status, _, note = schedule_state(row, Scheduler.is_running(schedule_id))
        if status != "orphaned":
            raise ConfigError(
                f"schedule_config.resume: schedule {schedule_id!r} is {status} ({note}); only "
                "an orphaned schedule can be resumed"
            )
        session = await self._session_row(row["session_id"])
        if session["status"] != "active":
            raise ConfigError(
                f"schedule_config.resume: its session {row['session_id']!r} is ended; "
                "schedule the suite anew"
            )
        suite = (
            parse_test_suite(test_suite, catalog_of(type(self)))
            if test_suite
            else TestSuite.model_validate(row["suite"])
        )
        if notification is None and row["notification"]:
            notification = NotificationConfig.model_validate(row["notification"])
        timing = ScheduleTiming.model_validate(row["timing"])
        due = max(time.time(), row["next_run_at"] or 0.0)
        await self._in_thread(
            self.services.stores.schedules.claim,
            schedule_id,
            next_run_at=due,
            suite=suite,
            notification=notification,
        )
        row = await self._schedule_row(schedule_id)
        self._start_runner(row, suite, timing, notification)
        return await self._describe(row, "resumed in this process")

    @operation(group="sessions", read_only=True)
    async def list_test_schedules(
        self, status: ScheduleListStatus | None = None
    ) -> TestScheduleList:
        """List schedules, newest first: timing, next run, runs done, last outcome, who runs it.

        A schedule lives in the process that created it; one still marked active whose
        process is gone (or whose client was closed) shows as "orphaned", with the reason.

        Args:
            status: only schedules in this state: active, orphaned, cancelled, completed or
                failed; None: all.
        """
        states = ("active", "orphaned", "cancelled", "completed", "failed")
        if status is not None and status not in states:
            raise ConfigError(f"status: {status!r}; use one of {', '.join(states)}")
        rows = await self._in_thread(self.services.stores.schedules.list)
        described = [await self._describe(row) for row in rows]
        chosen = [s for s in described if status is None or s.status == status]
        return TestScheduleList(schedules=chosen, count=len(chosen))

    @operation(group="sessions", destructive=True)
    async def cancel_test_schedule(self, schedule_id: str) -> TestSchedule:
        """Cancel a schedule: no further suite run starts, from whichever process runs it.

        A test in progress gets a few seconds to finish (its run is kept), then it is
        interrupted. Cancelling a schedule that already ended changes nothing.

        Args:
            schedule_id: the id schedule_test_suite returned.
        """
        row = await self._schedule_row(schedule_id)
        if row["status"] != "active":
            return await self._describe(row, f"already {row['status']}; nothing to cancel")
        store = self.services.stores.schedules
        if not await self._in_thread(store.finish, schedule_id, "cancelled", "cancelled"):
            row = await self._schedule_row(schedule_id)
            return await self._describe(row, f"already {row['status']}; nothing to cancel")
        stopped = await self._await_runner(row)
        row = await self._schedule_row(schedule_id)
        message = {
            True: f"cancelled; its runner stopped after {row['runs_done']} suite run(s)",
            False: "cancelled; its runner had not stopped yet (it stops at its next check)",
            None: "cancelled; no process was running it",
        }[stopped]
        return await self._describe(row, message)

    async def _await_runner(self, row: dict[str, Any]) -> bool | None:
        """Stop the runner of a schedule just marked ended: True when it stopped, None when
        nothing ran it, False when it had not stopped within the grace time."""
        if Scheduler.is_running(row["id"]):
            return await Scheduler.stop(row["id"])
        owner_here = row["owner_host"] == PROCESS.host
        if row["owner_token"] == PROCESS.token or not owner_here or not pid_alive(row["owner_pid"]):
            return None
        deadline = time.monotonic() + CANCEL_GRACE_SECONDS + 4 * POLL_SECONDS
        store = self.services.stores.schedules
        while time.monotonic() < deadline:
            current = await self._in_thread(store.get, row["id"])
            if current is None or current["runner_exited_at"] is not None:
                return True
            await asyncio.sleep(0.1)
        return False
