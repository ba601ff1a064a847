"""A load run's result: the models, and how worker reports become one result.

Latency figures come from HDR histograms merged exactly across processes; every latency is a
response's (of any status), measured from the send time in the closed model and from the
scheduled time in the open model. Connection errors and timeouts have no latency; they are
counted by kind. A response with status 400 or above counts as a `bad_status` error.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mockloop.load.histogram import (
    decode_histogram,
    encode_histogram,
    latency_summary,
    merge_encoded,
)
from mockloop.load.plan import LoadPlan
from mockloop.redaction import redact_text, redact_value
from mockloop.results import Result

__all__ = [
    "GeneratorStats",
    "LatencyStats",
    "LoadMonitorResult",
    "LoadProgress",
    "LoadTestResult",
    "OperationStats",
    "SecondStats",
    "ThresholdVerdict",
    "build_result",
    "second_stats",
]

RunStatus = Literal["running", "completed", "stopped", "failed"]
#: Above this share of one core, a worker process counts as saturated.
SATURATION = 0.9


class LatencyStats(Result):
    """Latency percentiles in milliseconds (None when nothing was measured)."""

    count: int = 0
    min_ms: float | None = None
    mean_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    max_ms: float | None = None


class OperationStats(Result):
    """One entry of the request mix: its figures."""

    name: str
    method: str
    path: str
    requests: int = Field(description="responses received (any status)")
    errors: int = Field(description="failed requests: bad status, timeouts, connection errors")
    error_rate: float
    achieved_rps: float
    latency: LatencyStats
    status_counts: dict[str, int]
    errors_by_kind: dict[str, int]
    histogram: str = Field(
        default="", description="this operation's latency HDR histogram (µs), base64 encoded"
    )


class SecondStats(Result):
    """One second of the run (the last entry also holds what finished after the end)."""

    second: int
    requests: int
    errors: int
    rps: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    cpu_percent: float = Field(description="the busiest worker process's CPU, % of one core")


class GeneratorStats(Result):
    """What generating the load cost the machine it ran on."""

    processes: int
    event_loop: str
    cpu_seconds: float
    cpu_percent: float = Field(description="mean CPU per worker process, % of one core")
    saturated: bool = Field(description="a worker used over 90% of a core: figures are suspect")
    send_lag_mean_ms: float | None = Field(
        default=None, description="open model: how late arrivals were sent, on average"
    )
    send_lag_max_ms: float | None = None
    max_queued_arrivals: int = 0


class ThresholdVerdict(Result):
    """One threshold and whether the run met it."""

    metric: str
    limit: float
    actual: float | None
    passed: bool
    comparison: Literal["<=", ">="]


class LoadProgress(Result):
    """A running load test's progress, as of its last second."""

    elapsed_s: float
    remaining_s: float
    requests: int
    errors: int
    current_rps: float
    error_rate: float
    p95_ms: float | None = None


