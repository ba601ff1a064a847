"""Figures from request log rows: rates, latency percentiles, status mix, per-operation stats.

Percentiles use linear interpolation between closest ranks (the "linear" method of NumPy and
type 7 of Hyndman and Fan): for sorted values v[0..n-1] the p-th percentile sits at rank
h = (n - 1) * p / 100 and is v[floor(h)] + (h - floor(h)) * (v[floor(h) + 1] - v[floor(h)]).
It agrees with what spreadsheets and NumPy report, so figures can be checked by hand.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from mockloop.mock.request_log.insights import recommendations, session_correlation, traffic_pattern

__all__ = ["analyze_records", "percentile"]

_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
_TOP_SLOWEST = 5
_TOP_PATHS = 10


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) of already sorted values, linear interpolation; None if empty."""
    if not sorted_values:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0-100, not {p}")
    rank = (len(sorted_values) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = rank - low
    return sorted_values[low] + fraction * (sorted_values[high] - sorted_values[low])


def _latency(values: Iterable[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return {"min": None, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "min": ordered[0],
        "mean": math.fsum(ordered) / len(ordered),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "max": ordered[-1],
    }


def _status_class(status: Any) -> str:
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return f"{status // 100}xx"
    return "other"


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _operation_key(record: dict[str, Any]) -> str:
    operation_id = record.get("operation_id")
    if operation_id:
        return str(operation_id)
    return f"{str(record.get('method') or '').upper()} {record.get('path') or ''}"


def analyze_records(
    records: list[dict[str, Any]], *, documented_operations: list[str] | None = None
) -> dict[str, Any]:
    """Summarise request log rows (as `Store.search_logs` returns them).

    `documented_operations` (operation ids), when given, adds coverage: which were never called.

    Returns a dict with:
        count: number of records.
        first_ts, last_ts: earliest and latest ts (None when empty).
        duration_s: last_ts - first_ts (0.0 when fewer than two records).
        rate_per_s: count / duration_s, or None when the duration is 0.
        latency: min, mean, p50, p95, p99, max of latency_ms (None when no latency is known).
        status_counts: {"200": 12, "404": 1, ...} with string keys, sorted by code.
        status_classes: share of records per class, always 2xx-5xx plus any other class seen.
        error_rate: share of 4xx and 5xx responses; server_error_rate: share of 5xx.
        operations: per operation id ("METHOD path" when unmatched): count, mean, p50, p95,
            p99, max, error_rate, server_error_rate, status_counts.
        slowest_operations: the five operations with the highest p95, with their figures.
        top_paths: the ten most requested paths with their counts.
        sessions: requests per session id (records without one are not counted).
        traffic: requests over time, mean and peak rates, bursts, methods
            (see `insights.traffic_pattern`).
        session_correlation: per-session spans, errors and call flows.
        operation_coverage: share of documented operations called (None when not given).
        recommendations: advice, each citing the figure (and threshold) it comes from.

    Records lacking a field are tolerated: no ts leaves the time span out, no latency leaves
    the record out of the latency figures, no status counts as class "other".
    """
    count = len(records)
    timestamps = sorted(float(r["ts"]) for r in records if r.get("ts") is not None)
    first_ts = timestamps[0] if timestamps else None
    last_ts = timestamps[-1] if timestamps else None
    duration = (last_ts - first_ts) if first_ts is not None and last_ts is not None else 0.0

    statuses: Counter[Any] = Counter(r.get("status") for r in records)
    classes: Counter[str] = Counter()
    for status, n in statuses.items():
        classes[_status_class(status)] += n
    class_shares = {name: _share(classes[name], count) for name in _STATUS_CLASSES}
    for name in sorted(classes):
        if name not in class_shares:
            class_shares[name] = _share(classes[name], count)

    by_operation: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_operation.setdefault(_operation_key(record), []).append(record)
    operations = {key: _operation_stats(rows) for key, rows in sorted(by_operation.items())}
    ranked = sorted(
        ((key, stats) for key, stats in operations.items() if stats["p95"] is not None),
        key=lambda item: (-item[1]["p95"], item[0]),
    )
    slowest = [
        {
            "operation": key,
            "count": stats["count"],
            "p95": stats["p95"],
            "p99": stats["p99"],
            "mean": stats["mean"],
            "max": stats["max"],
        }
        for key, stats in ranked[:_TOP_SLOWEST]
    ]

    paths: Counter[str] = Counter(str(r.get("path") or "") for r in records)
    top_paths = [
        {"path": path, "count": n}
        for path, n in sorted(paths.items(), key=lambda item: (-item[1], item[0]))[:_TOP_PATHS]
    ]
    sessions: Counter[str] = Counter(
        str(r["session_id"]) for r in records if r.get("session_id") is not None
    )

    analysis: dict[str, Any] = {
        "count": count,
        "first_ts": first_ts,
        "last_ts": last_ts,
        "duration_s": duration,
        "rate_per_s": (count / duration) if duration > 0 else None,
        "latency": _latency(_latencies(records)),
        "status_counts": _status_counts(statuses),
        "status_classes": class_shares,
        "error_rate": _share(classes["4xx"] + classes["5xx"], count),
        "server_error_rate": _share(classes["5xx"], count),
        "operations": operations,
        "slowest_operations": slowest,
        "top_paths": top_paths,
        "sessions": dict(sorted(sessions.items(), key=lambda item: (-item[1], item[0]))),
        "traffic": traffic_pattern(records),
        "session_correlation": session_correlation(records),
        "operation_coverage": None,
    }
    if documented_operations:
        called = sum(1 for op in documented_operations if op in operations)
        analysis["operation_coverage"] = called / len(documented_operations)
    analysis["recommendations"] = recommendations(analysis, documented_operations)
    return analysis


def _latencies(records: Iterable[dict[str, Any]]) -> list[float]:
    return [float(r["latency_ms"]) for r in records if r.get("latency_ms") is not None]


def _status_counts(statuses: Counter[Any]) -> dict[str, int]:
    known = sorted((s for s in statuses if isinstance(s, int)), key=int)
    counts = {str(status): statuses[status] for status in known}
    unknown = sum(n for status, n in statuses.items() if not isinstance(status, int))
    if unknown:
        counts["unknown"] = unknown
    return counts


def _operation_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    latency = _latency(_latencies(rows))
    statuses: Counter[Any] = Counter(r.get("status") for r in rows)
    classes: Counter[str] = Counter()
    for status, n in statuses.items():
        classes[_status_class(status)] += n
    return {
        "count": len(rows),
        "mean": latency["mean"],
        "p50": latency["p50"],
        "p95": latency["p95"],
        "p99": latency["p99"],
        "max": latency["max"],
        "error_rate": _share(classes["4xx"] + classes["5xx"], len(rows)),
        "server_error_rate": _share(classes["5xx"], len(rows)),
        "status_counts": _status_counts(statuses),
    }
