"""Log analysis against figures computed by hand (see the comments next to each figure)."""

from __future__ import annotations

from typing import Any

import pytest

from mockloop.mock.request_log.analysis import analyze_records, percentile


def _r(
    ts: float, method: str, path: str, op: str | None, status: int, ms: float, session: str | None
):
    return {
        "ts": ts,
        "method": method,
        "path": path,
        "operation_id": op,
        "status": status,
        "latency_ms": ms,
        "session_id": session,
    }


RECORDS: list[dict[str, Any]] = [
    _r(100.0, "GET", "/pets", "listPets", 200, 10.0, "s1"),
    _r(101.0, "GET", "/pets", "listPets", 200, 20.0, "s1"),
    _r(102.0, "GET", "/pets", "listPets", 500, 30.0, "s2"),
    _r(103.0, "GET", "/pets", "listPets", 200, 40.0, None),
    _r(104.0, "POST", "/pets", "createPet", 201, 100.0, "s1"),
    _r(105.0, "POST", "/pets", "createPet", 400, 50.0, "s2"),
    _r(106.0, "GET", "/nope", None, 404, 1.0, None),
    _r(110.0, "GET", "/pets/1", "getPet", 200, 5.0, "s1"),
]


def test_percentile_uses_linear_interpolation() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)  # rank 1.5
    assert percentile(values, 90) == pytest.approx(3.7)  # rank 2.7 -> 3 + 0.7 * 1
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_overall_figures() -> None:
    result = analyze_records(RECORDS)
    assert result["count"] == 8
    assert (result["first_ts"], result["last_ts"]) == (100.0, 110.0)
    assert result["duration_s"] == 10.0
    assert result["rate_per_s"] == pytest.approx(0.8)
    # sorted latencies: 1 5 10 20 30 40 50 100
    latency = result["latency"]
    assert latency["min"] == 1.0
    assert latency["max"] == 100.0
    assert latency["mean"] == pytest.approx(32.0)  # 256 / 8
    assert latency["p50"] == pytest.approx(25.0)  # rank 3.5: 20 + 0.5 * 10
    assert latency["p95"] == pytest.approx(82.5)  # rank 6.65: 50 + 0.65 * 50
    assert latency["p99"] == pytest.approx(96.5)  # rank 6.93: 50 + 0.93 * 50


def test_status_figures() -> None:
    result = analyze_records(RECORDS)
    assert result["status_counts"] == {"200": 4, "201": 1, "400": 1, "404": 1, "500": 1}
    assert result["status_classes"] == pytest.approx(
        {"2xx": 0.625, "3xx": 0.0, "4xx": 0.25, "5xx": 0.125}
    )
    assert result["error_rate"] == pytest.approx(0.375)  # 3 of 8 are 4xx or 5xx
    assert result["server_error_rate"] == pytest.approx(0.125)  # 1 of 8 is 5xx


def test_per_operation_figures() -> None:
    operations = analyze_records(RECORDS)["operations"]
    assert set(operations) == {"listPets", "createPet", "getPet", "GET /nope"}
    listing = operations["listPets"]  # 10 20 30 40
    assert listing["count"] == 4
    assert listing["mean"] == pytest.approx(25.0)
    assert listing["p50"] == pytest.approx(25.0)  # rank 1.5
    assert listing["p95"] == pytest.approx(38.5)  # rank 2.85: 30 + 0.85 * 10
    assert listing["p99"] == pytest.approx(39.7)  # rank 2.97
    assert listing["error_rate"] == pytest.approx(0.25)
    assert listing["server_error_rate"] == pytest.approx(0.25)
    assert listing["status_counts"] == {"200": 3, "500": 1}
    creating = operations["createPet"]  # 50 100
    assert creating["p95"] == pytest.approx(97.5)  # rank 0.95: 50 + 0.95 * 50
    assert creating["p99"] == pytest.approx(99.5)
    assert creating["error_rate"] == pytest.approx(0.5)
    assert creating["server_error_rate"] == 0.0
    unmatched = operations["GET /nope"]
    assert (unmatched["count"], unmatched["p50"], unmatched["error_rate"]) == (1, 1.0, 1.0)


def test_slowest_paths_and_sessions() -> None:
    result = analyze_records(RECORDS)
    slowest = result["slowest_operations"]
    assert [s["operation"] for s in slowest] == ["createPet", "listPets", "getPet", "GET /nope"]
    assert slowest[0]["p95"] == pytest.approx(97.5)
    assert slowest[0]["count"] == 2
    assert result["top_paths"] == [
        {"path": "/pets", "count": 6},
        {"path": "/nope", "count": 1},
        {"path": "/pets/1", "count": 1},
    ]
    assert result["sessions"] == {"s1": 4, "s2": 2}


def test_slowest_keeps_five() -> None:
    records = [_r(float(i), "GET", f"/p{i}", f"op{i}", 200, float(i), None) for i in range(8)]
    slowest = analyze_records(records)["slowest_operations"]
    assert [s["operation"] for s in slowest] == ["op7", "op6", "op5", "op4", "op3"]


def test_empty_input() -> None:
    result = analyze_records([])
    assert result["count"] == 0
    assert result["first_ts"] is None
    assert result["duration_s"] == 0.0
    assert result["rate_per_s"] is None
    assert result["latency"]["p95"] is None
    assert result["error_rate"] == 0.0
    assert result["status_classes"] == {"2xx": 0.0, "3xx": 0.0, "4xx": 0.0, "5xx": 0.0}
    assert result["operations"] == {}
    assert result["slowest_operations"] == []
    assert result["top_paths"] == []
    assert result["sessions"] == {}


def test_single_record_and_missing_fields() -> None:
    result = analyze_records([{"ts": 5.0, "method": "get", "path": "/x", "status": None}])
    assert result["count"] == 1
    assert result["duration_s"] == 0.0
    assert result["rate_per_s"] is None
    assert result["latency"]["mean"] is None
    assert result["status_counts"] == {"unknown": 1}
    assert result["status_classes"]["other"] == 1.0
    assert result["error_rate"] == 0.0
    assert list(result["operations"]) == ["GET /x"]
    assert result["slowest_operations"] == []
