"""The scenario shape the original MockLoop documented, and its normalisation into rules.

Users and models that learned the original product write:

    {"scenario_name": "payment_outage", "scenario_type": "error_simulation",
     "endpoints": [{"path": "/payments", "method": "POST",
                    "response_config": {"status_code": 503, "response_time_ms": 200,
                                        "response_data": {"error": "unavailable"},
                                        "headers": {"Retry-After": "5"}}}],
     "test_parameters": {"concurrent_users": 10, "duration_seconds": 60, ...},
     "validation_rules": [{"rule_type": "status", "condition": "equals", "expected_value": 503}]}

`normalise_original_shape` rewrites it into MockLoop's scenario format: `scenario_name` is
`name`; each `endpoints[i]` becomes `rules[i]` selecting `METHOD path` with `response_config`
as the rule's response (status_code -> status, response_time_ms -> delay_ms, response_data ->
body, headers -> headers); `scenario_type` stays a metadata key. `test_parameters` and
`validation_rules` are fields of the MockLoop format too (typed here, kept on the scenario).
Every rewrite is reported as a note; a mix of both shapes is a located error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mockloop.spec.model import Operation

__all__ = [
    "ORIGINAL_KEYS",
    "ORIGINAL_SCENARIO_TYPES",
    "OriginalEndpoint",
    "OriginalScenario",
    "OriginalShape",
    "ResponseConfig",
    "TestParameters",
    "ValidationRule",
    "normalise_original_shape",
    "original_location",
    "resolve_concrete_paths",
]

ORIGINAL_SCENARIO_TYPES = (
    "load_testing",
    "error_simulation",
    "security_testing",
    "functional_testing",
)

# Top-level keys only the original shape has (test_parameters and validation_rules are
# MockLoop fields too, so they do not mark a scenario as original).
ORIGINAL_KEYS = ("scenario_name", "endpoints")

# rules[i].<field> as the original shape wrote it: endpoints[i].<where>.
_RULE_FIELD_ORIGIN = {
    "status": "response_config.status_code",
    "delay_ms": "response_config.response_time_ms",
    "body": "response_config.response_data",
    "headers": "response_config.headers",
    "method": "method",
    "path": "path",
}


class ResponseConfig(BaseModel):
    """How an endpoint answers while the scenario is active (the original shape)."""

    model_config = ConfigDict(extra="forbid")

    status_code: int | None = Field(
        default=None,
        ge=100,
        le=599,
        description="the HTTP status to answer; becomes the rule's status",
        examples=[503],
    )
    response_time_ms: float | None = Field(
        default=None,
        ge=0,
        description="milliseconds to wait before answering; becomes the rule's delay_ms",
        examples=[200],
    )
    response_data: Any = Field(
        default=None,
        description="the body to answer, any JSON, served as given; becomes the rule's body",
        examples=[{"error": "unavailable"}],
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="extra response headers; become the rule's headers",
        examples=[{"Retry-After": "5"}],
    )


class OriginalEndpoint(BaseModel):
    """One endpoint of an original-shape scenario: becomes one rule selecting METHOD path."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1,
        description="the path as the description writes it (/pets/{petId}), a glob over "
        "templates (/pets/*), or a concrete path (/pets/42), which selects the operation "
        "whose template it fits",
        examples=["/payments"],
    )
    method: str | None = Field(
        default=None,
        description="the HTTP method (any case); absent: every method on the path",
        examples=["POST"],
    )
    response_config: ResponseConfig = Field(
        default_factory=ResponseConfig,
        description="how the endpoint answers: status_code, response_time_ms, response_data, "
        "headers",
        examples=[{"status_code": 503, "response_time_ms": 200}],
    )


