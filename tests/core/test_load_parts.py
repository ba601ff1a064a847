"""The load engine's parts: schedules, mix order, exact histogram merges, aggregation, TLS and
the `mockloop load` command."""

from __future__ import annotations

import datetime
import ipaddress
import random
import ssl
import time
from pathlib import Path

import pytest

from mockloop import ConfigError
from mockloop.cli import main
from mockloop.load.histogram import (
    LatencyRecorder,
    latency_summary,
    merge_encoded,
    new_histogram,
    record_counts,
)
from mockloop.load.metrics import aggregate, aggregate_runs
from mockloop.load.mix import templates_from_endpoints
from mockloop.load.plan import arrival_time
from mockloop.load.thresholds import check_thresholds, parse_threshold
from mockloop.load.worker import weighted_cycle
from tests.core.load_server import TestServer


def test_arrival_schedule_is_exact_and_ramps_linearly() -> None:
    assert [arrival_time(k, 10, 0) for k in range(3)] == [0.0, 0.1, 0.2]
    # Ramp 2 s to 100 req/s: 100 arrivals during the ramp (rate * R / 2), then 1 every 10 ms.
    assert arrival_time(0, 100, 2) == 0.0
    assert arrival_time(100, 100, 2) == pytest.approx(2.0)
    assert arrival_time(25, 100, 2) == pytest.approx(1.0)  # N(1 s) = 100 * 1 / (2 * 2) = 25
    assert arrival_time(110, 100, 2) == pytest.approx(2.1)
    times = [arrival_time(k, 100, 2) for k in range(300)]
    assert times == sorted(times)


def test_weighted_cycle_interleaves_by_weight() -> None:
    order = weighted_cycle([3, 1], length=8)
    assert order.count(0) == 6 and order.count(1) == 2
    assert order[:4].count(1) == 1  # interleaved, not in runs


def test_histograms_merge_exactly_across_recorders() -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(8, 1)) + 1 for _ in range(20_000)]
    whole = LatencyRecorder(1)
    parts = [LatencyRecorder(1) for _ in range(3)]
    for index, value in enumerate(values):
        whole.record(0, value)
        parts[index % 3].record(0, value)
    merged = merge_encoded([p.encoded()[0] for p in parts])
    single = merge_encoded(whole.encoded())
    assert latency_summary(merged) == latency_summary(single)
    assert merged.get_total_count() == len(values)


def test_recorder_histograms_equal_record_value_histograms() -> None:
    """The recorder's direct counter increments (values below 2,048 µs) leave the histogram
    exactly as the HDR library's own `record_value` would: same counts, total, min and max."""
    rng = random.Random(5)
    values = [int(rng.lognormvariate(6.5, 1.5)) for _ in range(20_000)]  # 0 .. ~1 s
    values += [0, 1, 2047, 2048, 2049, 10**12]  # clamped to 1 and to an hour at the ends
    recorder = LatencyRecorder(1)
    reference = new_histogram()
    for index, value in enumerate(values):
        recorder.record(0, value)
        reference.record_value(min(max(value, 1), 3_600_000_000))
        if index % 997 == 0:
            recorder.flush()
    recorder.flush()
    (ours,) = recorder.histograms
    assert list(ours.counts) == list(reference.counts)
    assert ours.get_total_count() == reference.get_total_count() == len(values)
    assert ours.get_min_value() == reference.get_min_value() == 1
    assert ours.get_max_value() == reference.get_max_value()
    assert merge_encoded(recorder.encoded()).get_total_count() == len(values)


def test_interval_counts_add_up_to_the_whole_run() -> None:
    """The per-second intervals a worker ships (plain counts) hold every value exactly once:
    rebuilt into one histogram they give the run's own figures."""
    rng = random.Random(11)
    recorder = LatencyRecorder(2)
    rebuilt = new_histogram()
    for second in range(5):
        for _ in range(3_000):
            recorder.record(second % 2, int(rng.lognormvariate(6, 1.2)))  # includes some 0s
        if second % 2:
            recorder.flush()  # a mid-second flush must not lose or double anything
        record_counts(rebuilt, recorder.take_interval())
    assert recorder.take_interval() == {}
    whole = merge_encoded(recorder.encoded())
    assert rebuilt.get_total_count() == whole.get_total_count() == 15_000
    assert latency_summary(rebuilt) == latency_summary(whole)


def test_fast_summary_equals_the_histograms_own_figures() -> None:
    rng = random.Random(3)
    recorder = LatencyRecorder(1)
    for _ in range(5_000):
        recorder.record(0, int(rng.lognormvariate(7, 1.5)) + 1)
    histogram = merge_encoded(recorder.encoded())
    summary = latency_summary(histogram)
    assert summary["mean_ms"] == round(histogram.get_mean_value() / 1000, 3)
    for name, percentile in (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99), ("p999_ms", 99.9)):
        assert summary[name] == round(histogram.get_value_at_percentile(percentile) / 1000, 3)
    assert summary["max_ms"] == round(histogram.get_max_value() / 1000, 3)


