"""The report of a test session, computed from the runs stored in it.

Every figure comes from the runs' stored summaries (`TestRunStore`): counts by kind and
status, test plan and iteration pass rates, load figures across runs (throughput, p95 latency
and error rate as min/mean/max), security findings by severity, the failing runs with why they
fail, and the scheduled test calls that failed before they could produce a run. The verdict
follows from those figures, and its reasons say which ones decided it:

- `fail`: a run failed (status failed/error/interrupted), a test plan or iteration had failed
  or erroring tests, a load run missed its thresholds, a security run found critical or high
  severity issues, or a scheduled test call failed before producing a run;
- `warn`: nothing failed, but a run is still running, a load run without thresholds saw
  errors, or a security run found medium severity issues;
- `pass`: at least one run and none of the above;
- `inconclusive`: the session holds no run.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

from mockloop.results import Result

__all__ = [
    "FAILED_STATUSES",
    "SEVERITIES",
    "FailingRun",
    "LoadFigures",
    "PlanFigures",
    "ScheduleError",
    "SecurityFigures",
    "SessionReport",
    "Spread",
    "Verdict",
    "build_session_report",
    "refresh_load_runs",
    "run_problems",
    "severity_counts",
]

Verdict = Literal["pass", "warn", "fail", "inconclusive"]
FAILED_STATUSES = frozenset({"failed", "error", "errored", "interrupted"})
RUNNING_STATUSES = frozenset({"running", "pending", "queued"})
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")


class Spread(BaseModel):
    """A figure across runs: how many runs gave it, and its min, mean and max."""

    count: int
    min: float
    mean: float
    max: float


class PlanFigures(BaseModel):
    """Test plan (or iteration) runs: their tests added up, and pass rates across runs."""

    runs: int
    total: int = Field(description="tests across the runs")
    passed: int
    failed: int
    errors: int
    skipped: int
    pass_rate: float | None = Field(description="passed / total over all the runs' tests")
    pass_rates: Spread | None = Field(description="each run's own pass rate across runs")


class LoadFigures(BaseModel):
    """Load runs that finished: requests, and rate, p95 and error rate across runs."""

    runs: int
    requests: int
    achieved_rps: Spread | None
    p95_ms: Spread | None
    error_rate: Spread | None
    thresholds_failed: int = Field(description="runs that missed one of their thresholds")


class SecurityFigures(BaseModel):
    """Security runs: findings added up by severity."""

    runs: int
    findings_by_severity: dict[str, int]
    total_findings: int


class FailingRun(BaseModel):
    """A run that failed, and why."""

    run_id: str
    kind: str
    status: str
    started_at: float
    reasons: list[str]


class ScheduleError(BaseModel):
    """A scheduled test call that failed before it could store a run (e.g. target down)."""

    schedule_id: str
    suite_run: int
    operation: str
    started_at: float
    error: str


class SessionReport(Result):
    """A test session's figures, computed from its stored runs, with a verdict and reasons."""

    session_id: str
    name: str
    generated_at: float
    first_run_at: float | None = None
    last_run_at: float | None = None
    runs: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    by_kind_status: dict[str, dict[str, int]]
    test_plans: PlanFigures | None = None
    iterations: LoadFigures | None = Field(
        default=None, description="the traffic of the test iterations (their load runs)"
    )
    load: LoadFigures | None = None
    security: SecurityFigures | None = None
    failing_runs: list[FailingRun] = Field(default_factory=list)
    still_running: list[str] = Field(default_factory=list, description="run ids not done yet")
    schedule_errors: list[ScheduleError] = Field(default_factory=list)
    verdict: Verdict
    reasons: list[str] = Field(description="what decided the verdict")

    def summary(self, limit: int = 600) -> str:
        """One paragraph: the verdict, its reasons and the main figures."""
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.by_kind.items())) or "none"
        parts = [f"session {self.name} ({self.session_id}): {self.verdict.upper()}"]
        parts.append(f"{self.runs} run(s): {kinds}")
        if self.test_plans and self.test_plans.pass_rate is not None:
            plans = self.test_plans
            parts.append(f"test plans {plans.passed}/{plans.total} passed")
        if self.load and self.load.p95_ms:
            parts.append(
                f"load p95 {self.load.p95_ms.min:.1f}-{self.load.p95_ms.max:.1f} ms over "
                f"{self.load.runs} run(s)"
            )
        if self.security:
            parts.append(f"{self.security.total_findings} security finding(s)")
        text = "; ".join(parts) + ". " + " ".join(self.reasons)
        return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(summary: dict[str, Any], key: str) -> int:
    value = _number(summary.get(key))
    return int(value) if value is not None else 0


