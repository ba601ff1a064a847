"""What a set of runs says: statistics, threshold and SLO checks, anomalies, bottlenecks,
and recommendations that each cite the figure they rest on.

Load runs (and the load inside test iterations) give rates, latency and errors; their HDR
histograms, when present, are merged so latency across runs is exact rather than an average of
percentiles. Test plans give step outcomes by operation; security tests give findings by
severity and category. Every verdict and recommendation is derived from these figures.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import Field

from mockloop.errors import ConfigError
from mockloop.load.histogram import latency_summary, merge_encoded
from mockloop.load.thresholds import THRESHOLD_METRICS, check_thresholds
from mockloop.results import Result
from mockloop.testing.analysis.anomalies import Anomaly, find_anomalies
from mockloop.testing.analysis.insights import InsightsSection
from mockloop.testing.inputs import RunRecord
from mockloop.testing.run_views import (
    OperationFigures,
    SecurityView,
    StepView,
    load_part,
    operation_figures,
    plan_steps,
    security_view,
)

__all__ = [
    "ANALYSIS_TYPES",
    "AnalysisResult",
    "Bottleneck",
    "Check",
    "FunctionalAnalysis",
    "LoadAnalysis",
    "Recommendation",
    "analyze_runs",
]

AnalysisType = Literal["comprehensive", "performance", "functional", "security"]
ANALYSIS_TYPES: tuple[str, ...] = AnalysisType.__args__  # type: ignore[attr-defined]
_SEVERITIES = ("critical", "high", "medium", "low", "info")


class Check(Result):
    """A threshold (set on the run) or an SLO (given to the analysis) against a run."""

    run_id: str
    source: Literal["threshold", "slo"]
    metric: str
    limit: float
    actual: float | None
    passed: bool


class LoadAnalysis(Result):
    """Load figures over every load run (and every iteration's load) analysed."""

    runs: int
    requests: int
    errors: int
    error_rate: float
    achieved_rps: float = Field(description="sum of the runs' requests over their summed time")
    latency: dict[str, float | int | None] = Field(
        description="percentiles over every response of every run (exact: merged histograms)"
    )
    latency_exact: bool = Field(description="False when some run had no histogram to merge")
    status_counts: dict[str, int]
    errors_by_kind: dict[str, int]
    operations: list[OperationFigures]
    generator_saturated_runs: list[str] = Field(
        description="runs whose load generator used over 90% of a core: their figures are suspect"
    )


class FunctionalAnalysis(Result):
    """Step outcomes of the test plans analysed."""

    plans: int
    steps: int
    passed: int
    failed: int
    errors: int
    skipped: int
    pass_rate: float | None
    failing_operations: dict[str, int] = Field(description="operation -> failed or errored steps")
    failures: list[StepView] = Field(description="the failed steps, with the assertion that failed")


class Bottleneck(Result):
    """An operation that holds the rest back: the slowest or the most failing."""

    operation: str
    reason: Literal["slowest", "most_failing"]
    p95_ms: float | None
    error_rate: float
    requests: int
    detail: str


class Recommendation(Result):
    """Something to do, and the figure that says so."""

    priority: Literal["high", "medium", "low"]
    title: str
    detail: str
    evidence: str = Field(description="the figure the recommendation rests on")


# `summary` is a field here (the paragraph an agent quotes, as users index it:
# analysis["summary"]); it stands in for Result.summary(), which summary_of() knows.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "summary"', category=UserWarning)

    class AnalysisResult(Result):
        """The analysis of one or more test runs."""

        analysis_type: str
        runs: list[dict[str, Any]] = Field(
            description="run id, kind, status and target of each run"
        )
        load: LoadAnalysis | None = None
        functional: FunctionalAnalysis | None = None
        security: SecurityView | None = None
        checks: list[Check] = Field(default_factory=list)
        anomalies: list[Anomaly] = Field(default_factory=list)
        bottlenecks: list[Bottleneck] = Field(default_factory=list)
        recommendations: list[Recommendation] = Field(default_factory=list)
        verdict: Literal["pass", "fail", "warn"] = Field(
            description="fail: a check failed, a step failed or a high/critical finding; warn: "
            "anomalies, errors or lesser findings; pass: none of these"
        )
        reasons: list[str] = Field(description="why the verdict is what it is, figure by figure")
        summary: str = Field(  # pyright: ignore[reportIncompatibleMethodOverride]
            description="a paragraph an agent can quote"
        )
        context_id: str | None = None
        insights: InsightsSection | None = Field(
            default=None, description="what the figures mean, each citing one (ai_insights=True)"
        )


def _check_slo(slo: dict[str, Any] | None) -> dict[str, float]:
    try:
        return check_thresholds(slo)
    except ConfigError as exc:
        raise ConfigError(f"slo: {exc} (metrics: {', '.join(THRESHOLD_METRICS)})") from None


def _slo_checks(run_id: str, load: dict[str, Any], slo: dict[str, float]) -> list[Check]:
    checks = []
    latency = load.get("latency") or {}
    for metric, limit in slo.items():
        if metric == "error_rate":
            actual = load.get("error_rate")
            passed = actual is not None and actual <= limit
        elif metric == "min_rps":
            actual = load.get("achieved_rps")
            passed = actual is not None and actual >= limit
        else:
            actual = latency.get(metric)
            passed = actual is not None and actual <= limit
        checks.append(
            Check(
                run_id=run_id,
                source="slo",
                metric=metric,
                limit=limit,
                actual=actual,
                passed=passed,
            )
        )
    return checks


def _load_analysis(parts: list[tuple[RunRecord, dict[str, Any]]]) -> LoadAnalysis:
    requests = errors = 0
    elapsed = 0.0
    statuses: dict[str, int] = {}
    kinds: dict[str, int] = {}
    encoded: list[str] = []
    exact = True
    for _, load in parts:
        requests += int(load.get("total_requests") or 0)
        errors += int(load.get("failed_requests") or 0)
        elapsed += float(load.get("elapsed_s") or 0.0)
        for status, count in (load.get("status_counts") or {}).items():
            statuses[status] = statuses.get(status, 0) + count
        for kind, count in (load.get("errors_by_kind") or {}).items():
            kinds[kind] = kinds.get(kind, 0) + count
        if load.get("histogram"):
            encoded.append(load["histogram"])
        else:
            exact = False
    if encoded and exact:
        latency: dict[str, Any] = latency_summary(merge_encoded(encoded))
    else:  # without every histogram: the worst run's percentiles, said to be inexact
        latency = {}
        for _, load in parts:
            for key, value in (load.get("latency") or {}).items():
                if isinstance(value, int | float):
                    latency[key] = max(latency.get(key, value), value)
    saturated = [
        record.run_id for record, load in parts if (load.get("generator") or {}).get("saturated")
    ]
    return LoadAnalysis(
        runs=len(parts),
        requests=requests,
        errors=errors,
        error_rate=round(errors / requests, 6) if requests else 0.0,
        achieved_rps=round(requests / elapsed, 2) if elapsed else 0.0,
        latency=latency,
        latency_exact=exact and bool(encoded),
        status_counts=dict(sorted(statuses.items())),
        errors_by_kind=dict(sorted(kinds.items())),
        operations=operation_figures([load for _, load in parts]),
        generator_saturated_runs=saturated,
    )


def _bottlenecks(load: LoadAnalysis) -> list[Bottleneck]:
    ops = [op for op in load.operations if op.requests]
    if not ops:
        return []
    found: list[Bottleneck] = []
    timed = sorted((op for op in ops if op.p95_ms is not None), key=lambda op: -(op.p95_ms or 0))
    if len(timed) > 1:
        slowest = timed[0]
        rest = sorted(op.p95_ms or 0.0 for op in timed[1:])
        typical = rest[len(rest) // 2]
        if (slowest.p95_ms or 0.0) > 1.5 * typical and (slowest.p95_ms or 0.0) - typical >= 1.0:
            found.append(
                Bottleneck(
                    operation=slowest.name,
                    reason="slowest",
                    p95_ms=slowest.p95_ms,
                    error_rate=slowest.error_rate,
                    requests=slowest.requests,
                    detail=f"p95 {slowest.p95_ms:.1f} ms against a median of {typical:.1f} ms "
                    "over the other operations",
                )
            )
    elif timed:
        only = timed[0]
        found.append(
            Bottleneck(
                operation=only.name,
                reason="slowest",
                p95_ms=only.p95_ms,
                error_rate=only.error_rate,
                requests=only.requests,
                detail=f"the only operation measured: p95 {only.p95_ms:.1f} ms",
            )
        )
    failing = sorted((op for op in ops if op.errors), key=lambda op: -op.error_rate)
    for op in failing[:3]:
        found.append(
            Bottleneck(
                operation=op.name,
                reason="most_failing",
                p95_ms=op.p95_ms,
                error_rate=op.error_rate,
                requests=op.requests,
                detail=f"{op.errors} of {op.requests + op.failures} requests failed "
                f"({op.error_rate:.1%}); statuses {op.status_counts}",
            )
        )
    return found


def _functional(plans: list[RunRecord]) -> FunctionalAnalysis:
    steps: list[StepView] = []
    for record in plans:
        steps.extend(plan_steps(record))
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    failing: dict[str, int] = {}
    for step in steps:
        counts[step.outcome] = counts.get(step.outcome, 0) + 1
        if step.outcome in ("failed", "error"):
            failing[step.operation] = failing.get(step.operation, 0) + 1
    decided = counts["passed"] + counts["failed"] + counts["error"]
    return FunctionalAnalysis(
        plans=len(plans),
        steps=len(steps),
        passed=counts["passed"],
        failed=counts["failed"],
        errors=counts["error"],
        skipped=counts["skipped"],
        pass_rate=round(counts["passed"] / decided, 4) if decided else None,
        failing_operations=dict(sorted(failing.items(), key=lambda item: -item[1])),
        failures=[s for s in steps if s.outcome in ("failed", "error")][:50],
    )


def _recommend(result: AnalysisResult) -> list[Recommendation]:
    recs: list[Recommendation] = []
    for check in result.checks:
        if not check.passed:
            actual = "nothing measured" if check.actual is None else f"{check.actual:g}"
            recs.append(
                Recommendation(
                    priority="high",
                    title=f"{check.metric} misses its {check.source}",
                    detail=f"run {check.run_id}: {check.metric} must be "
                    f"{'>=' if check.metric == 'min_rps' else '<='} {check.limit:g}; find what "
                    "the slowest or failing operations below have in common",
                    evidence=f"{check.metric} = {actual} (limit {check.limit:g})",
                )
            )
    load = result.load
    if load is not None:
        for run_id in load.generator_saturated_runs:
            recs.append(
                Recommendation(
                    priority="medium",
                    title="the load generator was saturated",
                    detail=f"run {run_id} used over 90% of a core to generate load, so its "
                    "latencies include the generator's own queueing: rerun with processes=2 "
                    "or more, or fewer users",
                    evidence="generator.saturated = true",
                )
            )
        for bottleneck in result.bottlenecks:
            if bottleneck.reason == "most_failing":
                recs.append(
                    Recommendation(
                        priority="high" if bottleneck.error_rate >= 0.05 else "medium",
                        title=f"{bottleneck.operation} fails",
                        detail="look at its responses in the request log (query_mock_logs with "
                        "path_pattern) or the server's own logs",
                        evidence=bottleneck.detail,
                    )
                )
            elif len(load.operations) > 1:
                recs.append(
                    Recommendation(
                        priority="medium",
                        title=f"{bottleneck.operation} is the slowest operation",
                        detail="profile it first: it bounds the latency of flows that use it",
                        evidence=bottleneck.detail,
                    )
                )
        if load.errors_by_kind.get("timeout"):
            recs.append(
                Recommendation(
                    priority="high",
                    title="requests timed out",
                    detail="the server stopped answering within the timeout under this load",
                    evidence=f"{load.errors_by_kind['timeout']} timeouts of {load.requests} "
                    "requests",
                )
            )
    for anomaly in result.anomalies:
        recs.append(
            Recommendation(
                priority="medium",
                title=anomaly.kind.replace("_", " "),
                detail=f"run {anomaly.run_id}: correlate {anomaly.detail.split(':')[0]} with the "
                "server's logs (garbage collection, a lock, a dependency, autoscaling)",
                evidence=anomaly.detail,
            )
        )
    functional = result.functional
    if functional is not None and functional.failing_operations:
        for op, count in list(functional.failing_operations.items())[:5]:
            example = next((s for s in functional.failures if s.operation == op), None)
            why = example.reason if example else ""
            recs.append(
                Recommendation(
                    priority="high",
                    title=f"{op} fails its test steps",
                    detail=f"fix the operation or the plan's expectation: {why}".rstrip(": "),
                    evidence=f"{count} failed step(s) on {op}",
                )
            )
    security = result.security
    if security is not None:
        for finding in security.top_findings[:5]:
            recs.append(
                Recommendation(
                    priority="high" if finding["severity"] in ("critical", "high") else "medium",
                    title=f"{finding['category']}: {finding['title']}",
                    detail=finding.get("remediation") or "see the finding's remediation",
                    evidence=f"{finding['severity']} finding on {finding.get('operation') or '-'}",
                )
            )
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(recs, key=lambda rec: order[rec.priority])


def _verdict(result: AnalysisResult) -> tuple[Literal["pass", "fail", "warn"], list[str]]:
    fails: list[str] = []
    warns: list[str] = []
    for check in result.checks:
        if not check.passed:
            fails.append(
                f"{check.source} {check.metric} <= {check.limit:g} failed "
                f"(actual {check.actual}) in run {check.run_id}"
            )
    for run in result.runs:
        if run.get("status") == "failed":
            fails.append(f"run {run['run_id']} ({run['kind']}) failed: {run.get('error') or ''}")
    if result.functional is not None and (result.functional.failed or result.functional.errors):
        fails.append(
            f"{result.functional.failed} failed and {result.functional.errors} errored of "
            f"{result.functional.steps} plan steps"
        )
    if result.security is not None:
        severe = sum(result.security.by_severity.get(s, 0) for s in ("critical", "high"))
        lesser = sum(result.security.by_severity.get(s, 0) for s in ("medium", "low"))
        if severe:
            fails.append(f"{severe} critical/high security finding(s)")
        if lesser:
            warns.append(f"{lesser} medium/low security finding(s)")
    if result.load is not None and result.load.errors:
        warns.append(
            f"{result.load.errors} of {result.load.requests} load requests failed "
            f"({result.load.error_rate:.2%})"
        )
    if result.anomalies:
        warns.append(
            f"{len(result.anomalies)} anomal{'y' if len(result.anomalies) == 1 else 'ies'}"
        )
    if fails:
        return "fail", fails + warns
    if warns:
        return "warn", warns
    return "pass", ["no check failed, no step failed, no error, no anomaly, no finding"]


def _summary(result: AnalysisResult) -> str:
    parts = [f"{len(result.runs)} run(s) analysed: verdict {result.verdict.upper()}"]
    load = result.load
    if load is not None:
        lat = load.latency
        parts.append(
            f"load: {load.requests} requests at {load.achieved_rps:.1f} req/s, error rate "
            f"{load.error_rate:.2%}, p50 {lat.get('p50_ms')} ms, p95 {lat.get('p95_ms')} ms, "
            f"p99 {lat.get('p99_ms')} ms"
        )
    if result.functional is not None:
        f = result.functional
        rate = "n/a" if f.pass_rate is None else f"{f.pass_rate:.0%}"
        parts.append(f"plans: {f.passed}/{f.steps} steps passed ({rate})")
    if result.security is not None:
        sev = ", ".join(f"{n} {s}" for s, n in result.security.by_severity.items() if n)
        parts.append(f"security: {result.security.findings} finding(s) ({sev or 'none'})")
    failed = [c for c in result.checks if not c.passed]
    if result.checks:
        parts.append(f"checks: {len(result.checks) - len(failed)}/{len(result.checks)} passed")
    if result.anomalies:
        parts.append("anomalies: " + "; ".join(a.detail for a in result.anomalies[:3]))
    if result.recommendations:
        parts.append(f"top recommendation: {result.recommendations[0].title}")
    return ". ".join(parts) + "."


def analyze_runs(
    records: list[RunRecord],
    analysis_type: str = "comprehensive",
    include_recommendations: bool = True,
    slo: dict[str, Any] | None = None,
    context_id: str | None = None,
) -> AnalysisResult:
    """The analysis of `records`; ConfigError for an unknown analysis type or SLO metric."""
    if analysis_type not in ANALYSIS_TYPES:
        raise ConfigError(
            f"unknown analysis_type {analysis_type!r}; use one of: {', '.join(ANALYSIS_TYPES)}"
        )
    if not records:
        raise ConfigError("nothing to analyse: give test_results, run_ids or a context_id")
    limits = _check_slo(slo)
    runs = []
    for record in records:
        entry: dict[str, Any] = {
            "run_id": record.run_id,
            "kind": record.kind,
            "status": record.status,
            "server_url": record.server_url,
        }
        if record.result.get("error"):
            entry["error"] = record.result["error"]
        runs.append(entry)
    want = {
        "comprehensive": {"load", "functional", "security"},
        "performance": {"load"},
        "functional": {"functional"},
        "security": {"security"},
    }[analysis_type]
    checks: list[Check] = []
    anomalies: list[Anomaly] = []
    load_parts = [(r, part) for r in records if (part := load_part(r)) is not None]
    load = None
    if "load" in want and load_parts:
        load = _load_analysis(load_parts)
        for record, part in load_parts:
            for verdict in part.get("thresholds") or []:
                checks.append(
                    Check(
                        run_id=record.run_id,
                        source="threshold",
                        metric=verdict["metric"],
                        limit=verdict["limit"],
                        actual=verdict.get("actual"),
                        passed=bool(verdict["passed"]),
                    )
                )
            checks.extend(_slo_checks(record.run_id, part, limits))
            anomalies.extend(find_anomalies(record.run_id, part.get("time_series") or []))
    plans = [r for r in records if r.kind == "test_plan"]
    functional = _functional(plans) if "functional" in want and plans else None
    security_runs = [r for r in records if r.kind == "security"]
    security = security_view(security_runs) if "security" in want and security_runs else None
    result = AnalysisResult(
        analysis_type=analysis_type,
        runs=runs,
        load=load,
        functional=functional,
        security=security,
        checks=checks,
        anomalies=anomalies,
        bottlenecks=_bottlenecks(load) if load is not None else [],
        verdict="pass",
        reasons=[],
        summary="",
        context_id=context_id,
    )
    if include_recommendations:
        result.recommendations = _recommend(result)
    result.verdict, result.reasons = _verdict(result)
    result.summary = _summary(result)
    return result
