"""The shapes of load targets, performance requirements and scenario test parameters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from mockloop.load.thresholds import LoadThresholds

__all__ = ["PerformanceRequirements", "ScenarioTestParameters", "TargetLoad"]


class TargetLoad(BaseModel):
    """The load to plan for: users or a rate (at least one), for how long, in which pattern.

    Synonyms are accepted: users also as virtual_users, vus or max_users; requests_per_second
    also as rps, target_rps or rate; duration also as duration_s or test_duration; ramp_up
    also as ramp_up_s or ramp. Numbers may be strings such as "30s".
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"concurrent_users": 50, "duration": 120, "pattern": "steady"}]
        },
    )

    concurrent_users: float | None = Field(default=None, ge=0, description="users (closed model)")
    requests_per_second: float | None = Field(
        default=None, ge=0, description="the arrival rate to reach (open model)"
    )
    duration: float | None = Field(default=None, ge=0, description="seconds of load")
    ramp_up: float | None = Field(
        default=None, ge=0, description="seconds over which users start or the rate climbs"
    )
    pattern: Literal["steady", "spike", "stress", "endurance"] | None = Field(
        default=None, description="the shape of the load over time (default steady)"
    )
    think_time: float | None = Field(
        default=None, ge=0, description="seconds each user waits between requests"
    )


class PerformanceRequirements(LoadThresholds):
    """Limits the load profile must meet; they become the run's thresholds.

    Besides the threshold metrics, max_response_time_ms (= p95_ms), max_error_rate
    (= error_rate) and throughput_rps (= min_rps) are understood.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"p95_ms": 200, "error_rate": 0.01, "min_rps": 100}]},
    )

    max_response_time_ms: float | None = Field(
        default=None, ge=0, description="the same as p95_ms: 95% of requests within this many ms"
    )
    max_error_rate: float | None = Field(
        default=None, ge=0, le=1, description="the same as error_rate"
    )
    throughput_rps: float | None = Field(default=None, ge=0, description="the same as min_rps")


_Number = Annotated[float, Field(ge=0)] | SkipJsonSchema[None]


def _leave_out(schema: dict[str, Any]) -> None:
    """Publish an optional field as one to leave out, not to send as null (refused)."""
    schema.pop("default", None)


def _number(description: str) -> Any:
    return Field(default=None, description=description, json_schema_extra=_leave_out)


class ScenarioTestParameters(BaseModel):
    """Figures to tune generated scenarios with: load profiles and error rules."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"concurrent_users": 20, "duration": 60, "thresholds": {"p95_ms": 300}}]
        },
    )

    concurrent_users: _Number = _number("load profiles: users of run_load_test")
    duration: _Number = _number("load profiles: seconds")
    ramp_up: _Number = _number("load profiles: ramp-up seconds")
    target_rps: _Number = _number("load profiles: requests per second (open model)")
    think_time: _Number = _number("load profiles: seconds between a user's requests")
    thresholds: LoadThresholds | SkipJsonSchema[None] = _number(
        "load profiles: pass/fail limits of the run"
    )
    error_rate: Annotated[float, Field(ge=0, le=1)] | SkipJsonSchema[None] = _number(
        "error rules: the share of requests that fail (0-1)"
    )
