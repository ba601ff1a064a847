"""From the runs a caller named to one `ReportDocument`, whichever format renders it."""

from __future__ import annotations

import time
from typing import Any

from mockloop.errors import ConfigError
from mockloop.load.store import LoadRunStore
from mockloop.reports.functional_runs import plan_report, security_report
from mockloop.reports.load_runs import iteration_report, load_report
from mockloop.reports.model import (
    OUTCOMES,
    ReportDocument,
    ReportFormat,
    RunReport,
    Verdict,
)
from mockloop.testing.inputs import RunRecord, collect_runs

__all__ = ["ReportRuns", "build_document", "gather_runs"]

_WORST: tuple[Verdict, ...] = ("error", "failed", "passed", "no_checks")


class ReportRuns:
    """The runs of a report, and the stored load runs behind its test iterations."""

    def __init__(self, records: list[RunRecord], loads: dict[str, dict[str, Any]]) -> None:
        self.records = records
        self.loads = loads


def gather_runs(test_results: Any, run_ids: list[str] | None) -> ReportRuns:
    """The runs named by results and run ids (MOCKLOOP_HOME in force: run it in a thread).

    A test iteration's load run, when stored, comes along: its time series and histogram
    draw the iteration's charts.
    """
    if test_results is None and not run_ids:
        raise ConfigError(
            "nothing to report: give test_results (results of run_load_test, "
            "execute_test_plan, run_test_iteration or run_security_test, or their run ids) "
            "or run_ids"
        )
    records = collect_runs(test_results, run_ids)
    if not records:
        raise ConfigError("test_results is empty: give at least one result or run id")
    loads: dict[str, dict[str, Any]] = {}
    store = LoadRunStore()
    for record in records:
        load_id = record.result.get("load_run_id") if record.kind == "iteration" else None
        if isinstance(load_id, str) and load_id:
            row = store.get(load_id)
            if row is not None:
                loads[load_id] = row["result"]
    return ReportRuns(records, loads)


def _run_report(record: RunRecord, loads: dict[str, dict[str, Any]]) -> RunReport:
    result = record.result
    run_id = record.run_id or str(result.get("run_id") or "")
    if record.kind == "load":
        return load_report(result, run_id)
    if record.kind == "test_plan":
        return plan_report(result, run_id)
    if record.kind == "security":
        return security_report(result, run_id)
    return iteration_report(result, run_id, loads.get(str(result.get("load_run_id") or "")))


def build_document(
    runs: ReportRuns,
    *,
    report_format: ReportFormat = "comprehensive",
    include_charts: bool = True,
    title: str | None = None,
    generated_at: float | None = None,
) -> ReportDocument:
    """The report of `runs`: every run's section, the totals and the overall verdict."""
    reports = [_run_report(record, runs.loads) for record in runs.records]
    if not include_charts:
        for report in reports:
            report.charts = []
    totals = {outcome: 0 for outcome in OUTCOMES}
    for report in reports:
        for check in report.checks:
            totals[check.outcome] += 1
    verdicts = {report.verdict for report in reports}
    verdict: Verdict = "no_checks"
    for worst in _WORST:
        if worst in verdicts:
            verdict = worst
            break
    if title is None:
        title = (
            reports[0].title if len(reports) == 1 else f"MockLoop test report: {len(reports)} runs"
        )
    return ReportDocument(
        title=title,
        generated_at=time.time() if generated_at is None else generated_at,
        report_format=report_format,
        include_charts=include_charts,
        verdict=verdict,
        runs=reports,
        totals=totals,
    )
