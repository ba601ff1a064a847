"""Anomalies in a load run's per-second time series: latency spikes, error bursts and
throughput drops, each with when it happened and the figures that make it one.

A second is anomalous against the run's own robust baseline (median and MAD over its seconds),
so a uniformly slow run has no spikes and a uniformly failing one has no bursts: those show in
the statistics and thresholds instead. Consecutive anomalous seconds are one anomaly. The first
and last seconds (ramp and wind-down, a partial second) never count as throughput drops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from mockloop.results import Result
from mockloop.testing.analysis.stats import mad

__all__ = ["Anomaly", "find_anomalies"]

AnomalyKind = Literal["latency_spike", "error_burst", "throughput_drop"]

#: A latency spike must also be this much above the median (ms) and this factor of it.
_SPIKE_MIN_MS = 1.0
_SPIKE_MIN_FACTOR = 1.5
_MIN_SECONDS = 4


class Anomaly(Result):
    """A stretch of seconds where the run behaved unlike the rest of it."""

    run_id: str
    kind: AnomalyKind
    start_second: int = Field(description="first second of the stretch (0 = the run's start)")
    end_second: int = Field(description="last second of the stretch")
    peak: float = Field(description="the worst value in the stretch (ms, error share or req/s)")
    baseline: float = Field(description="the run's median for the same figure")
    limit: float = Field(description="the value beyond which a second counted as anomalous")
    metric: str = Field(description="p95_ms, error_share or rps")
    detail: str


def _stretches(flags: list[bool]) -> list[tuple[int, int]]:
    stretches: list[tuple[int, int]] = []
    start: int | None = None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            stretches.append((start, index - 1))
            start = None
    return stretches


def _emit(
    run_id: str,
    kind: AnomalyKind,
    metric: str,
    seconds: list[dict[str, Any]],
    values: list[float],
    flags: list[bool],
    baseline: float,
    limit: float,
    worst: Callable[[list[float]], float],
    describe: Callable[[float], str],
) -> list[Anomaly]:
    found = []
    for start, end in _stretches(flags):
        peak = worst(values[start : end + 1])
        first = int(seconds[start].get("second", start))
        last = int(seconds[end].get("second", end))
        when = f"second {first}" if first == last else f"seconds {first}-{last}"
        found.append(
            Anomaly(
                run_id=run_id,
                kind=kind,
                start_second=first,
                end_second=last,
                peak=round(peak, 3),
                baseline=round(baseline, 3),
                limit=round(limit, 3),
                metric=metric,
                detail=f"{when}: {describe(peak)}",
            )
        )
    return found


def find_anomalies(run_id: str, series: list[dict[str, Any]]) -> list[Anomaly]:
    """Latency spikes, error bursts and throughput drops in `series` (a load result's
    `time_series`); none for runs shorter than four seconds (no baseline to speak of)."""
    seconds = [s for s in series if s.get("requests", 0) or s.get("errors", 0)]
    if len(seconds) < _MIN_SECONDS:
        return []
    anomalies: list[Anomaly] = []

    latencies = [float(s.get("p95_ms") or 0.0) for s in seconds]
    centre, spread = mad(latencies)
    limit = max(centre + 4 * spread, centre * _SPIKE_MIN_FACTOR, centre + _SPIKE_MIN_MS)
    anomalies += _emit(
        run_id,
        "latency_spike",
        "p95_ms",
        seconds,
        latencies,
        [value > limit for value in latencies],
        centre,
        limit,
        max,
        lambda peak: f"p95 latency reached {peak:.1f} ms against a median of {centre:.1f} ms",
    )

    shares = [s.get("errors", 0) / s["requests"] if s.get("requests") else 0.0 for s in seconds]
    total_errors = sum(s.get("errors", 0) for s in seconds)
    total = sum(s.get("requests", 0) for s in seconds)
    overall = total_errors / total if total else 0.0
    share_limit = max(3 * overall, overall + 0.05)
    anomalies += _emit(
        run_id,
        "error_burst",
        "error_share",
        seconds,
        shares,
        [
            share > share_limit and s.get("errors", 0) >= 3
            for share, s in zip(shares, seconds, strict=True)
        ],
        overall,
        share_limit,
        max,
        lambda peak: f"{peak:.1%} of requests failed against {overall:.1%} over the whole run",
    )

    rates = [float(s.get("rps") or 0.0) for s in seconds]
    inner = rates[1:-1]
    rate_centre, rate_spread = mad(inner)
    drop_limit = min(rate_centre - 4 * rate_spread, rate_centre * 0.5)
    flags = [0 < i < len(rates) - 1 and rate < drop_limit for i, rate in enumerate(rates)]
    anomalies += _emit(
        run_id,
        "throughput_drop",
        "rps",
        seconds,
        rates,
        flags,
        rate_centre,
        drop_limit,
        min,
        lambda low: f"throughput fell to {low:.0f} req/s against a median of {rate_centre:.0f}",
    )
    return sorted(anomalies, key=lambda a: (a.start_second, a.kind))