class TestParameters(BaseModel):
    """Load parameters the scenario suggests for a test run (kept on the scenario).

    Deploying a scenario runs no load; `load_test_arguments()` gives the matching
    `run_load_test` arguments.
    """

    __test__ = False  # not a pytest test class despite its name

    model_config = ConfigDict(extra="forbid")

    concurrent_users: int | None = Field(
        default=None, ge=1, description="simultaneous users of a load run", examples=[10]
    )
    duration_seconds: float | None = Field(
        default=None, gt=0, description="seconds of load", examples=[60]
    )
    ramp_up_time: float | None = Field(
        default=None,
        ge=0,
        description="seconds over which the users start",
        examples=[5],
    )
    requests_per_second: float | None = Field(
        default=None,
        gt=0,
        description="a target request rate (open model) instead of users sending back to back",
        examples=[50],
    )
    error_rate_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="the highest share of failed requests (0 to 1) for the run to pass",
        examples=[0.05],
    )

    def load_test_arguments(self) -> dict[str, Any]:
        """The `run_load_test` keyword arguments these parameters stand for."""
        arguments: dict[str, Any] = {}
        if self.concurrent_users is not None:
            arguments["concurrent_users"] = self.concurrent_users
        if self.duration_seconds is not None:
            arguments["duration"] = self.duration_seconds
        if self.ramp_up_time is not None:
            arguments["ramp_up"] = self.ramp_up_time
        if self.requests_per_second is not None:
            arguments["target_rps"] = self.requests_per_second
        if self.error_rate_threshold is not None:
            arguments["thresholds"] = {"error_rate": self.error_rate_threshold}
        return arguments


RuleType = Literal["status", "status_code", "response_time", "header", "body", "error_rate"]
Condition = Literal["equals", "not_equals", "less_than", "greater_than", "contains", "exists"]

_NUMERIC = {"status", "status_code", "response_time", "error_rate"}


class ValidationRule(BaseModel):
    """An expectation on the mock's answers while the scenario is active (kept on the scenario).

    switch_scenario checks status, response_time, header and body rules against its
    verification request's answer; an error_rate rule needs many requests and stands for a
    run_load_test threshold.
    """

    model_config = ConfigDict(extra="forbid")

    rule_type: RuleType = Field(
        description="what is checked: status (or status_code), response_time (ms), header, "
        "body, or error_rate (share of failed requests in a load run)",
        examples=["status"],
    )
    condition: Condition = Field(
        default="equals",
        description="how: equals, not_equals, less_than, greater_than, contains (text or list), "
        "exists (header or body key present)",
        examples=["equals"],
    )
    expected_value: Any = Field(
        default=None,
        description="the value compared with; a number for status, response_time and "
        "error_rate; not used with exists",
        examples=[503],
    )
    field: str | None = Field(
        default=None,
        description="header: the header's name (required); body: a dotted key path into the "
        "JSON body (absent: the whole body)",
        examples=["Retry-After"],
    )

    @model_validator(mode="after")
    def _coherent(self) -> ValidationRule:
        if self.rule_type == "header" and not self.field:
            raise ValueError("a header rule needs field: the header's name, e.g. 'Retry-After'")
        if self.condition == "exists":
            if self.rule_type not in {"header", "body"}:
                raise ValueError("exists checks a header or a body key; use it with those")
            return self
        if self.rule_type in _NUMERIC and self.condition != "contains":
            value = self.expected_value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(
                    f"a {self.rule_type} rule compares numbers: expected_value must be a number, "
                    f"got {value!r}"
                )
        if self.rule_type in _NUMERIC and self.condition == "contains":
            raise ValueError(
                f"contains does not apply to {self.rule_type}; use equals, not_equals, "
                "less_than or greater_than"
            )
        if self.condition in {"less_than", "greater_than"} and (
            isinstance(self.expected_value, bool)
            or not isinstance(self.expected_value, int | float)
        ):
            raise ValueError(f"{self.condition} compares numbers: expected_value must be a number")
        return self

    def describe(self) -> str:
        """`status equals 503`, `header Retry-After exists`."""
        subject = self.rule_type + (f" {self.field}" if self.field else "")
        if self.condition == "exists":
            return f"{subject} exists"
        return f"{subject} {self.condition} {self.expected_value!r}"


