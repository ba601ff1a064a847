"""The last minutes of traffic, for the admin UI's dashboard (`GET /api/traffic`).

From the request log's rows of a window (`window_s`, default 5 minutes), in `step_s` buckets:
requests and requests per second, p50/p95/p99 latency, and status classes per bucket; the
busiest operations of the window with their errors and p95; and totals. Computed on request from
the store (the newest 200,000 rows of the window at most), so it shows every worker's and
replica's traffic, and costs the business port nothing.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

__all__ = ["MAX_ROWS", "traffic"]

MAX_ROWS = 200_000

Row = tuple[float, int | None, float | None, str | None]


def _percentile(ordered: list[float], p: float) -> float | None:
    if not ordered:
        return None
    rank = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return round(ordered[rank], 3)


def traffic(rows: Iterable[Row], *, now: float, window_s: int, step_s: int) -> dict[str, Any]:
    """The dashboard's figures for the rows of `[now - window_s, now]`."""
    count = max(1, math.ceil(window_s / step_s))
    start = now - count * step_s
    latencies: list[list[float]] = [[] for _ in range(count)]
    classes: list[Counter[str]] = [Counter() for _ in range(count)]
    per_op: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    total = 0
    all_latencies: list[float] = []
    status_total: Counter[str] = Counter()
    for ts, status, latency, operation in rows:
        if ts < start or ts > now:
            continue
        index = min(count - 1, int((ts - start) // step_s))
        klass = f"{status // 100}xx" if isinstance(status, int) and 100 <= status < 600 else "other"
        classes[index][klass] += 1
        status_total[klass] += 1
        total += 1
        if latency is not None:
            latencies[index].append(float(latency))
            all_latencies.append(float(latency))
        name = operation or "(unrouted)"
        per_op[name].append(float(latency or 0.0))
        if isinstance(status, int) and status >= 500:
            errors[name] += 1
    buckets = []
    for index in range(count):
        ordered = sorted(latencies[index])
        requests = sum(classes[index].values())
        buckets.append(
            {
                "t": round(start + (index + 1) * step_s, 3),
                "requests": requests,
                "rps": round(requests / step_s, 3),
                "p50_ms": _percentile(ordered, 50),
                "p95_ms": _percentile(ordered, 95),
                "p99_ms": _percentile(ordered, 99),
                "status": {k: classes[index].get(k, 0) for k in ("2xx", "3xx", "4xx", "5xx")},
            }
        )
    top = sorted(per_op.items(), key=lambda item: (-len(item[1]), item[0]))[:10]
    ordered_all = sorted(all_latencies)
    return {
        "window_s": count * step_s,
        "step_s": step_s,
        "now": round(now, 3),
        "buckets": buckets,
        "top_operations": [
            {
                "operation_id": name,
                "requests": len(values),
                "server_errors": errors.get(name, 0),
                "p95_ms": _percentile(sorted(values), 95),
            }
            for name, values in top
        ],
        "totals": {
            "requests": total,
            "rps": round(total / (count * step_s), 3),
            "p50_ms": _percentile(ordered_all, 50),
            "p95_ms": _percentile(ordered_all, 95),
            "p99_ms": _percentile(ordered_all, 99),
            "status": {k: status_total.get(k, 0) for k in ("2xx", "3xx", "4xx", "5xx")},
        },
    }