def spread(values: Iterable[float | None]) -> Spread | None:
    """min/mean/max of the values that are numbers (None when there is none)."""
    numbers = [v for v in (_number(value) for value in values) if v is not None]
    if not numbers:
        return None
    return Spread(
        count=len(numbers),
        min=min(numbers),
        mean=round(statistics.fmean(numbers), 6),
        max=max(numbers),
    )


def severity_counts(summary: dict[str, Any]) -> dict[str, int]:
    """Findings by severity from a security run's summary.

    Read from a `by_severity` or `findings_by_severity` mapping when the summary has one,
    else from severity names at its top level.
    """
    source = summary
    for key in ("by_severity", "findings_by_severity", "severity"):
        nested = summary.get(key)
        if isinstance(nested, dict):
            source = nested
            break
    counts: dict[str, int] = {}
    for severity in SEVERITIES:
        value = _number(source.get(severity))
        if value is not None and value > 0:
            counts[severity] = int(value)
    return counts


def run_problems(run: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(why the run failed, what in it deserves a warning), from its status and summary."""
    kind = str(run.get("kind"))
    status = str(run.get("status"))
    summary: dict[str, Any] = run.get("summary") or {}
    failures: list[str] = []
    warnings: list[str] = []
    if status in FAILED_STATUSES:
        error = (run.get("result") or {}).get("error") if run.get("result") else None
        failures.append(f"status {status}" + (f": {error}" if error else ""))
    if status in RUNNING_STATUSES:
        warnings.append("still running")
    if kind in ("test_plan", "iteration"):
        failed, errors = _count(summary, "failed"), _count(summary, "errors")
        if failed:
            failures.append(f"{failed} failed test(s)")
        if errors:
            failures.append(f"{errors} erroring test(s)")
        if summary.get("passed") is False and not (failed or errors):
            failures.append("did not pass")
    elif kind == "load":
        if summary.get("passed") is False:
            failures.append("missed its thresholds")
        rate = _number(summary.get("error_rate"))
        if summary.get("passed") is None and rate and status not in RUNNING_STATUSES:
            warnings.append(f"error rate {rate:.2%} (no thresholds to judge it)")
    elif kind == "security":
        counts = severity_counts(summary)
        serious = {s: counts[s] for s in ("critical", "high") if counts.get(s)}
        if serious:
            failures.append(", ".join(f"{n} {s} finding(s)" for s, n in serious.items()))
        if counts.get("medium"):
            warnings.append(f"{counts['medium']} medium finding(s)")
    return failures, warnings


def _plan_figures(runs: list[dict[str, Any]]) -> PlanFigures | None:
    if not runs:
        return None
    keys = ("total", "passed", "failed", "errors", "skipped")
    sums = {key: sum(_count(r["summary"], key) for r in runs) for key in keys}
    rates = []
    for run in runs:
        rate = _number(run["summary"].get("pass_rate"))
        total = _count(run["summary"], "total")
        if rate is None and total:
            rate = _count(run["summary"], "passed") / total
        rates.append(rate)
    return PlanFigures(
        runs=len(runs),
        total=sums["total"],
        passed=sums["passed"],
        failed=sums["failed"],
        errors=sums["errors"],
        skipped=sums["skipped"],
        pass_rate=round(sums["passed"] / sums["total"], 6) if sums["total"] else None,
        pass_rates=spread(rates),
    )


def _load_figures(runs: list[dict[str, Any]]) -> LoadFigures | None:
    done = [r for r in runs if r["status"] not in RUNNING_STATUSES]
    if not done:
        return None
    return LoadFigures(
        runs=len(done),
        requests=sum(_count(r["summary"], "requests") for r in done),
        achieved_rps=spread(r["summary"].get("achieved_rps") for r in done),
        p95_ms=spread(r["summary"].get("p95_ms") for r in done),
        error_rate=spread(r["summary"].get("error_rate") for r in done),
        thresholds_failed=sum(1 for r in done if r["summary"].get("passed") is False),
    )


def _security_figures(runs: list[dict[str, Any]]) -> SecurityFigures | None:
    if not runs:
        return None
    totals: Counter[str] = Counter()
    for run in runs:
        totals.update(severity_counts(run["summary"]))
    ordered = {s: totals[s] for s in SEVERITIES if totals.get(s)}
    return SecurityFigures(
        runs=len(runs), findings_by_severity=ordered, total_findings=sum(ordered.values())
    )


def refresh_load_runs(
    runs: list[dict[str, Any]], latest: Callable[[str], dict[str, Any] | None]
) -> list[dict[str, Any]]:
    """Background load runs are stored when they start: take their latest state.

    `latest(run_id)` returns the load store's row (`LoadRunStore.get`); a run still marked
    running whose process is gone reads as interrupted.
    """
    from mockloop.load.session import pid_alive

    refreshed = []
    for run in runs:
        if run.get("kind") != "load" or run.get("status") not in RUNNING_STATUSES:
            refreshed.append(run)
            continue
        row = latest(str(run["id"]))
        if row is None:
            refreshed.append(run)
            continue
        result = row.get("result") or {}
        status = row["status"]
        if status == "running" and not pid_alive(int(row["pid"])):
            status = "interrupted"
        latency = result.get("latency") or {}
        summary = dict(run.get("summary") or {})
        if status in ("completed", "stopped"):
            summary.update(
                requests=result.get("total_requests", 0),
                achieved_rps=round(float(result.get("achieved_rps") or 0.0), 2),
                error_rate=result.get("error_rate"),
                p50_ms=latency.get("p50_ms"),
                p95_ms=latency.get("p95_ms"),
                p99_ms=latency.get("p99_ms"),
                passed=result.get("passed"),
            )
        refreshed.append(
            {**run, "status": status, "summary": summary, "finished_at": row["finished_at"]}
        )
    return refreshed


def build_session_report(
    session: dict[str, Any],
    runs: list[dict[str, Any]],
    schedule_errors: list[ScheduleError] | None = None,
    *,
    now: float | None = None,
) -> SessionReport:
    """The report of `session` (its store row) from its runs (`TestRunStore` rows).

    The load run that drove a test iteration counts once, as the iteration.
    """
    drivers = {r["summary"].get("load_run_id") for r in runs if r["kind"] == "iteration"}
    runs = [r for r in runs if not (r["kind"] == "load" and r["id"] in drivers)]
    by_kind = Counter(str(r["kind"]) for r in runs)
    by_status = Counter(str(r["status"]) for r in runs)
    by_kind_status: dict[str, dict[str, int]] = {}
    for run in runs:
        per_kind = by_kind_status.setdefault(str(run["kind"]), {})
        per_kind[str(run["status"])] = per_kind.get(str(run["status"]), 0) + 1
    failing: list[FailingRun] = []
    warned: list[tuple[dict[str, Any], list[str]]] = []
    still_running: list[str] = []
    for run in runs:
        failures, warnings = run_problems(run)
        if failures:
            failing.append(
                FailingRun(
                    run_id=str(run["id"]),
                    kind=str(run["kind"]),
                    status=str(run["status"]),
                    started_at=float(run["started_at"]),
                    reasons=failures,
                )
            )
        elif warnings:
            warned.append((run, warnings))
        if run["status"] in RUNNING_STATUSES:
            still_running.append(str(run["id"]))
    errors = list(schedule_errors or [])
    verdict, reasons = _verdict(runs, failing, warned, errors)
    of_kind = {kind: [r for r in runs if r["kind"] == kind] for kind in by_kind}
    finished = [f for f in (_number(r.get("finished_at")) for r in runs) if f is not None]
    return SessionReport(
        session_id=str(session["id"]),
        name=str(session["name"]),
        generated_at=now if now is not None else time.time(),
        first_run_at=min((float(r["started_at"]) for r in runs), default=None),
        last_run_at=max(finished, default=None),
        runs=len(runs),
        by_kind=dict(sorted(by_kind.items())),
        by_status=dict(sorted(by_status.items())),
        by_kind_status={k: dict(sorted(v.items())) for k, v in sorted(by_kind_status.items())},
        test_plans=_plan_figures(of_kind.get("test_plan", [])),
        iterations=_load_figures(of_kind.get("iteration", [])),
        load=_load_figures(of_kind.get("load", [])),
        security=_security_figures(of_kind.get("security", [])),
        failing_runs=failing,
        still_running=still_running,
        schedule_errors=errors,
        verdict=verdict,
        reasons=reasons,
    )


def _verdict(
    runs: list[dict[str, Any]],
    failing: list[FailingRun],
    warned: list[tuple[dict[str, Any], list[str]]],
    errors: list[ScheduleError],
) -> tuple[Verdict, list[str]]:
    reasons: list[str] = []
    for run in failing[:10]:
        reasons.append(f"{run.kind} run {run.run_id} failed: {'; '.join(run.reasons)}.")
    if len(failing) > 10:
        reasons.append(f"... and {len(failing) - 10} more failing run(s).")
    if errors:
        first = errors[0]
        reasons.append(
            f"{len(errors)} scheduled test call(s) failed before producing a run "
            f"(first: {first.operation}: {first.error})."
        )
    if reasons:
        return "fail", reasons
    for run, warnings in warned[:10]:
        reasons.append(f"{run['kind']} run {run['id']}: {'; '.join(warnings)}.")
    if len(warned) > 10:
        reasons.append(f"... and {len(warned) - 10} more run(s) with warnings.")
    if reasons:
        return "warn", reasons
    if not runs:
        return "inconclusive", ["the session holds no run: nothing to judge."]
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(Counter(r["kind"] for r in runs).items()))
    return "pass", [f"all {len(runs)} run(s) passed ({kinds}); none failed or warned."]