class LoadTestResult(Result):
    """The outcome of a load test (or, while it runs in the background, its state so far)."""

    run_id: str
    status: RunStatus
    server_url: str
    engine: str = "native"
    model: Literal["closed", "open"]
    started_at: float = Field(description="epoch seconds")
    finished_at: float | None = None
    duration_s: float = Field(description="the configured duration")
    elapsed_s: float = Field(default=0.0, description="measured time the load was sent for")
    concurrent_users: int
    target_rps: float | None = None
    processes: int
    total_requests: int = Field(default=0, description="requests attempted: responses + failures")
    responses: int = 0
    successful_requests: int = Field(default=0, description="responses with status below 400")
    failed_requests: int = 0
    error_rate: float = 0.0
    achieved_rps: float = Field(default=0.0, description="responses per second of load")
    bytes_received: int = 0
    latency: LatencyStats = Field(default_factory=LatencyStats)
    operations: list[OperationStats] = Field(default_factory=list)
    status_counts: dict[str, int] = Field(default_factory=dict)
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    time_series: list[SecondStats] = Field(default_factory=list)
    generator: GeneratorStats | None = None
    thresholds: list[ThresholdVerdict] = Field(default_factory=list)
    passed: bool | None = Field(default=None, description="every threshold met (None: none)")
    progress: LoadProgress | None = None
    warnings: list[str] = Field(default_factory=list)
    error: str | None = Field(default=None, description="why the run failed, when it did")
    plan: dict[str, Any] = Field(default_factory=dict)
    histogram: str = Field(
        default="", description="the whole run's HDR latency histogram (µs), base64 encoded"
    )

    def redacted(self) -> LoadTestResult:
        """A copy without secrets: the URL's credentials, the plan's secret headers and query
        values, and any secret quoted by an operation name, a warning or the error.

        What is stored, returned and reported is this copy; the plan that sends the load
        keeps the real headers.
        """
        return self.model_copy(
            update={
                "server_url": redact_text(self.server_url),
                "plan": redact_value(self.plan),
                "warnings": [redact_text(w) for w in self.warnings],
                "error": redact_text(self.error) if self.error else self.error,
                "operations": [
                    op.model_copy(
                        update={"name": redact_text(op.name), "path": redact_text(op.path)}
                    )
                    for op in self.operations
                ],
            }
        )

    def summary(self, limit: int = 600) -> str:
        """One paragraph: throughput, latency, errors, verdicts."""
        lat = self.latency
        text = (
            f"load run {self.run_id} ({self.status}) against {self.server_url}: "
            f"{self.total_requests} requests in {self.elapsed_s:.1f} s, "
            f"{self.achieved_rps:.1f} req/s, error rate {self.error_rate:.2%}; latency ms "
            f"p50 {lat.p50_ms} p95 {lat.p95_ms} p99 {lat.p99_ms} max {lat.max_ms}"
        )
        if self.errors_by_kind:
            text += "; errors " + ", ".join(f"{k} {v}" for k, v in self.errors_by_kind.items())
        if self.passed is not None:
            text += "; thresholds " + ("passed" if self.passed else "FAILED")
        return text if len(text) <= limit else text[: limit - 3] + "..."


