"""Baseline against comparison: deltas per metric and per operation, each classified improved,
regressed or unchanged by a stated threshold and a statistical test.

A change is called only when it is both large enough to matter (beyond `threshold_pct` of the
baseline, and for latency beyond `min_latency_delta_ms`) and unlikely to be chance:

- mean and median latency: Mann-Whitney U over every response's latency (the HDR histograms),
  significant when p < `alpha` and the effect size A12 is at least "small" (|A12 - 0.5| >=
  0.06): huge samples make tiny, meaningless shifts significant, the effect size does not;
- p95 and p99: distribution-free confidence intervals of the quantile on each side (binomial
  order statistics); significant when the intervals do not overlap; the tails need twice
  `threshold_pct` (they move more between runs of one service on a shared machine);
- throughput: Mann-Whitney U over the per-second request rates (first and last seconds out);
- error rate: a two-proportion z-test, and an absolute change of at least
  `min_error_rate_delta`.

Test plans compare step by step (passed -> failed is a regression); security tests compare
their findings (a new one is a regression, a resolved one an improvement).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

from pydantic import Field

from mockloop.errors import ConfigError
from mockloop.load.histogram import latency_summary, merge_encoded
from mockloop.results import Result
from mockloop.testing.analysis.stats import histogram_counts, mann_whitney, two_proportion
from mockloop.testing.inputs import RunRecord
from mockloop.testing.run_views import load_part, plan_steps

__all__ = ["COMPARISON_METRICS", "ComparisonResult", "MetricComparison", "compare_runs"]

COMPARISON_METRICS = (
    "throughput",
    "latency_mean",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "error_rate",
)
Classification = Literal["improved", "regressed", "unchanged"]
_MIN_EFFECT = 0.06
_Z = {0.1: 1.645, 0.05: 1.96, 0.01: 2.576, 0.001: 3.291}


class MetricComparison(Result):
    """One metric, overall or for one operation, in both runs."""

    metric: str
    scope: str = Field(description='"overall", an operation, or a test plan step')
    baseline: float | None
    comparison: float | None
    delta: float | None
    delta_pct: float | None
    better: Literal["lower", "higher"]
    classification: Classification
    significant: bool | None = Field(description="None when no test applies (too few samples)")
    test: dict[str, Any] | None = Field(
        default=None, description="the statistical test: its name, p-value or intervals, sizes"
    )
    reason: str


with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "summary"', category=UserWarning)

    class ComparisonResult(Result):
        """How the comparison runs differ from the baseline runs."""

        verdict: Classification = Field(
            description="regressed when any metric regressed; improved when some improved and "
            "none regressed; else unchanged"
        )
        baseline_runs: list[str]
        comparison_runs: list[str]
        thresholds: dict[str, float] = Field(description="what counted as a change")
        metrics: list[MetricComparison] = Field(description="overall metrics")
        operations: list[MetricComparison] = Field(description="per-operation metrics")
        steps: list[MetricComparison] = Field(
            default_factory=list, description="test plan steps whose outcome changed or held"
        )
        findings: dict[str, list[dict[str, Any]]] = Field(
            default_factory=dict, description="security findings: new, resolved, persisting"
        )
        regressions: list[str] = Field(description="each regression in words, with figures")
        improvements: list[str]
        summary: str = Field(  # pyright: ignore[reportIncompatibleMethodOverride]
            description="a paragraph an agent can quote"
        )


class _Side:
    """One side of the comparison with its load runs merged."""

    def __init__(self, records: list[RunRecord]) -> None:
        self.records = records
        self.loads = [part for r in records if (part := load_part(r)) is not None]
        encoded = [load.get("histogram") or "" for load in self.loads]
        self.exact = bool(encoded) and all(encoded)
        self.histogram = merge_encoded(encoded) if self.exact else None
        self.requests = sum(int(load.get("total_requests") or 0) for load in self.loads)
        self.errors = sum(int(load.get("failed_requests") or 0) for load in self.loads)
        self.elapsed = sum(float(load.get("elapsed_s") or 0.0) for load in self.loads)
        self.rates: list[float] = []
        for load in self.loads:
            series = [s for s in load.get("time_series") or [] if s.get("requests")]
            inner = series[1:-1] if len(series) > 2 else series
            self.rates.extend(float(s.get("rps") or 0.0) for s in inner)
        self.latency = latency_summary(self.histogram) if self.histogram is not None else {}
        self.operations: dict[str, dict[str, Any]] = {}
        for load in self.loads:
            for op in load.get("operations") or []:
                entry = self.operations.setdefault(
                    op["name"], {"histograms": [], "requests": 0, "errors": 0}
                )
                entry["histograms"].append(op.get("histogram") or "")
                kinds = op.get("errors_by_kind") or {}
                failures = sum(n for kind, n in kinds.items() if kind != "bad_status")
                entry["requests"] += int(op.get("requests") or 0) + failures
                entry["errors"] += int(op.get("errors") or 0)


def _pct(base: float | None, new: float | None) -> tuple[float | None, float | None]:
    if base is None or new is None:
        return None, None
    delta = new - base
    if base == 0:
        return round(delta, 6), (0.0 if delta == 0 else math.copysign(math.inf, delta))
    return round(delta, 6), round(100.0 * delta / base, 2)


def _classify(
    metric: str,
    scope: str,
    base: float | None,
    new: float | None,
    better: Literal["lower", "higher"],
    significant: bool | None,
    test: dict[str, Any] | None,
    big_enough: bool,
) -> MetricComparison:
    delta, delta_pct = _pct(base, new)
    classification: Classification = "unchanged"
    if base is None or new is None:
        reason = "not measured on both sides"
    elif not big_enough:
        reason = "the change is within the threshold"
    elif significant is None:
        reason = "too few samples for a test: no change is claimed"
    elif not significant:
        reason = "the change is not statistically significant"
    else:
        worse = (new > base) if better == "lower" else (new < base)
        classification = "regressed" if worse else "improved"
        reason = f"{delta_pct:+.1f}% and significant" if delta_pct is not None else "significant"
    return MetricComparison(
        metric=metric,
        scope=scope,
        baseline=base,
        comparison=new,
        delta=delta,
        delta_pct=delta_pct,
        better=better,
        classification=classification,
        significant=significant,
        test=test,
        reason=reason,
    )


def _quantile_interval(
    counts: dict[int, int], q: float, z: float
) -> tuple[float, float, float] | None:
    """(low, estimate, high) in ms of the q-quantile, distribution-free (binomial ranks)."""
    n = sum(counts.values())
    if n < 20:
        return None
    spread = z * math.sqrt(n * q * (1 - q))
    ranks = (max(1, math.floor(n * q - spread)), max(1, math.ceil(n * q)), n * q + spread)
    wanted = [min(n, max(1, math.ceil(r))) for r in ranks]
    values: list[float] = []
    seen = 0
    pending = sorted(enumerate(wanted), key=lambda item: item[1])
    found: dict[int, float] = {}
    for value in sorted(counts):
        seen += counts[value]
        while pending and pending[0][1] <= seen:
            index, _ = pending.pop(0)
            found[index] = value / 1000.0
    values = [found[i] for i in range(3)]
    return values[0], values[1], values[2]


def _latency_metrics(
    scope: str,
    base_hist: Any,
    new_hist: Any,
    threshold_pct: float,
    min_delta_ms: float,
    alpha: float,
    wanted: list[str],
) -> list[MetricComparison]:
    base_counts = histogram_counts(base_hist)
    new_counts = histogram_counts(new_hist)
    base_summary = latency_summary(base_hist)
    new_summary = latency_summary(new_hist)
    results = []
    rank = mann_whitney(base_counts, new_counts)
    z = _Z.get(alpha, 1.96)
    for metric in wanted:
        key = {"latency_mean": "mean_ms", "latency_p50": "p50_ms"}.get(metric)
        quantile = {"latency_p95": 0.95, "latency_p99": 0.99}.get(metric)
        if key is None and quantile is None:
            continue
        key = key or {"latency_p95": "p95_ms", "latency_p99": "p99_ms"}[metric]
        base, new = base_summary.get(key), new_summary.get(key)
        # Tails move more between runs of one service on a shared machine than the centre
        # does (a busier neighbour shows first in p95/p99), so they need twice the change.
        relative = threshold_pct * (2.0 if quantile is not None else 1.0)
        big = (
            base is not None
            and new is not None
            and abs(new - base) >= min_delta_ms
            and abs(new - base) > relative / 100.0 * base
        )
        if quantile is None:
            significant = None
            test = None
            if rank is not None:
                significant = rank.p_value < alpha and abs(rank.a12 - 0.5) >= _MIN_EFFECT
                test = rank.as_dict()
        else:
            first = _quantile_interval(base_counts, quantile, z)
            second = _quantile_interval(new_counts, quantile, z)
            significant = None
            test = None
            if first is not None and second is not None:
                significant = first[2] < second[0] or second[2] < first[0]
                test = {
                    "test": f"distribution-free {1 - alpha:.0%} confidence intervals of the "
                    f"{quantile:.0%} quantile (binomial order statistics); significant when "
                    "they do not overlap",
                    "baseline_interval_ms": [first[0], first[2]],
                    "comparison_interval_ms": [second[0], second[2]],
                }
        results.append(_classify(metric, scope, base, new, "lower", significant, test, big))
    return results


def _error_metric(
    scope: str,
    base: tuple[int, int],
    new: tuple[int, int],
    min_delta: float,
    alpha: float,
) -> MetricComparison:
    (e1, n1), (e2, n2) = base, new
    rate1 = round(e1 / n1, 6) if n1 else None
    rate2 = round(e2 / n2, 6) if n2 else None
    test = two_proportion(e1, n1, e2, n2)
    significant = None if test is None else float(test["p_value"]) < alpha
    big = rate1 is not None and rate2 is not None and abs(rate2 - rate1) >= min_delta
    return _classify("error_rate", scope, rate1, rate2, "lower", significant, test, big)


def _load_comparisons(
    base: _Side, new: _Side, wanted: list[str], limits: dict[str, float]
) -> tuple[list[MetricComparison], list[MetricComparison]]:
    overall: list[MetricComparison] = []
    alpha = limits["alpha"]
    if "throughput" in wanted:
        rate_base = round(base.requests / base.elapsed, 2) if base.elapsed else None
        rate_new = round(new.requests / new.elapsed, 2) if new.elapsed else None
        rank = (
            mann_whitney(base.rates, new.rates) if len(base.rates) >= 3 <= len(new.rates) else None
        )
        significant = None if rank is None else rank.p_value < alpha
        big = (
            rate_base is not None
            and rate_new is not None
            and abs(rate_new - rate_base) > limits["threshold_pct"] / 100.0 * rate_base
        )
        overall.append(
            _classify(
                "throughput",
                "overall",
                rate_base,
                rate_new,
                "higher",
                significant,
                rank.as_dict() if rank else None,
                big,
            )
        )
    latency_wanted = [m for m in wanted if m.startswith("latency_")]
    if latency_wanted and base.histogram is not None and new.histogram is not None:
        overall += _latency_metrics(
            "overall",
            base.histogram,
            new.histogram,
            limits["threshold_pct"],
            limits["min_latency_delta_ms"],
            alpha,
            latency_wanted,
        )
    if "error_rate" in wanted:
        overall.append(
            _error_metric(
                "overall",
                (base.errors, base.requests),
                (new.errors, new.requests),
                limits["min_error_rate_delta"],
                alpha,
            )
        )
    per_op: list[MetricComparison] = []
    for name in sorted(set(base.operations) & set(new.operations)):
        first, second = base.operations[name], new.operations[name]
        if latency_wanted and all(first["histograms"]) and all(second["histograms"]):
            per_op += _latency_metrics(
                name,
                merge_encoded(first["histograms"]),
                merge_encoded(second["histograms"]),
                limits["threshold_pct"],
                limits["min_latency_delta_ms"],
                alpha,
                [m for m in latency_wanted if m in ("latency_p50", "latency_p95")],
            )
        if "error_rate" in wanted:
            per_op.append(
                _error_metric(
                    name,
                    (first["errors"], first["requests"]),
                    (second["errors"], second["requests"]),
                    limits["min_error_rate_delta"],
                    alpha,
                )
            )
    return overall, per_op


def _step_comparisons(base: list[RunRecord], new: list[RunRecord]) -> list[MetricComparison]:
    def outcomes(records: list[RunRecord]) -> dict[str, str]:
        found: dict[str, str] = {}
        for record in records:
            for step in plan_steps(record):
                found[step.name] = step.outcome
        return found

    first, second = outcomes(base), outcomes(new)
    results = []
    for name in sorted(set(first) & set(second)):
        was, now = first[name], second[name]
        passed_before, passed_now = was == "passed", now == "passed"
        classification: Classification = "unchanged"
        if passed_before and now in ("failed", "error"):
            classification = "regressed"
        elif was in ("failed", "error") and passed_now:
            classification = "improved"
        results.append(
            MetricComparison(
                metric="step_outcome",
                scope=name,
                baseline=1.0 if passed_before else 0.0,
                comparison=1.0 if passed_now else 0.0,
                delta=(1.0 if passed_now else 0.0) - (1.0 if passed_before else 0.0),
                delta_pct=None,
                better="higher",
                classification=classification,
                significant=None,
                test=None,
                reason=f"{was} -> {now}",
            )
        )
    return results


def _finding_key(finding: dict[str, Any]) -> str:
    return f"{finding.get('category')} | {finding.get('operation')} | {finding.get('title')}"


def _finding_changes(
    base: list[RunRecord], new: list[RunRecord]
) -> dict[str, list[dict[str, Any]]]:
    def index(records: list[RunRecord]) -> dict[str, dict[str, Any]]:
        return {
            _finding_key(f): {k: f.get(k) for k in ("category", "severity", "operation", "title")}
            for record in records
            for f in record.result.get("findings") or []
        }

    first, second = index(base), index(new)
    return {
        "new": [second[k] for k in sorted(set(second) - set(first))],
        "resolved": [first[k] for k in sorted(set(first) - set(second))],
        "persisting": [second[k] for k in sorted(set(first) & set(second))],
    }


def _describe(item: MetricComparison) -> str:
    where = "" if item.scope == "overall" else f" of {item.scope}"
    if item.metric == "step_outcome":
        return f"step {item.scope}: {item.reason}"
    pct = f" ({item.delta_pct:+.1f}%)" if item.delta_pct not in (None, math.inf, -math.inf) else ""
    test = item.test or {}
    if "p_value" in test:
        p_value = float(test["p_value"])
        # erfc underflows to 0 past z of about 38: say how small rather than "p = 0".
        evidence = ", p < 1e-300" if p_value == 0 else f", p = {p_value:.3g}"
    elif "baseline_interval_ms" in test:
        b, c = test["baseline_interval_ms"], test["comparison_interval_ms"]
        evidence = f", intervals {b[0]:g}-{b[1]:g} vs {c[0]:g}-{c[1]:g} ms"
    else:
        evidence = ""
    return f"{item.metric}{where}: {item.baseline:g} -> {item.comparison:g}{pct}{evidence}"


def compare_runs(
    baseline: list[RunRecord],
    comparison: list[RunRecord],
    metrics: list[str] | None = None,
    threshold_pct: float = 20.0,
    min_latency_delta_ms: float = 2.0,
    min_error_rate_delta: float = 0.01,
    alpha: float = 0.05,
) -> ComparisonResult:
    """Compare the two sides; ConfigError for unknown metrics or unusable settings."""
    if not baseline or not comparison:
        side = "baseline_results" if not baseline else "comparison_results"
        raise ConfigError(f"{side} is empty: give at least one run on each side")
    wanted: list[str] = list(metrics) if metrics else list(COMPARISON_METRICS)
    unknown = [m for m in wanted if m not in COMPARISON_METRICS]
    if unknown:
        raise ConfigError(
            f"unknown comparison_metrics {unknown}; use any of: {', '.join(COMPARISON_METRICS)}"
        )
    if alpha not in _Z:
        raise ConfigError(f"alpha={alpha} must be one of {sorted(_Z)}")
    if threshold_pct < 0 or min_latency_delta_ms < 0 or min_error_rate_delta < 0:
        raise ConfigError(
            "threshold_pct, min_latency_delta_ms and min_error_rate_delta must be >= 0"
        )
    limits = {
        "threshold_pct": float(threshold_pct),
        "min_latency_delta_ms": float(min_latency_delta_ms),
        "min_error_rate_delta": float(min_error_rate_delta),
        "alpha": float(alpha),
    }
    base, new = _Side(baseline), _Side(comparison)
    overall: list[MetricComparison] = []
    per_op: list[MetricComparison] = []
    if base.loads and new.loads:
        overall, per_op = _load_comparisons(base, new, wanted, limits)
    steps = _step_comparisons(
        [r for r in baseline if r.kind == "test_plan"],
        [r for r in comparison if r.kind == "test_plan"],
    )
    security_base = [r for r in baseline if r.kind == "security"]
    security_new = [r for r in comparison if r.kind == "security"]
    findings = (
        _finding_changes(security_base, security_new) if security_base and security_new else {}
    )
    if not (overall or per_op or steps or findings):
        kinds = sorted({r.kind for r in baseline}), sorted({r.kind for r in comparison})
        raise ConfigError(
            f"nothing comparable: the baseline holds {kinds[0]} runs and the comparison "
            f"{kinds[1]}; compare load runs (or iterations) with load runs, plans with plans, "
            "security tests with security tests"
        )
    everything = overall + per_op + steps
    regressions = [_describe(m) for m in everything if m.classification == "regressed"]
    improvements = [_describe(m) for m in everything if m.classification == "improved"]
    regressions += [
        f"new finding: {f['severity']} {f['category']} on {f['operation']}: {f['title']}"
        for f in findings.get("new", [])
    ]
    improvements += [
        f"resolved finding: {f['category']} on {f['operation']}: {f['title']}"
        for f in findings.get("resolved", [])
    ]
    verdict: Classification = (
        "regressed" if regressions else "improved" if improvements else "unchanged"
    )
    text = [f"comparison verdict: {verdict.upper()}"]
    if regressions:
        text.append("regressed: " + "; ".join(regressions[:4]))
    if improvements:
        text.append("improved: " + "; ".join(improvements[:4]))
    if not regressions and not improvements:
        text.append(
            f"no metric moved beyond {threshold_pct:g}% (and {min_latency_delta_ms:g} ms for "
            f"latency) with significance at alpha {alpha:g}"
        )
    return ComparisonResult(
        verdict=verdict,
        baseline_runs=[r.run_id for r in baseline],
        comparison_runs=[r.run_id for r in comparison],
        thresholds=limits,
        metrics=overall,
        operations=per_op,
        steps=steps,
        findings=findings,
        regressions=regressions,
        improvements=improvements,
        summary=". ".join(text) + ".",
    )
