"""Pass/fail thresholds of a load run: `{"p95_ms": 200, "error_rate": 0.01, "min_rps": 500}`.

Latency keys (`mean_ms`, `p50_ms` ... `p999_ms`, `max_ms`) and `error_rate` are upper bounds;
`min_rps` is a lower bound on the achieved rate. An unknown key is a `ConfigError`, checked
before the run starts.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from mockloop.errors import ConfigError
from mockloop.load.report import LoadTestResult, ThresholdVerdict

__all__ = [
    "THRESHOLD_METRICS",
    "LoadThresholds",
    "check_thresholds",
    "evaluate_thresholds",
    "parse_threshold",
]

_LATENCY = ("min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")
THRESHOLD_METRICS: tuple[str, ...] = (*_LATENCY, "error_rate", "min_rps")


_Limit = Annotated[float, Field(ge=0)] | SkipJsonSchema[None]
_Share = Annotated[float, Field(ge=0, le=1)] | SkipJsonSchema[None]


def _leave_out(schema: dict[str, Any]) -> None:
    """Publish an optional field as one to leave out, not to send as null (refused)."""
    schema.pop("default", None)


def _limit(description: str) -> Any:
    return Field(default=None, description=description, json_schema_extra=_leave_out)


def _latency(name: str) -> Any:
    return _limit(f"upper bound on the {name} latency, in ms")


class LoadThresholds(BaseModel):
    """Pass/fail limits of a load run (the published shape of `thresholds`; give any of them).

    Latencies and error_rate are upper bounds, min_rps a lower bound on the achieved rate;
    the result lists each limit with the measured value and whether it held.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"p95_ms": 200, "error_rate": 0.01, "min_rps": 100}]},
    )

    min_ms: _Limit = _latency("minimum")
    mean_ms: _Limit = _latency("mean")
    p50_ms: _Limit = _latency("median (p50)")
    p90_ms: _Limit = _latency("p90")
    p95_ms: _Limit = _latency("p95")
    p99_ms: _Limit = _latency("p99")
    p999_ms: _Limit = _latency("p99.9")
    max_ms: _Limit = _latency("maximum")
    error_rate: _Share = _limit("upper bound on the share of failed requests (0-1)")
    min_rps: _Limit = _limit("lower bound on the achieved requests per second")


def check_thresholds(thresholds: dict[str, Any] | None) -> dict[str, float]:
    """The thresholds as {metric: limit}; ConfigError naming an unknown metric or a bad limit."""
    checked: dict[str, float] = {}
    for metric, limit in (thresholds or {}).items():
        if metric not in THRESHOLD_METRICS:
            raise ConfigError(
                f"unknown threshold {metric!r}; use one of: {', '.join(THRESHOLD_METRICS)}"
            )
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            raise ConfigError(f"threshold {metric}={limit!r} must be a number")
        if not math.isfinite(limit) or limit < 0:
            raise ConfigError(f"threshold {metric}={limit!r} must be a finite number >= 0")
        checked[metric] = float(limit)
    return checked


def parse_threshold(text: str) -> tuple[str, float]:
    """`"p95_ms=200"` -> ("p95_ms", 200.0); ConfigError for anything else."""
    metric, sep, value = text.partition("=")
    if not sep:
        raise ConfigError(f"threshold {text!r}: write METRIC=LIMIT, e.g. p95_ms=200")
    try:
        limit = float(value)
    except ValueError:
        raise ConfigError(f"threshold {text!r}: {value!r} is not a number") from None
    return metric.strip(), limit


def evaluate_thresholds(
    result: LoadTestResult, thresholds: dict[str, float]
) -> list[ThresholdVerdict]:
    """Each threshold against the result. A latency bound with no latency measured fails."""
    verdicts = []
    for metric, limit in thresholds.items():
        actual: float | None
        if metric == "error_rate":
            actual = result.error_rate
            verdicts.append(
                ThresholdVerdict(
                    metric=metric,
                    limit=limit,
                    actual=actual,
                    passed=actual <= limit,
                    comparison="<=",
                )
            )
        elif metric == "min_rps":
            actual = result.achieved_rps
            verdicts.append(
                ThresholdVerdict(
                    metric=metric,
                    limit=limit,
                    actual=actual,
                    passed=actual >= limit,
                    comparison=">=",
                )
            )
        else:
            actual = getattr(result.latency, metric)
            passed = actual is not None and actual <= limit
            verdicts.append(
                ThresholdVerdict(
                    metric=metric, limit=limit, actual=actual, passed=passed, comparison="<="
                )
            )
    return verdicts