def second_stats(
    second: int, requests: int, errors: int, histogram: Any, wall: float, cpu: float
) -> SecondStats:
    """One time-series entry from the merged tick of every worker."""
    summary = latency_summary(histogram)
    return SecondStats(
        second=second,
        requests=requests,
        errors=errors,
        rps=round(requests / wall, 2) if wall > 0 else 0.0,
        p50_ms=summary["p50_ms"],
        p95_ms=summary["p95_ms"],
        p99_ms=summary["p99_ms"],
        max_ms=summary["max_ms"],
        cpu_percent=round(cpu * 100, 1),
    )


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def build_result(
    base: LoadTestResult, plan: LoadPlan, reports: list[dict[str, Any]]
) -> LoadTestResult:
    """`base` (identity, settings, time series) completed with the workers' final reports."""
    elapsed = max((r["elapsed_s"] for r in reports), default=0.0)
    operations = []
    all_statuses: dict[str, int] = {}
    all_errors: dict[str, int] = {}
    every: list[str] = []
    responses = failures = bad = 0
    for op, template in enumerate(plan.templates):
        encoded = [r["histograms"][op] for r in reports]
        every.extend(encoded)
        histogram = merge_encoded(encoded)
        statuses: dict[str, int] = {}
        errors: dict[str, int] = {}
        for report in reports:
            for status, count in report["statuses"][op].items():
                statuses[str(status)] = statuses.get(str(status), 0) + count
            for kind, count in report["errors"][op].items():
                errors[kind] = errors.get(kind, 0) + count
        op_responses = sum(statuses.values())
        op_bad = sum(count for status, count in statuses.items() if int(status) >= 400)
        if op_bad:
            errors["bad_status"] = op_bad
        op_failures = sum(count for kind, count in errors.items() if kind != "bad_status")
        attempted = op_responses + op_failures
        operations.append(
            OperationStats(
                name=template.name,
                method=template.method,
                path=template.path_template or template.targets[0],
                requests=op_responses,
                errors=op_bad + op_failures,
                error_rate=_ratio(op_bad + op_failures, attempted),
                achieved_rps=round(op_responses / elapsed, 2) if elapsed else 0.0,
                latency=LatencyStats(**latency_summary(histogram)),
                status_counts=dict(sorted(statuses.items())),
                errors_by_kind=dict(sorted(errors.items())),
                histogram=encode_histogram(histogram),
            )
        )
        responses += op_responses
        failures += op_failures
        bad += op_bad
        for status, count in statuses.items():
            all_statuses[status] = all_statuses.get(status, 0) + count
        for kind, count in errors.items():
            all_errors[kind] = all_errors.get(kind, 0) + count
    merged = merge_encoded(every)
    cpu = sum(r["cpu_s"] for r in reports)
    per_process = [r["cpu_s"] / r["elapsed_s"] for r in reports if r["elapsed_s"] > 0]
    lags = [r["lag_mean_ms"] for r in reports if r["lag_mean_ms"] is not None]
    lag_max = [r["lag_max_ms"] for r in reports if r["lag_max_ms"] is not None]
    saturated = any(share >= SATURATION for share in per_process)
    generator = GeneratorStats(
        processes=len(reports),
        event_loop=reports[0]["loop"] if reports else "",
        cpu_seconds=round(cpu, 3),
        cpu_percent=round(100 * sum(per_process) / len(per_process), 1) if per_process else 0.0,
        saturated=saturated,
        send_lag_mean_ms=round(sum(lags) / len(lags), 3) if lags else None,
        send_lag_max_ms=round(max(lag_max), 3) if lag_max else None,
        max_queued_arrivals=max((r["max_queue"] for r in reports), default=0),
    )
    warnings = list(base.warnings)
    if saturated:
        warnings.append(
            "the load generator saturated its CPU (a worker process used over 90% of a "
            "core): latencies include the generator's own queueing and the rate is what the "
            "generator could send; run with more processes (processes=N) or fewer users"
        )
    connections = max(1, plan.users // max(1, plan.processes))
    if plan.rate is not None and generator.max_queued_arrivals >= connections:
        warnings.append(
            f"up to {generator.max_queued_arrivals} arrivals waited for a free connection: "
            f"the server was slower than concurrent_users={plan.users} connections can carry "
            f"at {plan.rate} req/s; their waiting time is in the latencies"
        )
    attempted = responses + failures
    return base.model_copy(
        update={
            "elapsed_s": round(elapsed, 3),
            "total_requests": attempted,
            "responses": responses,
            "successful_requests": responses - bad,
            "failed_requests": bad + failures,
            "error_rate": _ratio(bad + failures, attempted),
            "achieved_rps": round(responses / elapsed, 2) if elapsed else 0.0,
            "bytes_received": sum(r.get("bytes", 0) for r in reports),
            "latency": LatencyStats(**latency_summary(merged)),
            "operations": operations,
            "status_counts": dict(sorted(all_statuses.items())),
            "errors_by_kind": dict(sorted(all_errors.items())),
            "generator": generator,
            "warnings": warnings,
            "histogram": merged.encode().decode("ascii") if merged.get_total_count() else "",
        }
    )


def histogram_of(result: LoadTestResult | dict[str, Any]) -> Any:
    """The decoded HDR histogram of a result (or of its JSON form); None when it has none."""
    text = result.get("histogram") if isinstance(result, dict) else result.histogram
    return decode_histogram(text) if text else None


class LoadMonitorResult(Result):
    """A load run's progress: live while it runs, final once done."""

    run_id: str
    status: str = Field(
        description="running, completed, stopped, failed, or interrupted (its process is gone)"
    )
    server_url: str
    started_at: float
    updated_at: float
    elapsed_s: float
    remaining_s: float
    requests: int
    errors: int
    current_rps: float
    error_rate: float
    p95_ms: float | None = None
    message: str
    result: LoadTestResult | None = Field(default=None, description="the final result, once done")
