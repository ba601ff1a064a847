"""bench/wrk_runner.py: wrk's coordinated-omission correction, its exact inverse, wrk's
percentile rule, and (when wrk is installed) both on a real wrk run.

bench/bench_load.py compares the load engine's latencies with wrk's; wrk prints percentiles of a
histogram it has corrected (synthetic samples added), so the bench undoes the correction to
compare what each tool measured. These tests hold that arithmetic to wrk's own.
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import pytest

from tests.core.load_server import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from wrk_runner import (  # bench/ is not a package: found through sys.path
    correction_interval,
    parse_histogram_line,
    run_wrk,
    undo_wrk_correction,
    wrk_correction,
    wrk_percentile,
)


def test_correction_adds_a_sample_per_interval_below_a_slow_one() -> None:
    # wrk's stats_correct: a latency n >= 2 * interval adds n - interval, n - 2 * interval, ...
    # while above the interval; shorter latencies add nothing.
    assert wrk_correction({50: 10, 250: 1}, 100) == {50: 10, 150: 1, 250: 1}
    assert wrk_correction({199: 3}, 100) == {199: 3}
    assert wrk_correction({200: 1}, 100) == {200: 1}  # 100 is not above the interval
    assert wrk_correction({201: 2}, 100) == {101: 2, 201: 2}
    assert wrk_correction({1000: 1}, 100) == {v: 1 for v in range(200, 1001, 100)}
    assert wrk_correction({1000: 1}, 0) == {1000: 1}


def test_undoing_the_correction_gives_back_what_was_measured() -> None:
    rng = random.Random(42)
    for _ in range(200):
        measured: dict[int, int] = {}
        for _ in range(rng.randint(1, 300)):
            value = int(rng.lognormvariate(5, 1.3)) + 1
            measured[value] = measured.get(value, 0) + rng.randint(1, 50)
        interval = rng.randint(1, 400)
        printed = wrk_correction(measured, interval)
        assert undo_wrk_correction(printed, interval) == measured
        assert sum(printed.values()) >= sum(measured.values())


def test_undoing_refuses_a_histogram_the_correction_cannot_have_made() -> None:
    # A 250 µs sample with a 100 µs interval would have added one at 150 µs.
    with pytest.raises(ValueError, match="interval 100"):
        undo_wrk_correction({250: 1}, 100)


def test_percentiles_follow_wrks_rank_rule() -> None:
    counts = {1: 50, 2: 49, 3: 1}
    assert wrk_percentile(counts, 50) == 2  # rank round(50 + 0.5) = 51
    assert wrk_percentile(counts, 99) == 3  # rank 100
    assert wrk_percentile(counts, 90) == 2
    with pytest.raises(ValueError, match="empty"):
        wrk_percentile({}, 50)


def test_wrk_is_given_whole_seconds() -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    with pytest.raises(ValueError, match="whole seconds"):
        run_wrk("http://127.0.0.1:1/", duration_s=1.5)


def test_interval_and_histogram_line() -> None:
    assert correction_interval(5_000_000, 450_000, 10) == 111
    assert correction_interval(1_000, 5, 10) is None  # wrk skips the correction
    text = "Running 1s test\nMOCKLOOP-HISTOGRAM 1000123 456 98:3,120:2,5000:1\nRequests/sec: 1\n"
    assert parse_histogram_line(text) == (1000123, 456, {98: 3, 120: 2, 5000: 1})
    assert parse_histogram_line("no histogram here") is None


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_a_real_wrk_run_is_undone_exactly() -> None:
    # A 300 ms stall in the middle makes wrk add thousands of synthetic samples; undone, the
    # histogram holds exactly the requests wrk completed, and the percentiles wrk printed are
    # those of the histogram it dumped.
    with TestServer(stall_at=0.5, stall_for=0.3) as server:
        wrk = run_wrk(server.url, connections=4, duration_s=2, histogram=True)
    assert wrk.correction_interval_us
    assert sum(wrk.measured_histogram_us.values()) == wrk.requests
    assert sum(wrk.printed_histogram_us.values()) > wrk.requests
    assert wrk_correction(wrk.measured_histogram_us, wrk.correction_interval_us) == (
        wrk.printed_histogram_us
    )
    for key, percentile in (("50", 50), ("99", 99)):
        printed = wrk_percentile(wrk.printed_histogram_us, percentile) / 1000
        assert wrk.percentiles_ms[key] == pytest.approx(printed, abs=0.01)
    assert wrk.as_dict()["synthetic_samples"] > 0
