"""Uniform views over the kinds of run: the load part of a load run or an iteration, the steps
of a test plan, the findings of security tests, and per-operation figures across load runs."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mockloop.load.histogram import latency_summary, merge_encoded
from mockloop.results import Result
from mockloop.testing.inputs import RunRecord

__all__ = [
    "OperationFigures",
    "SecurityView",
    "StepView",
    "load_part",
    "operation_figures",
    "plan_steps",
    "security_view",
]

_SEVERITIES = ("critical", "high", "medium", "low", "info")


class OperationFigures(Result):
    """One operation's load figures over one or more runs."""

    name: str
    method: str
    path: str
    requests: int = Field(description="responses received")
    failures: int = Field(description="requests with no response (timeouts, connection errors)")
    errors: int = Field(description="bad statuses and failures")
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    status_counts: dict[str, int]
    histogram: str = Field(default="", exclude=True)


class StepView(Result):
    """One test plan step's outcome, for analysis."""

    run_id: str
    name: str
    operation: str
    outcome: str = Field(description="passed, failed, error or skipped")
    reason: str


class SecurityView(Result):
    """Findings of the security runs analysed."""

    runs: int
    findings: int
    by_severity: dict[str, int]
    by_category: dict[str, int]
    top_findings: list[dict[str, Any]] = Field(
        description="the most severe findings: category, severity, operation, title, remediation"
    )
    categories_not_tested: list[str]


def load_part(record: RunRecord) -> dict[str, Any] | None:
    """The load result inside a run: the run itself for load runs, the driving load run's
    result for iterations (when it is stored), else None."""
    if record.kind == "load":
        return record.result
    if record.kind == "iteration":
        load = record.labels.get("load")
        return load if isinstance(load, dict) else None
    return None


def operation_figures(loads: list[dict[str, Any]]) -> list[OperationFigures]:
    """Per-operation figures merged over `loads` (by operation name), slowest p95 first."""
    merged: dict[str, dict[str, Any]] = {}
    for load in loads:
        for op in load.get("operations") or []:
            entry = merged.setdefault(
                op["name"],
                {
                    "method": op.get("method", ""),
                    "path": op.get("path", ""),
                    "requests": 0,
                    "failures": 0,
                    "errors": 0,
                    "statuses": {},
                    "histograms": [],
                    "latencies": [],
                },
            )
            kinds = op.get("errors_by_kind") or {}
            entry["requests"] += int(op.get("requests") or 0)
            entry["errors"] += int(op.get("errors") or 0)
            entry["failures"] += sum(n for kind, n in kinds.items() if kind != "bad_status")
            for status, count in (op.get("status_counts") or {}).items():
                entry["statuses"][status] = entry["statuses"].get(status, 0) + count
            if op.get("histogram"):
                entry["histograms"].append(op["histogram"])
            entry["latencies"].append(op.get("latency") or {})
    figures = []
    for name, entry in merged.items():
        if entry["histograms"] and len(entry["histograms"]) == len(entry["latencies"]):
            latency = latency_summary(merge_encoded(entry["histograms"]))
        else:  # no histograms to merge: the worst run's figures
            latency = {}
            for item in entry["latencies"]:
                for key in ("p50_ms", "p95_ms", "p99_ms"):
                    value = item.get(key)
                    if value is not None:
                        latency[key] = max(latency.get(key, value), value)
        attempted = entry["requests"] + entry["failures"]
        figures.append(
            OperationFigures(
                name=name,
                method=entry["method"],
                path=entry["path"],
                requests=entry["requests"],
                failures=entry["failures"],
                errors=entry["errors"],
                error_rate=round(entry["errors"] / attempted, 6) if attempted else 0.0,
                p50_ms=latency.get("p50_ms"),
                p95_ms=latency.get("p95_ms"),
                p99_ms=latency.get("p99_ms"),
                status_counts=dict(sorted(entry["statuses"].items())),
                histogram=entry["histograms"][0] if len(entry["histograms"]) == 1 else "",
            )
        )
    return sorted(figures, key=lambda f: -(f.p95_ms or 0.0))


def plan_steps(record: RunRecord) -> list[StepView]:
    """Every step of a test plan run with its outcome."""
    views = []
    for index, step in enumerate(record.result.get("steps") or []):
        operation = step.get("operation") or step.get("name") or f"step {index}"
        request = step.get("request") or {}
        if not step.get("operation") and request.get("method"):
            operation = f"{request['method']} {request.get('path') or request.get('url', '')}"
        views.append(
            StepView(
                run_id=record.run_id,
                name=str(step.get("name") or f"step {index}"),
                operation=str(operation),
                outcome=str(step.get("status") or step.get("outcome") or "error"),
                reason=str(step.get("reason") or ""),
            )
        )
    return views


def security_view(records: list[RunRecord]) -> SecurityView:
    """Findings of `records` counted by severity and category, the most severe first."""
    findings: list[dict[str, Any]] = []
    untested: set[str] = set()
    for record in records:
        findings.extend(record.result.get("findings") or [])
        untested.update(record.result.get("categories_not_tested") or [])
    by_severity = {severity: 0 for severity in _SEVERITIES}
    by_category: dict[str, int] = {}
    for finding in findings:
        severity = str(finding.get("severity", "info"))
        by_severity[severity] = by_severity.get(severity, 0) + 1
        category = str(finding.get("category", "uncategorised"))
        by_category[category] = by_category.get(category, 0) + 1
    rank = {severity: index for index, severity in enumerate(_SEVERITIES)}
    ordered = sorted(findings, key=lambda f: rank.get(str(f.get("severity")), len(rank)))
    return SecurityView(
        runs=len(records),
        findings=len(findings),
        by_severity=by_severity,
        by_category=dict(sorted(by_category.items())),
        top_findings=[
            {
                "category": f.get("category", ""),
                "severity": f.get("severity", "info"),
                "operation": f.get("operation"),
                "title": f.get("title", ""),
                "remediation": f.get("remediation", ""),
            }
            for f in ordered[:10]
        ],
        categories_not_tested=sorted(untested),
    )
