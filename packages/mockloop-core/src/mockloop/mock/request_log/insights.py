"""What request log figures mean: the traffic pattern over time, bursts, per-session flows,
and recommendations that each cite the figure they come from.

Thresholds are named constants so a recommendation can say which line was crossed.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

__all__ = ["recommendations", "session_correlation", "traffic_pattern"]

_BUCKET_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
_MAX_BUCKETS = 60
_BURST_FACTOR = 2.0  # a bucket at twice the mean rate or more ...
_BURST_MIN_REQUESTS = 5  # ... holding at least this many requests is part of a burst
_SESSION_FLOW_LIMIT = 20
_TOP_SESSIONS = 20

SLOW_P95_MS = 500.0
SLOW_OPERATION_P95_MS = 250.0
SERVER_ERROR_RATE = 0.01
CLIENT_ERROR_RATE = 0.10
UNSESSIONED_MIN_REQUESTS = 20


def _bucket_seconds(duration: float) -> int:
    for step in _BUCKET_STEPS:
        if duration / step <= _MAX_BUCKETS:
            return step
    return math.ceil(duration / _MAX_BUCKETS)


def traffic_pattern(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Requests over time in equal buckets, the peak and mean rates, bursts, and methods.

    Bucket width is the smallest of 1 s, 2 s, 5 s, ... that gives at most 60 buckets. A burst is
    a run of consecutive buckets each at `_BURST_FACTOR` times the mean rate or more and holding
    at least `_BURST_MIN_REQUESTS` requests.
    """
    stamps = sorted(float(r["ts"]) for r in records if r.get("ts") is not None)
    methods = Counter(str(r.get("method") or "").upper() for r in records)
    base: dict[str, Any] = {
        "bucket_s": None,
        "timeline": [],
        "mean_rate_per_s": None,
        "peak_rate_per_s": None,
        "peak_at": None,
        "rate_stdev_per_s": None,
        "bursts": [],
        "methods": dict(methods.most_common()),
    }
    if not stamps:
        return base
    start = math.floor(stamps[0])
    width = _bucket_seconds(stamps[-1] - start)
    counts: Counter[int] = Counter(int((ts - start) // width) for ts in stamps)
    last = max(counts)
    timeline = [
        {"start": start + i * width, "requests": counts.get(i, 0), "rate_per_s": counts[i] / width}
        for i in range(last + 1)
    ]
    rates = [b["rate_per_s"] for b in timeline]
    mean = statistics.fmean(rates)
    peak = max(timeline, key=lambda b: b["requests"])
    bursts: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for bucket in [*timeline, None]:
        hot = (
            bucket is not None
            and len(timeline) > 1
            and bucket["rate_per_s"] >= _BURST_FACTOR * mean
            and bucket["requests"] >= _BURST_MIN_REQUESTS
        )
        if hot and bucket is not None:
            current.append(bucket)
            continue
        if current:
            peak_rate = max(b["rate_per_s"] for b in current)
            bursts.append(
                {
                    "start": current[0]["start"],
                    "end": current[-1]["start"] + width,
                    "requests": sum(b["requests"] for b in current),
                    "peak_rate_per_s": peak_rate,
                    "times_mean": peak_rate / mean if mean else None,
                }
            )
            current = []
    return {
        **base,
        "bucket_s": width,
        "timeline": timeline,
        "mean_rate_per_s": mean,
        "peak_rate_per_s": peak["rate_per_s"],
        "peak_at": peak["start"],
        "rate_stdev_per_s": statistics.pstdev(rates),
        "bursts": bursts,
    }


def session_correlation(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Requests grouped by `X-Session-ID`: each session's span, errors and call flow.

    `flow` lists the session's operations in time order (consecutive repeats folded, the first
    20 steps); `sessions` holds the 20 busiest sessions.
    """
    by_session: dict[str, list[dict[str, Any]]] = {}
    unsessioned = 0
    for record in records:
        session = record.get("session_id")
        if session is None:
            unsessioned += 1
            continue
        by_session.setdefault(str(session), []).append(record)
    sessions = []
    for session, rows in by_session.items():
        rows.sort(key=lambda r: float(r.get("ts") or 0.0))
        stamps = [float(r["ts"]) for r in rows if r.get("ts") is not None]
        errors = sum(1 for r in rows if isinstance(r.get("status"), int) and r["status"] >= 400)
        flow: list[str] = []
        for row in rows:
            step = row.get("operation_id") or f"{row.get('method')} {row.get('path')}"
            if not flow or flow[-1] != step:
                flow.append(str(step))
        sessions.append(
            {
                "session_id": session,
                "requests": len(rows),
                "first_ts": stamps[0] if stamps else None,
                "last_ts": stamps[-1] if stamps else None,
                "duration_s": (stamps[-1] - stamps[0]) if stamps else 0.0,
                "errors": errors,
                "error_rate": errors / len(rows),
                "flow": flow[:_SESSION_FLOW_LIMIT],
            }
        )
    sessions.sort(key=lambda s: (-s["requests"], s["session_id"]))
    with_errors = [s["session_id"] for s in sessions if s["errors"]]
    return {
        "count": len(sessions),
        "requests_with_session": len(records) - unsessioned,
        "requests_without_session": unsessioned,
        "sessions_with_errors": with_errors[:_TOP_SESSIONS],
        "sessions": sessions[:_TOP_SESSIONS],
    }


def _advice(
    severity: str, message: str, figure: str, value: float | int | None, **extra: Any
) -> dict[str, Any]:
    return {"severity": severity, "message": message, "figure": figure, "value": value, **extra}


def recommendations(
    analysis: dict[str, Any], documented_operations: list[str] | None = None
) -> list[dict[str, Any]]:
    """Advice drawn from an analysis; each item names the figure (and threshold) behind it."""
    advice: list[dict[str, Any]] = []
    count = analysis["count"]
    if count == 0:
        return [
            _advice(
                "info",
                "No requests are logged for these filters yet: send traffic to the business "
                "port (or widen the filters) and analyse again.",
                "count",
                0,
            )
        ]
    p95 = analysis["latency"]["p95"]
    if p95 is not None and p95 > SLOW_P95_MS:
        advice.append(
            _advice(
                "high",
                f"Overall p95 latency is {p95:.0f} ms, above {SLOW_P95_MS:.0f} ms: look for "
                "delays in the active scenario or a slow upstream in proxy mode.",
                "latency.p95",
                p95,
                threshold=SLOW_P95_MS,
            )
        )
    for slow in analysis["slowest_operations"][:3]:
        if slow["p95"] is not None and slow["p95"] > SLOW_OPERATION_P95_MS:
            advice.append(
                _advice(
                    "medium",
                    f"{slow['operation']} has p95 {slow['p95']:.0f} ms over {slow['count']} "
                    "requests: it is the first place to look when tuning latency.",
                    f"operations[{slow['operation']}].p95",
                    slow["p95"],
                    threshold=SLOW_OPERATION_P95_MS,
                )
            )
    server_rate = analysis["server_error_rate"]
    if server_rate > SERVER_ERROR_RATE:
        advice.append(
            _advice(
                "high",
                f"{server_rate:.1%} of responses are 5xx: if no fault scenario is active, "
                "check which operations fail (operations[*].server_error_rate).",
                "server_error_rate",
                server_rate,
                threshold=SERVER_ERROR_RATE,
            )
        )
    client_rate = analysis["error_rate"] - server_rate
    if client_rate > CLIENT_ERROR_RATE:
        counts = analysis["status_counts"]
        top = max(
            ((code, n) for code, n in counts.items() if code.startswith("4")),
            key=lambda item: item[1],
            default=None,
        )
        hint = {
            "401": "requests lack the credentials the description's security schemes ask for",
            "404": "clients call paths the description does not define",
            "400": "requests carry malformed parameters or bodies",
            "422": "request bodies do not match their schemas",
            "405": "clients use methods the description does not document for the path",
            "415": "requests send a content type the operation does not accept",
        }.get(top[0] if top else "", "clients send requests the description does not allow")
        advice.append(
            _advice(
                "medium",
                f"{client_rate:.1%} of responses are 4xx (most often {top[0] if top else '?'}, "
                f"{top[1] if top else 0} times): {hint}.",
                "error_rate - server_error_rate",
                client_rate,
                threshold=CLIENT_ERROR_RATE,
            )
        )
    traffic = analysis["traffic"]
    for burst in traffic["bursts"][:3]:
        advice.append(
            _advice(
                "info",
                f"Traffic came in a burst of {burst['requests']} requests peaking at "
                f"{burst['peak_rate_per_s']:.1f} req/s ({burst['times_mean']:.1f}x the mean "
                "rate): a load test with the same peak shows whether the API holds it.",
                "traffic.bursts[].peak_rate_per_s",
                burst["peak_rate_per_s"],
            )
        )
    sessions = analysis["session_correlation"]
    if sessions["count"] == 0 and count >= UNSESSIONED_MIN_REQUESTS:
        advice.append(
            _advice(
                "info",
                f"None of the {count} requests carries an X-Session-ID header: send one per "
                "test run or agent to correlate requests (and isolate stateful data).",
                "session_correlation.requests_without_session",
                sessions["requests_without_session"],
            )
        )
    if documented_operations:
        called = {key for key in analysis["operations"]}
        missing = [op for op in documented_operations if op not in called]
        coverage = 1 - len(missing) / len(documented_operations)
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            advice.append(
                _advice(
                    "info",
                    f"{len(missing)} of {len(documented_operations)} documented operations were "
                    f"never called ({shown}): extend the tests to cover them.",
                    "operation_coverage",
                    coverage,
                    missing=missing,
                )
            )
    return advice
