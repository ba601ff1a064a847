"""The shapes of endpoint selectors, response overrides and explicit comparison requests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mockloop.mock.config import RateLimit
from mockloop.mock.scenarios.matching import When
from mockloop.mock.scenarios.rules import ResponseSpec

__all__ = ["ComparisonRequest", "EndpointSelector", "ResponseOverride"]


class EndpointSelector(BaseModel):
    """One endpoint: by method and path, or by operationId (with a description given)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"method": "GET", "path": "/pets/{petId}"}]}
    )

    method: str = Field(default="GET", description="the HTTP method, e.g. GET")
    path: str | None = Field(
        default=None, description="the path template, starting with /, e.g. /pets/{petId}"
    )
    endpoint: str | None = Field(default=None, description="the same as path")
    operation: str | None = Field(
        default=None, description="an operationId of the description, instead of method and path"
    )
    operationId: str | None = Field(default=None, description="the same as operation")


class ResponseOverride(ResponseSpec):
    """A response rule for one endpoint: status, body, headers, delay, errors or a sequence.

    Any JSON that is not such a rule (keys outside these) is served as the body itself.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"status": 503, "body": {"error": "maintenance"}, "delay_ms": 200}]
        },
    )

    error_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="share of requests answered error_status"
    )
    error_status: int = Field(default=500, ge=400, le=599, description="the error's status")
    error_body: Any = Field(default=None, description="the error's body (any JSON)")
    sequence: list[ResponseSpec] = Field(
        default_factory=list, description="successive responses to successive calls"
    )
    sequence_end: Literal["cycle", "repeat_last"] = Field(
        default="cycle", description='after the sequence: "cycle" or "repeat_last"'
    )
    when: When | None = Field(
        default=None,
        description="answer only requests that pass these tests (path, query, headers, "
        "cookies, session, body); others get the description's answer",
    )
    rate_limit: RateLimit | None = Field(
        default=None,
        description="throttle the endpoint: past requests per per_seconds per client, session "
        "or for everyone, answer 429 with Retry-After and RateLimit-* headers",
    )


class ComparisonRequest(BaseModel):
    """One request sent to both the mock and the live API."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"operation_id": "getPet", "arguments": {"petId": 1}}]},
    )

    operation_id: str = Field(description="the operationId of the description to call")
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description='the operation\'s parameters by name, and "body" for the request body '
        "(as list_api_tools describes them)",
    )
