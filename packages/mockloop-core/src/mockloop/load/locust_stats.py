"""Locust's CSV statistics read back into the native engine's result model.

`PREFIX_stats.csv` gives per-entry counts and latency (Locust rounds response times above
100 ms to two significant figures and reports whole-millisecond percentiles);
`PREFIX_stats_history.csv` the per-second series; `PREFIX_failures.csv` the failures by
message, mapped to the native error kinds; the status counts come from the rendered
locustfile's own counters (see `locust_engine`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from mockloop.load.plan import LoadPlan
from mockloop.load.report import (
    SATURATION,
    GeneratorStats,
    LatencyStats,
    LoadTestResult,
    OperationStats,
    SecondStats,
)

__all__ = ["error_kind", "read_history", "read_result"]

_AGGREGATED = "Aggregated"
#: How the native engine names what Locust reports as failure messages, first match wins.
_KINDS = (
    ("bad_status", "bad_status"),
    ("ConnectionRefused", "connection_refused"),
    ("Connection refused", "connection_refused"),
    ("ConnectionReset", "connection_reset"),
    ("reset by peer", "connection_reset"),
    ("imeout", "timeout"),
    ("timed out", "timeout"),
    ("SSL", "tls"),
    ("certificate", "tls"),
)


def error_kind(message: str) -> str:
    """The native error kind of a Locust failure message (`connection_error` if unknown)."""
    for needle, kind in _KINDS:
        if needle in message:
            return kind
    return "connection_error"


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error):
        return []


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None
    return number


def _latency(row: dict[str, str], count: int) -> LatencyStats:
    if not count:
        return LatencyStats()
    return LatencyStats(
        count=count,
        min_ms=_round(_number(row.get("Min Response Time"))),
        mean_ms=_round(_number(row.get("Average Response Time"))),
        p50_ms=_number(row.get("50%")),
        p90_ms=_number(row.get("90%")),
        p95_ms=_number(row.get("95%")),
        p99_ms=_number(row.get("99%")),
        p999_ms=_number(row.get("99.9%")),
        max_ms=_round(_number(row.get("Max Response Time"))),
    )


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def read_history(prefix: Path) -> list[SecondStats]:
    """The per-second series so far, from the master's `_stats_history.csv` (its "Aggregated"
    rows; percentiles are Locust's current ones, over its last 10 s window)."""
    rows = [r for r in _rows(Path(f"{prefix}_stats_history.csv")) if r.get("Name") == _AGGREGATED]
    series: list[SecondStats] = []
    last_requests = last_failures = 0
    last_time: float | None = None
    for row in rows:
        total = int(_number(row.get("Total Request Count")) or 0)
        failures = int(_number(row.get("Total Failure Count")) or 0)
        stamp = _number(row.get("Timestamp")) or 0.0
        if total == 0 or total == last_requests:
            last_time = stamp
            continue
        wall = stamp - last_time if last_time is not None and stamp > last_time else 1.0
        requests = total - last_requests
        series.append(
            SecondStats(
                second=len(series) + 1,
                requests=requests,
                errors=failures - last_failures,
                rps=round(requests / wall, 2),
                p50_ms=_number(row.get("50%")),
                p95_ms=_number(row.get("95%")),
                p99_ms=_number(row.get("99%")),
                max_ms=_number(row.get("100%")),
                cpu_percent=0.0,
            )
        )
        last_requests, last_failures, last_time = total, failures, stamp
    return series


def _statuses(path: Path) -> dict[str, dict[str, int]] | None:
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    by_name: dict[str, dict[str, int]] = {}
    for key, count in raw.items():
        status, _, name = key.partition(" ")
        by_name.setdefault(name, {})[status] = int(count)
    return by_name


