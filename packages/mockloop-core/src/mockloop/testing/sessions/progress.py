"""How a load run, or a test session's runs, are going: what `monitor_test_progress` reports.

A load run reads its latest state from the load run store (live figures of its last complete
second while it runs, the final result once done; a run whose process is gone reads as
interrupted). A test session reads its runs from the test run store, each load run refreshed
from the load run store the same way, and adds the figures up: requests and errors of all its
load runs, the rate of those still running, the remaining time of the longest one.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from mockloop.load.report import LoadMonitorResult, LoadProgress, LoadTestResult
from mockloop.load.session import pid_alive
from mockloop.testing.sessions.report import RUNNING_STATUSES, run_problems

__all__ = ["SessionRunProgress", "TestProgress", "load_run_progress", "session_progress"]


class SessionRunProgress(BaseModel):
    """One run of a test session: its state and, for a load run, its figures."""

    run_id: str
    kind: str = Field(description="load, test_plan, iteration or security")
    status: str = Field(description="running, completed, stopped, failed, interrupted, ...")
    server_url: str
    started_at: float
    finished_at: float | None = None
    verdict: Literal["running", "pass", "warn", "fail"] = Field(
        description="running, or how the run went: its failures and warnings below"
    )
    failures: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    elapsed_s: float | None = Field(default=None, description="load runs: seconds of load so far")
    remaining_s: float | None = Field(default=None, description="load runs: seconds left")
    requests: int | None = None
    errors: int | None = None
    current_rps: float | None = None
    error_rate: float | None = None
    p95_ms: float | None = None


class TestProgress(LoadMonitorResult):
    """A load run's progress, or a test session's: its runs, running and finished.

    For a session, run_id is the session's id, status its state (active or ended), and the
    figures add up its load runs: requests and errors of all, the rate of those running, the
    remaining time of the longest one.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    followed: Literal["load_run", "test_session"] = Field(
        default="load_run", description="what the id named: a load run or a test session"
    )
    session_name: str | None = Field(default=None, description="the test session's name")
    running_runs: int = Field(default=0, description="test session: runs still running")
    finished_runs: int = Field(default=0, description="test session: runs done")
    runs: list[SessionRunProgress] = Field(
        default_factory=list, description="test session: its runs, oldest first"
    )


def load_run_progress(row: dict[str, Any]) -> TestProgress:
    """The progress of a load run from its load run store row."""
    result = LoadTestResult.model_validate(row["result"])
    status = row["status"]
    progress = LoadProgress.model_validate(row["progress"]) if row["progress"] else None
    if status == "running" and not pid_alive(row["pid"]):
        status = "interrupted"
    if status in ("completed", "stopped"):
        elapsed = result.elapsed_s
        figures = {
            "requests": result.total_requests,
            "errors": result.failed_requests,
            "current_rps": result.achieved_rps,
            "error_rate": result.error_rate,
            "p95_ms": result.latency.p95_ms,
        }
        message = result.summary()
    else:
        elapsed = progress.elapsed_s if progress else 0.0
        if status == "running":
            elapsed = max(elapsed, min(time.time() - result.started_at, result.duration_s))
        figures = {
            "requests": progress.requests if progress else 0,
            "errors": progress.errors if progress else 0,
            "current_rps": progress.current_rps if progress else 0.0,
            "error_rate": progress.error_rate if progress else 0.0,
            "p95_ms": progress.p95_ms if progress else None,
        }
        message = {
            "running": f"running: {elapsed:.0f} of {result.duration_s:.0f} s",
            "failed": f"failed: {result.error}",
            "interrupted": "interrupted: the process running it is gone",
        }.get(status, status)
    return TestProgress(
        run_id=row["id"],
        status=status,
        server_url=row["server_url"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        elapsed_s=round(elapsed, 2),
        remaining_s=round(max(0.0, result.duration_s - elapsed), 2) if status == "running" else 0.0,
        message=message,
        result=result if status in ("completed", "stopped") else None,
        **figures,
    )


def _run_entry(run: dict[str, Any], load_row: dict[str, Any] | None) -> SessionRunProgress:
    """One stored test run as a session's run; a load run with its live or final figures."""
    entry: dict[str, Any] = {
        "run_id": str(run["id"]),
        "kind": str(run["kind"]),
        "status": str(run["status"]),
        "server_url": str(run.get("server_url") or ""),
        "started_at": float(run["started_at"]),
        "finished_at": run.get("finished_at"),
    }
    if load_row is not None:
        load = load_run_progress(load_row)
        entry |= {
            "status": load.status,
            "elapsed_s": load.elapsed_s,
            "remaining_s": load.remaining_s,
            "requests": load.requests,
            "errors": load.errors,
            "current_rps": load.current_rps,
            "error_rate": load.error_rate,
            "p95_ms": load.p95_ms,
        }
    if entry["status"] in RUNNING_STATUSES:
        return SessionRunProgress(verdict="running", **entry)
    failures, warnings = run_problems({**run, "status": entry["status"]})
    verdict = "fail" if failures else ("warn" if warnings else "pass")
    return SessionRunProgress(verdict=verdict, failures=failures, warnings=warnings, **entry)


def session_progress(
    session: dict[str, Any],
    runs: list[dict[str, Any]],
    load_rows: dict[str, dict[str, Any]],
    now: float | None = None,
) -> TestProgress:
    """A test session's progress from its row, its stored runs (oldest first; each load run
    refreshed, see `refresh_load_runs`) and the load run store rows of its load runs."""
    now = time.time() if now is None else now
    entries = [_run_entry(run, load_rows.get(str(run["id"]))) for run in runs]
    running = [e for e in entries if e.verdict == "running"]
    finished = [e for e in entries if e.verdict != "running"]
    loads = [e for e in entries if e.requests is not None]
    requests = sum(e.requests or 0 for e in loads)
    errors = sum(e.errors or 0 for e in loads)
    ended = session.get("ended_at")
    latest = max([e.finished_at or e.started_at for e in entries], default=session["created_at"])
    p95s = [e.p95_ms for e in loads if e.p95_ms is not None]
    verdicts = {v: sum(1 for e in finished if e.verdict == v) for v in ("pass", "warn", "fail")}
    message = (
        f"test session {session['name']!r} ({session['status']}): {len(running)} run(s) "
        f"running, {len(finished)} finished"
        + (
            f" ({verdicts['pass']} passed, {verdicts['warn']} with warnings, "
            f"{verdicts['fail']} failed)"
            if finished
            else ""
        )
        + (f"; {requests} load requests, {errors} errors" if loads else "")
        + ("" if entries else "; no run yet: runs given its session_id land in it")
    )
    return TestProgress(
        followed="test_session",
        run_id=str(session["id"]),
        status=str(session["status"]),
        server_url=entries[-1].server_url if entries else "",
        started_at=float(session["created_at"]),
        updated_at=float(ended or latest),
        elapsed_s=round(float(ended or now) - float(session["created_at"]), 2),
        remaining_s=max((e.remaining_s or 0.0 for e in running), default=0.0),
        requests=requests,
        errors=errors,
        current_rps=round(sum(e.current_rps or 0.0 for e in running if e.requests is not None), 2),
        error_rate=round(errors / requests, 6) if requests else 0.0,
        p95_ms=max(p95s) if p95s else None,
        message=message,
        session_name=str(session["name"]),
        running_runs=len(running),
        finished_runs=len(finished),
        runs=entries,
    )
