"""Latency histograms: HDR histograms in microseconds, recorded cheaply and merged exactly.

A load generator records one latency per response, tens of thousands a second; the HDR
histogram's own `record_value` is pure Python and costs about 0.6 µs. `LatencyRecorder` counts
values in a dict on the hot path and moves the counts into the histogram when the worker
flushes it (every 50 ms), where each distinct value costs one counter update however often it
occurred.

A run's histograms travel between processes in the standard compressed HDR encoding
(`encode` / `decode`), and the per-second intervals as plain `µs -> count` dicts, so merging
the figures of several worker processes is exact: the merged percentiles are those of the
union of every recorded value, never an average of percentiles.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import cache
from itertools import accumulate
from operator import mul
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = [
    "HIGHEST_US",
    "LatencyRecorder",
    "decode_histogram",
    "encode_histogram",
    "latency_summary",
    "merge_encoded",
    "new_histogram",
    "record_counts",
    "value_tables",
]

#: Latencies above an hour are recorded as an hour (a run this slow has other problems).
HIGHEST_US = 3_600_000_000
_SIGNIFICANT_FIGURES = 3
PERCENTILES = (("p50_ms", 50.0), ("p90_ms", 90.0), ("p95_ms", 95.0), ("p99_ms", 99.0))
PERCENTILES += (("p999_ms", 99.9),)


def new_histogram() -> HdrHistogram:
    """An empty histogram of microseconds from 1 µs to an hour, 3 significant figures."""
    return HdrHistogram(1, HIGHEST_US, _SIGNIFICANT_FIGURES)


def _direct_limit() -> int:
    """The value below which `new_histogram()`'s counter index is the value itself (its first
    bucket at unit resolution: 2,048 for 3 significant figures); 0 if the layout differs."""
    h = new_histogram()
    return h.sub_bucket_count if h.unit_magnitude == 0 else 0


_DIRECT_LIMIT = _direct_limit()


def encode_histogram(histogram: HdrHistogram) -> str:
    """The standard compressed, base64 HDR encoding of `histogram` (as text)."""
    return histogram.encode().decode("ascii")


def decode_histogram(encoded: str) -> HdrHistogram:
    """A histogram from `encode_histogram` text (any HDR implementation's V2 encoding)."""
    return HdrHistogram.decode(encoded.encode("ascii"))


def merge_encoded(encoded: list[str]) -> HdrHistogram:
    """One histogram holding every value of the encoded ones (an exact merge)."""
    merged = new_histogram()
    for text in encoded:
        if text:
            merged.add(decode_histogram(text))
    return merged


@cache
def value_tables() -> tuple[list[int], list[int]]:
    """Per counts index of `new_histogram()`'s layout: the highest value it stands for and its
    median value (what `get_value_at_percentile` and `get_mean_value` use), computed once."""
    h = new_histogram()
    half = h.sub_bucket_half_count
    magnitude = h.sub_bucket_half_count_magnitude
    unit = h.unit_magnitude
    highest, median = [], []
    for index in range(h.counts_len):
        bucket = (index >> magnitude) - 1
        sub = (index & (half - 1)) + half
        if bucket < 0:
            sub -= half
            bucket = 0
        lowest = sub << (bucket + unit)
        size = 1 << (unit + bucket)
        highest.append(lowest + size - 1)
        median.append(lowest + (size >> 1))
    return highest, median


def latency_summary(histogram: HdrHistogram) -> dict[str, Any]:
    """count, min/mean/p50/p90/p95/p99/p99.9/max in milliseconds (None when empty).

    The same figures as the histogram's own `get_value_at_percentile` and `get_mean_value`,
    which walk its 22,000 counters in Python once per call (~10 ms each): here one cumulative
    sum (in C) serves every percentile, so a summary per second costs little while the load
    runs beside it.
    """
    count = histogram.get_total_count()
    summary: dict[str, Any] = {"count": count}
    if not count:
        summary.update({"min_ms": None, "mean_ms": None, "max_ms": None})
        summary.update({name: None for name, _ in PERCENTILES})
        return summary
    highest, median = value_tables()
    counts = histogram.counts[: histogram.counts_len]
    cumulative = list(accumulate(counts))
    summary["min_ms"] = round(histogram.get_min_value() / 1000, 3)
    summary["mean_ms"] = round(sum(map(mul, counts, median)) / count / 1000, 3)
    for name, percentile in PERCENTILES:
        target = max(int(percentile * count / 100 + 0.5), 1)
        index = min(bisect_left(cumulative, target), len(highest) - 1)
        summary[name] = round(highest[index] / 1000, 3)
    summary["max_ms"] = round(histogram.get_max_value() / 1000, 3)
    return summary


class LatencyRecorder:
    """Per-operation latency histograms with a cheap `record` for the hot path.

    `record(op, micros)` only bumps a dict counter; `flush()` moves the pending counts into the
    per-operation histograms and into the interval's counts (the values since the last
    `take_interval()`), which the worker ships once a second for the time series. The interval
    travels as plain counts, not an encoded histogram: encoding one walks its 22,000 counters,
    about a millisecond in which the worker's loop handles no response (that pause landed in the
    measured tail once a second); the parent, off the measuring loop, builds the histogram.
    """

    def __init__(self, operations: int) -> None:
        self.pending: list[dict[int, int]] = [{} for _ in range(operations)]
        self.histograms = [new_histogram() for _ in range(operations)]
        self.interval: dict[int, int] = {}

    def record(self, op: int, micros: int) -> None:
        """Count one latency of operation `op` (microseconds)."""
        pending = self.pending[op]
        pending[micros] = pending.get(micros, 0) + 1

    def flush(self) -> None:
        """Move pending counts into the histograms.

        Below the histogram's first bucket boundary (2,048 µs, where most latencies of a fast
        server fall) a value's counter index is the value itself, so those counts are added to
        the counters directly, a tenth of `record_value`'s cost: the flush runs every 50 ms in
        the worker's loop, and while it runs no response is handled.
        """
        interval = self.interval
        for op, pending in enumerate(self.pending):
            if not pending:
                continue
            histogram = self.histograms[op]
            counters = histogram.counts
            direct = 0
            lowest, highest = HIGHEST_US, 0
            for micros, count in pending.items():
                value = min(max(micros, 1), HIGHEST_US)
                if value < _DIRECT_LIMIT:
                    counters[value] += count
                    direct += count
                    lowest = min(lowest, value)
                    highest = max(highest, value)
                else:
                    histogram.record_value(value, count)
                interval[value] = interval.get(value, 0) + count
            if direct:
                histogram.total_count += direct
                histogram.min_value = min(histogram.min_value, lowest)
                histogram.max_value = max(histogram.max_value, highest)
            pending.clear()

    def take_interval(self) -> dict[int, int]:
        """The latencies flushed since the last call (µs -> count); starts a new interval."""
        self.flush()
        taken, self.interval = self.interval, {}
        return taken

    def encoded(self) -> list[str]:
        """Every operation's histogram, encoded (after a flush)."""
        self.flush()
        return [encode_histogram(h) for h in self.histograms]


def record_counts(histogram: HdrHistogram, counts: dict[int, int]) -> HdrHistogram:
    """Add `counts` (µs -> count, as `LatencyRecorder.take_interval` gives) to `histogram`."""
    for micros, count in counts.items():
        histogram.record_value(micros, count)
    return histogram