class OriginalScenario(BaseModel):
    """A scenario in the original MockLoop shape; deploy_scenario normalises it into rules."""

    model_config = ConfigDict(extra="forbid")

    scenario_name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^/]*$",
        description="the scenario's name (a synonym of name), unique per mock, without '/'",
        examples=["payment_outage"],
    )
    description: str = Field(
        default="",
        description="what the scenario simulates, in words",
        examples=["Payments fail while the catalogue stays up"],
    )
    scenario_type: (
        Literal["load_testing", "error_simulation", "security_testing", "functional_testing"] | None
    ) = Field(
        default=None,
        description="the kind of scenario; kept under metadata, it changes nothing served",
        examples=["error_simulation"],
    )
    endpoints: list[OriginalEndpoint] = Field(
        description="each endpoint becomes one rule; the first rule that selects an operation "
        "answers it",
        examples=[
            [
                {
                    "path": "/payments",
                    "method": "POST",
                    "response_config": {"status_code": 503, "response_time_ms": 200},
                }
            ]
        ],
    )
    test_parameters: TestParameters | None = Field(
        default=None,
        description="load parameters for a run under the scenario (run_load_test arguments)",
        examples=[{"concurrent_users": 10, "duration_seconds": 60}],
    )
    validation_rules: list[ValidationRule] = Field(
        default_factory=list,
        description="expectations on the answers, checked by switch_scenario's verification",
        examples=[[{"rule_type": "status", "condition": "equals", "expected_value": 503}]],
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="anything describing the scenario; the mock keeps it and ignores it",
        examples=[{"owner": "payments-team"}],
    )


@dataclass
class OriginalShape:
    """What `normalise_original_shape` did: the data in MockLoop's format, and its notes."""

    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    from_endpoints: bool = False
    origins: list[int] = field(default_factory=list)

    @property
    def original(self) -> bool:
        """The input used the original shape (something was rewritten)."""
        return bool(self.notes)