def read_result(
    prefix: Path,
    status_file: Path,
    plan: LoadPlan,
    base: LoadTestResult,
    cpu_seconds: float,
    local_processes: int,
) -> LoadTestResult:
    """`base` completed with the figures of Locust's final CSV files."""
    stats = {r.get("Name", ""): r for r in _rows(Path(f"{prefix}_stats.csv"))}
    failures: dict[str, dict[str, int]] = {}
    for row in _rows(Path(f"{prefix}_failures.csv")):
        kinds = failures.setdefault(row.get("Name", ""), {})
        kind = error_kind(row.get("Error", ""))
        kinds[kind] = kinds.get(kind, 0) + int(_number(row.get("Occurrences")) or 0)
    statuses = _statuses(status_file)
    total_row = stats.get(_AGGREGATED, {})
    attempted = int(_number(total_row.get("Request Count")) or 0)
    rate = _number(total_row.get("Requests/s")) or 0.0
    elapsed = attempted / rate if rate else 0.0
    operations: list[OperationStats] = []
    all_statuses: dict[str, int] = {}
    all_errors: dict[str, int] = {}
    responses = failed = bad = 0
    for template in plan.templates:
        row = stats.get(template.name, {})
        count = int(_number(row.get("Request Count")) or 0)
        errors = dict(sorted(failures.get(template.name, {}).items()))
        op_bad = errors.get("bad_status", 0)
        op_failed = sum(errors.values())
        op_statuses = dict(sorted((statuses or {}).get(template.name, {}).items()))
        op_responses = count - (op_failed - op_bad)
        operations.append(
            OperationStats(
                name=template.name,
                method=template.method,
                path=template.path_template or template.targets[0],
                requests=op_responses,
                errors=op_failed,
                error_rate=round(op_failed / count, 6) if count else 0.0,
                achieved_rps=round(op_responses / elapsed, 2) if elapsed else 0.0,
                latency=_latency(row, count),
                status_counts=op_statuses,
                errors_by_kind=errors,
            )
        )
        responses += op_responses
        failed += op_failed
        bad += op_bad
        for status, n in op_statuses.items():
            all_statuses[status] = all_statuses.get(status, 0) + n
        for kind, n in errors.items():
            all_errors[kind] = all_errors.get(kind, 0) + n
    per_process = cpu_seconds / (elapsed * local_processes) if elapsed and local_processes else 0.0
    warnings = [
        *base.warnings,
        "engine='locust': latencies are Locust's (response times above 100 ms rounded to two "
        "significant figures, whole-millisecond percentiles; failed connections are timed "
        "too); the time series' percentiles are Locust's current ones (last 10 s); generator "
        "CPU is the mean of this machine's Locust processes over the run",
    ]
    if plan.rate is not None:
        warnings.append(
            "engine='locust' has no open model: each user paces itself to its share of "
            "target_rps (constant_throughput), so latency counts from the actual send time and "
            "a stalled server lowers the rate instead of showing in the tail"
        )
    if statuses is None:
        warnings.append(
            "the Locust master wrote no status counts: status_counts is empty and errors come "
            "from Locust's failure messages only"
        )
    if per_process >= SATURATION:
        warnings.append(
            "the Locust processes on this machine saturated their CPU: latencies include the "
            "generator's own queueing; add workers (processes=N or workers on other machines)"
        )
    return base.model_copy(
        update={
            "engine": "locust",
            "elapsed_s": round(elapsed, 3),
            "total_requests": attempted,
            "responses": responses,
            "successful_requests": responses - bad,
            "failed_requests": failed,
            "error_rate": round(failed / attempted, 6) if attempted else 0.0,
            "achieved_rps": round(responses / elapsed, 2) if elapsed else 0.0,
            "bytes_received": round(
                (_number(total_row.get("Average Content Size")) or 0.0) * responses
            ),
            "latency": _latency(total_row, attempted),
            "operations": operations,
            "status_counts": dict(sorted(all_statuses.items())),
            "errors_by_kind": dict(sorted(all_errors.items())),
            "time_series": read_history(prefix),
            "generator": GeneratorStats(
                processes=local_processes,
                event_loop="gevent (locust)",
                cpu_seconds=round(cpu_seconds, 3),
                cpu_percent=round(100 * per_process, 1),
                saturated=per_process >= SATURATION,
            ),
            "warnings": warnings,
            "histogram": "",
        }
    )