def test_aggregation_methods() -> None:
    assert aggregate([1, 2, 3, None], "average") == 2
    assert aggregate([1, 2, 3, 10], "median") == 2.5
    assert aggregate([1, 2, 3], "sum") == 6
    assert aggregate([5, 1], "max") == 5
    assert aggregate([None], "min") is None
    assert aggregate(list(range(101)), "p95") == 95
    with pytest.raises(ConfigError, match="aggregation_method"):
        aggregate_runs([], None, "mode")
    with pytest.raises(ConfigError, match="metric_types"):
        aggregate_runs([], ["speed"], "average")
    with pytest.raises(ConfigError, match="not a load test result"):
        aggregate_runs([{"foo": 1}], None, "average")


def test_endpoint_and_threshold_parsing() -> None:
    templates = templates_from_endpoints(
        ["/a", "POST /b", {"path": "/c", "weight": 2, "body": {"x": 1}, "name": "c"}]
    )
    assert [(t.name, t.method, t.weight) for t in templates] == [
        ("GET /a", "GET", 1.0),
        ("POST /b", "POST", 1.0),
        ("c", "GET", 2.0),
    ]
    assert templates[2].body == b'{"x":1}'
    assert templates[2].headers["Content-Type"] == "application/json"
    with pytest.raises(ConfigError, match="unknown key"):
        templates_from_endpoints([{"path": "/a", "verb": "GET"}])
    with pytest.raises(ConfigError, match="listed twice"):
        templates_from_endpoints(["/a", "GET /a"])
    assert parse_threshold("p95_ms=200") == ("p95_ms", 200.0)
    with pytest.raises(ConfigError):
        parse_threshold("p95_ms")
    with pytest.raises(ConfigError, match="must be a number"):
        check_thresholds({"p95_ms": "fast"})


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_tls_targets_are_loaded_over_verified_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    with TestServer(tls=context, mode="chunked") as server:
        # Not trusted yet: a clear error before any load.
        code = main(["load", server.url, "--duration", "0.5", "--users", "1", "--quiet"])
        assert code == 2
        assert "TLS handshake" in capsys.readouterr().err
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        code = main(["load", server.url, "--duration", "0.5", "--users", "2", "--json"])
    assert code == 0
    out = capsys.readouterr().out
    assert '"status": "completed"' in out
    assert '"failed_requests": 0' in out
    assert server.requests > 0


def test_cli_prints_a_summary_and_exits_1_when_a_threshold_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with TestServer(delay=0.02) as server:
        code = main(
            [
                "load",
                server.url,
                "--endpoint",
                "GET /a",
                "--duration",
                "0.6",
                "--users",
                "2",
                "--threshold",
                "p95_ms=5",
                "--threshold",
                "error_rate=0.1",
            ]
        )
        passing = main(
            ["load", server.url, "--duration", "0.5", "--rate", "20", "--threshold", "p50_ms=5000"]
        )
    captured = capsys.readouterr()
    assert code == 1
    assert passing == 0
    assert "threshold p95_ms <= 5:" in captured.out and "FAIL" in captured.out
    assert "threshold error_rate <= 0.1: 0 pass" in captured.out
    assert "open model, 20 req/s target" in captured.out
    assert "s  " in captured.err  # the progress line went to stderr
    with pytest.raises(SystemExit):
        main(["load", server.url, "--threshold", "p95"])


async def test_a_batch_of_responses_shares_the_time_the_loop_woke_up() -> None:
    """Responses handed over in one loop iteration all arrived when the loop woke: the 40th
    handled must not be charged for the generator's handling of the 39 before it."""
    import asyncio

    from mockloop.load.mix import templates_from_endpoints
    from mockloop.load.plan import LoadPlan, parse_target
    from mockloop.load.worker import Worker

    plan = LoadPlan(
        target=parse_target("http://127.0.0.1:9"),
        templates=templates_from_endpoints(["GET /"]),
        duration=1,
        users=1,
    )
    worker = Worker(plan, 0, lambda message: None)
    worker.loop = asyncio.get_running_loop()
    first = worker.arrival_time()
    busy_until = first + 0.002
    while time.perf_counter() < busy_until:  # handling the batch takes time
        pass
    assert worker.arrival_time() == first  # same batch, same stamp
    await asyncio.sleep(0)  # the batch ends with the loop iteration
    assert worker.arrival_time() > first
