"""The statistics comparisons rest on: Mann-Whitney U over latency histograms and over small
samples, a two-proportion z-test for error rates, and robust baselines for anomaly search.

Latencies arrive as HDR histograms (hundreds of thousands of values in a few thousand distinct
buckets), so the U test ranks bucket values with their counts: ties get their average rank and
the variance its tie correction, which is exactly the test over the raw values as the histogram
recorded them. p-values use the normal approximation (with continuity correction); with the
sample sizes of a load run it is the regime the approximation is made for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = [
    "RankTest",
    "histogram_counts",
    "mad",
    "mann_whitney",
    "two_proportion",
]


@dataclass(frozen=True)
class RankTest:
    """A Mann-Whitney U test of "comparison tends to be larger than baseline".

    `a12` is Vargha and Delaney's effect size: the probability that a value of the comparison
    exceeds one of the baseline (ties count half); 0.5 means no tendency either way, above 0.64
    is a medium and above 0.71 a large effect.
    """

    u: float
    z: float
    p_value: float
    a12: float
    n_baseline: int
    n_comparison: int

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "test": "Mann-Whitney U (two-sided, normal approximation with tie correction)",
            "u": round(self.u, 1),
            "z": round(self.z, 3),
            "p_value": _round_p(self.p_value),
            "effect_size_a12": round(self.a12, 4),
            "n_baseline": self.n_baseline,
            "n_comparison": self.n_comparison,
        }


def _round_p(p: float) -> float:
    return float(f"{p:.3g}")


def histogram_counts(histogram: HdrHistogram) -> dict[int, int]:
    """{value: count} of every recorded bucket (the bucket's representative value, µs)."""
    counts: dict[int, int] = {}
    for item in histogram.get_recorded_iterator():
        value = int(item.value_iterated_to)
        counts[value] = counts.get(value, 0) + int(item.count_at_value_iterated_to)
    return counts


def mann_whitney(
    baseline: Mapping[Any, int] | Sequence[float], comparison: Mapping[Any, int] | Sequence[float]
) -> RankTest | None:
    """The U test of two samples given as {value: count} or as plain values (None if empty)."""
    first: Mapping[Any, int] = baseline if isinstance(baseline, Mapping) else _count(baseline)
    second: Mapping[Any, int] = (
        comparison if isinstance(comparison, Mapping) else _count(comparison)
    )
    n1 = sum(first.values())
    n2 = sum(second.values())
    if n1 == 0 or n2 == 0:
        return None
    n = n1 + n2
    rank = 0.0
    rank_sum_2 = 0.0
    tie_term = 0.0
    for value in sorted(set(first) | set(second)):
        c1 = first.get(value, 0)
        c2 = second.get(value, 0)
        t = c1 + c2
        average = rank + (t + 1) / 2.0
        rank_sum_2 += c2 * average
        rank += t
        if t > 1:
            tie_term += t**3 - t
    u2 = rank_sum_2 - n2 * (n2 + 1) / 2.0
    mean = n1 * n2 / 2.0
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:  # every value the same: no evidence of any difference
        return RankTest(u2, 0.0, 1.0, 0.5, n1, n2)
    delta = u2 - mean
    corrected = max(abs(delta) - 0.5, 0.0)
    z = math.copysign(corrected / math.sqrt(variance), delta)
    p = math.erfc(abs(z) / math.sqrt(2.0))
    return RankTest(u2, z, min(1.0, p), u2 / (n1 * n2), n1, n2)


def _count(values: Iterable[float]) -> dict[float, int]:
    counts: dict[float, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def two_proportion(
    errors_1: int, total_1: int, errors_2: int, total_2: int
) -> dict[str, float | int | str] | None:
    """Two-sided z-test that two error rates differ (pooled variance); None when a side is
    empty. With no error on either side the rates are equal and p is 1."""
    if total_1 <= 0 or total_2 <= 0:
        return None
    p1 = errors_1 / total_1
    p2 = errors_2 / total_2
    pooled = (errors_1 + errors_2) / (total_1 + total_2)
    variance = pooled * (1 - pooled) * (1 / total_1 + 1 / total_2)
    if variance <= 0:
        z, p = 0.0, 1.0
    else:
        z = (p2 - p1) / math.sqrt(variance)
        p = math.erfc(abs(z) / math.sqrt(2.0))
    return {
        "test": "two-proportion z-test (two-sided, pooled)",
        "z": round(z, 3),
        "p_value": _round_p(p),
        "n_baseline": total_1,
        "n_comparison": total_2,
    }


def mad(values: Sequence[float]) -> tuple[float, float]:
    """(median, median absolute deviation scaled to a normal's standard deviation)."""
    if not values:
        return 0.0, 0.0
    centre = median(values)
    spread = median(abs(v - centre) for v in values) * 1.4826
    return centre, spread
