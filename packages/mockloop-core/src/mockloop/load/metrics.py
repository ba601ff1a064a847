"""Aggregation across load runs: one figure per metric (and per operation) by a chosen method.

Per-run figures are aggregated as asked (average, median, p95, max, min or sum over the runs).
Besides, when the runs carry their HDR histograms, `combined_latency` gives the exact
percentiles of every request of all the runs together: a p99 of the union, which no average of
per-run p99s can give.
"""

from __future__ import annotations

import statistics
from typing import Any, Literal

from pydantic import Field

from mockloop.errors import ConfigError
from mockloop.load.histogram import decode_histogram, latency_summary, new_histogram
from mockloop.load.report import LatencyStats
from mockloop.results import Result

__all__ = [
    "AGGREGATIONS",
    "METRICS",
    "Aggregation",
    "PerformanceMetricsResult",
    "aggregate",
    "aggregate_runs",
]

Aggregation = Literal["average", "median", "p95", "max", "min", "sum"]
AGGREGATIONS: tuple[str, ...] = Aggregation.__args__  # type: ignore[attr-defined]
_LATENCY = ("min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")
METRICS: tuple[str, ...] = (
    "total_requests",
    "failed_requests",
    "achieved_rps",
    "error_rate",
    *_LATENCY,
    "cpu_percent",
)
_OPERATION_METRICS = ("requests", "errors", "achieved_rps", "error_rate", *_LATENCY)


class PerformanceMetricsResult(Result):
    """Metrics aggregated across load runs, overall and per operation."""

    runs: list[str] = Field(description="the run ids aggregated, in the order given")
    aggregation_method: str
    metric_types: list[str]
    metrics: dict[str, float | None] = Field(description="each metric aggregated over the runs")
    per_run: list[dict[str, Any]] = Field(description="each run's own figures")
    per_operation: dict[str, dict[str, float | None]] = Field(
        description="per operation name, each metric aggregated over the runs that sent it"
    )
    combined_latency: LatencyStats | None = Field(
        default=None,
        description="exact percentiles over every response of the runs that carry histograms",
    )
    notes: list[str] = Field(default_factory=list)


def aggregate(values: list[float | None], method: str) -> float | None:
    """`values` (Nones left out) reduced by `method`; None when no value is left."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    if method == "average":
        value = statistics.fmean(present)
    elif method == "median":
        value = statistics.median(present)
    elif method == "p95":
        ordered = sorted(present)
        rank = 0.95 * (len(ordered) - 1)
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    elif method == "max":
        value = max(present)
    elif method == "min":
        value = min(present)
    elif method == "sum":
        value = sum(present)
    else:
        raise ConfigError(f"unknown aggregation_method {method!r}; use one of {AGGREGATIONS}")
    return round(value, 6)


def _run_figures(result: dict[str, Any]) -> dict[str, float | None]:
    latency = result.get("latency") or {}
    generator = result.get("generator") or {}
    figures: dict[str, float | None] = {
        "total_requests": result.get("total_requests"),
        "failed_requests": result.get("failed_requests"),
        "achieved_rps": result.get("achieved_rps"),
        "error_rate": result.get("error_rate"),
        "cpu_percent": generator.get("cpu_percent"),
    }
    figures.update({name: latency.get(name) for name in _LATENCY})
    return figures


def aggregate_runs(
    results: list[dict[str, Any]], metric_types: list[str] | None, method: str
) -> PerformanceMetricsResult:
    """Aggregate load results (their JSON form); ConfigError for unknown metrics or methods."""
    if method not in AGGREGATIONS:
        raise ConfigError(
            f"unknown aggregation_method {method!r}; use one of: {', '.join(AGGREGATIONS)}"
        )
    chosen = list(metric_types) if metric_types else list(METRICS)
    unknown = [m for m in chosen if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric_types {unknown}; use any of: {', '.join(METRICS)}")
    for index, result in enumerate(results):
        if not isinstance(result, dict) or "latency" not in result:
            raise ConfigError(
                f"test_results[{index}] is not a load test result (it has no 'latency'); pass "
                "what run_load_test returned, or use run_ids"
            )
    per_run = []
    for index, result in enumerate(results):
        figures = _run_figures(result)
        per_run.append(
            {"run_id": result.get("run_id", f"#{index}")} | {m: figures[m] for m in chosen}
        )
    metrics = {m: aggregate([run[m] for run in per_run], method) for m in chosen}
    per_operation: dict[str, dict[str, float | None]] = {}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        for op in result.get("operations") or []:
            by_name.setdefault(op["name"], []).append(op)
    wanted = [m for m in _OPERATION_METRICS if m in chosen or m in ("requests", "errors")]
    for name, entries in by_name.items():
        per_operation[name] = {
            m: aggregate([e.get(m, (e.get("latency") or {}).get(m)) for e in entries], method)
            for m in wanted
        }
    combined = new_histogram()
    missing = 0
    for result in results:
        encoded = result.get("histogram")
        if encoded:
            combined.add(decode_histogram(encoded))
        else:
            missing += 1
    notes = []
    if missing:
        notes.append(f"{missing} run(s) carry no histogram: combined_latency leaves them out")
    return PerformanceMetricsResult(
        runs=[str(run["run_id"]) for run in per_run],
        aggregation_method=method,
        metric_types=chosen,
        metrics=metrics,
        per_run=per_run,
        per_operation=per_operation,
        combined_latency=(
            LatencyStats(**latency_summary(combined)) if combined.get_total_count() else None
        ),
        notes=notes,
    )