def _location(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _pydantic_problems(exc: ValidationError, prefix: Sequence[Any]) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        loc = _location([*prefix, *error["loc"]])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            name = str(error["loc"][-1])
            message = _extra_hint(name, list(prefix), list(error["loc"][:-1]))
        problems.append((loc, message))
    return problems


def _extra_hint(name: str, prefix: list[Any], inner: list[Any]) -> str:
    if inner == ["response_config"] or (prefix[-1:] == ["response_config"] and not inner):
        return (
            f"unknown field {name!r}; a response_config has status_code, response_time_ms, "
            "response_data, headers (or write MockLoop rules: status, delay_ms, body, headers)"
        )
    return (
        f"unknown field {name!r}; an endpoint has path, method, response_config (put "
        "status_code, response_time_ms, response_data and headers inside response_config, or "
        "write rules instead of endpoints)"
    )


def _describe_endpoint(rule: Mapping[str, Any]) -> str:
    what = []
    if "status" in rule:
        what.append(f"status {rule['status']}")
    if "delay_ms" in rule:
        what.append(f"delay {rule['delay_ms']:g} ms")
    if "body" in rule:
        what.append("the given body")
    headers = rule.get("headers") or {}
    if headers:
        what.append(f"header{'s' if len(headers) > 1 else ''} {', '.join(headers)}")
    selector = f"{rule.get('method') or '*'} {rule['path']}"
    return f"{selector}: " + (", ".join(what) if what else "the documented default answer")


def normalise_original_shape(data: Mapping[str, Any], *, strict: bool = False) -> OriginalShape:
    """The scenario in MockLoop's format, with a note per rewrite and the located problems.

    Input already in MockLoop's format comes back unchanged with no notes. Problems name the
    field as the caller wrote it (`endpoints[0].response_config.status_code`) and the fix.
    `strict` wants exact JSON types in the endpoints, as strict validation does elsewhere.
    """
    out: dict[str, Any] = dict(data)
    shape = OriginalShape(data=out)
    if "scenario_name" in out:
        alias = out.pop("scenario_name")
        if "name" in out and out["name"] != alias:
            shape.problems.append(
                (
                    "scenario_name",
                    f"scenario_name {alias!r} and name {out['name']!r} differ: they are the same "
                    "field (scenario_name is the original shape's name); keep one",
                )
            )
        elif "name" in out:
            shape.notes.append("scenario_name: the same as name; name kept")
        else:
            out["name"] = alias
            shape.notes.append(f"scenario_name -> name ({alias!r})")
    if "endpoints" in out:
        endpoints = out.pop("endpoints")
        if "rules" in out:
            shape.problems.append(
                (
                    "endpoints",
                    "endpoints (the original shape) and rules (MockLoop's format) are given "
                    "together: give one; each endpoint {path, method, response_config} is the "
                    "rule {method, path, status, delay_ms, body, headers}",
                )
            )
            return shape
        rules = _endpoints_as_rules(endpoints, shape, strict)
        if rules is not None:
            out["rules"] = rules
            shape.from_endpoints = True
    scenario_type = out.get("scenario_type")
    if shape.notes and "scenario_type" in out:
        if scenario_type in ORIGINAL_SCENARIO_TYPES:
            shape.notes.append(
                f"scenario_type {scenario_type!r} kept under metadata (it describes the "
                "scenario; it changes nothing the mock serves)"
            )
        else:
            shape.problems.append(
                (
                    "scenario_type",
                    f"unknown scenario_type {scenario_type!r}; use one of "
                    + ", ".join(ORIGINAL_SCENARIO_TYPES),
                )
            )
    return shape


def _endpoints_as_rules(
    endpoints: Any, shape: OriginalShape, strict: bool
) -> list[dict[str, Any]] | None:
    if not isinstance(endpoints, list):
        shape.problems.append(
            (
                "endpoints",
                f"endpoints must be a list of {{path, method, response_config}} objects, got "
                f"{type(endpoints).__name__}",
            )
        )
        return None
    rules: list[dict[str, Any]] = []
    for index, entry in enumerate(endpoints):
        if not isinstance(entry, Mapping):
            shape.problems.append(
                (
                    f"endpoints[{index}]",
                    "an endpoint must be an object {path, method, response_config}, got "
                    f"{type(entry).__name__}",
                )
            )
            continue
        try:
            endpoint = OriginalEndpoint.model_validate(entry, strict=strict)
        except ValidationError as exc:
            shape.problems.extend(_pydantic_problems(exc, ("endpoints", index)))
            continue
        rule: dict[str, Any] = {}
        if endpoint.method is not None:
            rule["method"] = endpoint.method.upper()
        rule["path"] = endpoint.path
        config = endpoint.response_config
        given = config.model_fields_set
        if config.status_code is not None:
            rule["status"] = config.status_code
        if config.response_time_ms is not None:
            rule["delay_ms"] = config.response_time_ms
        if "response_data" in given:
            rule["body"] = config.response_data
        if config.headers:
            rule["headers"] = dict(config.headers)
        rules.append(rule)
        shape.origins.append(index)
        shape.notes.append(
            f"normalised: endpoints[{index}] -> rules[{len(rules) - 1}] "
            f"({_describe_endpoint(rule)})"
        )
    return rules


_TEMPLATE_PARAM = re.compile(r"^\{[^/{}]+\}$")


def _fits(concrete: str, template: str) -> bool:
    """A concrete path fits a template when each segment is equal or a `{param}`."""
    given, wanted = concrete.strip("/").split("/"), template.strip("/").split("/")
    if len(given) != len(wanted):
        return False
    return all(
        g == w or (bool(g) and _TEMPLATE_PARAM.match(w) is not None)
        for g, w in zip(given, wanted, strict=True)
    )


def resolve_concrete_paths(
    rules: list[dict[str, Any]], origins: Sequence[int], operations: Sequence[Operation]
) -> list[str]:
    """Rewrite concrete paths (/pets/42) of rules made from endpoints into the template they fit.

    Rules select operations, not single requests, so the rule then answers every call of that
    operation; the returned notes say so. A path that is a template, a glob or fits nothing is
    left as it is (the endpoint check reports what matches nothing).
    """
    templates = list(dict.fromkeys(op.path for op in operations))
    notes = []
    for index, rule in enumerate(rules):
        path = rule.get("path")
        if not isinstance(path, str) or path in templates or any(c in path for c in "*?[{"):
            continue
        fitting = [t for t in templates if _fits(path, t)]
        if not fitting:
            continue
        # The most literal template wins, as a router prefers /pets/mine over /pets/{petId}.
        best = min(fitting, key=lambda t: (t.count("{"), t))
        rule["path"] = best
        notes.append(
            f"endpoints[{origins[index]}].path {path!r} is a concrete path: rules[{index}] "
            "selects the "
            f"template {best} (every call of it is answered by the rule)"
        )
    return notes


def original_location(location: str, origins: Sequence[int]) -> str:
    """A location in the normalised rules (`rules[0].status`) as the original shape wrote it
    (`endpoints[0].response_config.status_code`); `origins[i]` is the endpoint of rules[i]."""
    match = re.match(r"^rules\[(\d+)\](?:\.(\w+))?(.*)$", location)
    if match is None or int(match.group(1)) >= len(origins):
        return location
    index, name, rest = match.groups()
    where = f"endpoints[{origins[int(index)]}]"
    if name is None:
        return where + rest
    origin = _RULE_FIELD_ORIGIN.get(name, name)
    return f"{where}.{origin}{rest}"
