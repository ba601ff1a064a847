"""The test plan format (see docs/test-plans.md) and the outcome of running one.

A plan is data: steps that each send one request, check what came back and may capture values
for later steps (`${name}` anywhere in a later request), so create-then-fetch flows work:

    {"name": "pets", "steps": [
      {"name": "create", "operation": "createPet", "request": {"body": {"name": "Rex"}},
       "expect": {"status": 201, "jsonpath": [{"path": "$.name", "equals": "Rex"}]},
       "capture": {"pet_id": "$.id"}},
      {"name": "fetch", "operation": "getPet", "request": {"path_params": {"petId": "${pet_id}"}},
       "expect": {"status": 200, "max_latency_ms": 500}}]}

`parse_plan` validates such data and raises ConfigError naming each bad field by location
(`steps[1].expect.status: ...`). docs/test-plan.schema.json is generated from `TestPlan`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import jsonpath
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mockloop.errors import ConfigError
from mockloop.results import Result

__all__ = [
    "REQUEST_KEYS",
    "VARIABLE",
    "AssertionOutcome",
    "Capture",
    "Expectations",
    "HeaderCheck",
    "JsonPathAssertion",
    "PlanAnomaly",
    "PlanMonitoring",
    "PlanStep",
    "StepOutcome",
    "StepRequest",
    "TestPlan",
    "TestPlanResult",
    "format_location",
    "parse_plan",
    "plan_json_schema",
    "variables_in",
]

VARIABLE = re.compile(r"\$\{(env:[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_][A-Za-z0-9_.\-]*)\}")
"""`${name}` (a plan variable or a captured value) or `${env:NAME}` (an environment variable)."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_STATUS = re.compile(r"^[1-5](\d\d|XX)$")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
REQUEST_KEYS = ("method", "path", "path_params", "params", "headers", "body", "content_type")
JsonType = Literal["string", "number", "integer", "boolean", "array", "object", "null"]
StatusCode = int | str
_SCALAR: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "boolean"}]
}


def _check_status(value: Any) -> Any:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError("give at least one status")
    for item in values:
        if isinstance(item, bool):
            raise ValueError(f"{item!r} is not a status")
        if isinstance(item, int):
            if not 100 <= item <= 599:
                raise ValueError(f"{item} is not an HTTP status (100-599)")
        elif not isinstance(item, str) or not _STATUS.match(item.upper()):
            raise ValueError(f'{item!r} is not a status: use e.g. 200, "2XX" or [200, 201]')
    return value


class StepRequest(BaseModel):
    """The request a step sends. Paths are relative to the server URL the plan runs against."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"path_params": {"petId": "${pet_id}"}, "params": {"verbose": True}}]
        },
    )

    method: str | None = Field(
        default=None, description="HTTP method; taken from the operation when the step names one"
    )
    path: str | None = Field(
        default=None,
        description="path template or concrete path, e.g. /pets/{petId}; default: the "
        "operation's template",
    )
    path_params: dict[str, Any] = Field(
        default_factory=dict,
        description="values for the {placeholders} of the path",
        json_schema_extra={"additionalProperties": _SCALAR},
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="query parameters; a list value repeats the parameter",
        json_schema_extra={
            "additionalProperties": {
                "anyOf": [*_SCALAR["anyOf"], {"type": "array", "items": _SCALAR}]
            }
        },
    )
    headers: dict[str, str] = Field(default_factory=dict, description="request headers")
    body: Any = Field(
        default=None, description="the body: sent as JSON unless content_type says otherwise"
    )
    content_type: str | None = Field(
        default=None, description="Content-Type of the body (default application/json)"
    )

    @field_validator("method")
    @classmethod
    def _method(cls, value: str | None) -> str | None:
        if value is None:
            return None
        upper = value.upper()
        if upper not in _METHODS:
            raise ValueError(f"unknown HTTP method {value!r}; use one of {list(_METHODS)}")
        return upper

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"a path starts with '/', got {value!r}")
        return value


class HeaderCheck(BaseModel):
    """A check of one response header's value (give one or more of the fields)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"contains": "application/json"}]}
    )

    present: bool | None = Field(default=None, description="the header is (or is not) sent")
    equals: str | None = Field(default=None, description="the exact value")
    contains: str | None = Field(default=None, description="a substring of the value")
    matches: str | None = Field(default=None, description="a regular expression searched for")

    @model_validator(mode="after")
    def _some(self) -> HeaderCheck:
        if not self.model_fields_set:
            raise ValueError("give at least one of present, equals, contains, matches")
        if self.matches is not None:
            _compile_regex(self.matches)
        return self


class JsonPathAssertion(BaseModel):
    """A check of the values a JSONPath expression selects in the JSON response body.

    With one match the checks apply to that value; with several, to the list of all matches
    (`length` then counts the matches).
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"path": "$.name", "equals": "Rex"}]}
    )

    path: str = Field(description="a JSONPath expression (RFC 9535), e.g. $.items[0].id")
    exists: bool | None = Field(default=None, description="the expression matches something")
    equals: Any = Field(default=None, description="the value must equal this JSON value")
    not_equals: Any = Field(default=None, description="the value must differ from this")
    contains: Any = Field(
        default=None, description="a substring of a string, an item of a list, a key of an object"
    )
    matches: str | None = Field(default=None, description="a regular expression searched for")
    type: JsonType | None = Field(default=None, description="the JSON type of the value")
    length: int | None = Field(default=None, ge=0, description="length of the value")
    gt: float | None = Field(default=None, description="the number is greater than this")
    gte: float | None = Field(default=None, description="the number is at least this")
    lt: float | None = Field(default=None, description="the number is less than this")
    lte: float | None = Field(default=None, description="the number is at most this")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        _compile_jsonpath(value)
        return value

    @model_validator(mode="after")
    def _some(self) -> JsonPathAssertion:
        if not self.checks():
            raise ValueError(
                "give at least one check: exists, equals, not_equals, contains, matches, type, "
                "length, gt, gte, lt or lte"
            )
        if self.matches is not None:
            _compile_regex(self.matches)
        return self

    def checks(self) -> list[str]:
        """The checks this assertion makes, in a fixed order."""
        return [name for name in _JSONPATH_CHECKS if name in self.model_fields_set]


_JSONPATH_CHECKS = (
    "exists",
    "equals",
    "not_equals",
    "contains",
    "matches",
    "type",
    "length",
    "gt",
    "gte",
    "lt",
    "lte",
)


class Expectations(BaseModel):
    """What the response must be like. Every field is optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": 200,
                    "jsonpath": [{"path": "$.id", "exists": True}],
                    "max_latency_ms": 500,
                }
            ]
        },
    )

    status: StatusCode | list[StatusCode] | None = Field(
        default=None,
        description='200, "2XX" or a list of them; default "2XX" ("4XX" for negative steps)',
    )
    conforms_to_schema: bool = Field(
        default=True,
        description="the body matches the description's schema for the status and media type "
        "(when a description is available and documents that status)",
    )
    headers: dict[str, str | bool | HeaderCheck] = Field(
        default_factory=dict,
        description="response headers by name: a string the value must equal, true/false for "
        "present/absent, or a check object",
    )
    jsonpath: list[JsonPathAssertion] = Field(
        default_factory=list, description="checks of values in the JSON body"
    )
    max_latency_ms: float | None = Field(
        default=None, gt=0, description="the response must arrive within this many ms"
    )

    @field_validator("status")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return value if value is None else _check_status(value)


class Capture(BaseModel):
    """A value to save from the response for later steps (give jsonpath or header)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"header": "Location", "default": ""}]}
    )

    jsonpath: str | None = Field(default=None, description="JSONPath into the JSON body")
    header: str | None = Field(default=None, description="a response header name")
    default: Any = Field(
        default=None, description="the value to use when nothing is found (given: no failure)"
    )

    @model_validator(mode="after")
    def _one(self) -> Capture:
        if (self.jsonpath is None) == (self.header is None):
            raise ValueError("give exactly one of jsonpath or header")
        if self.jsonpath is not None:
            _compile_jsonpath(self.jsonpath)
        return self

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set


class PlanStep(BaseModel):
    """One request, its expectations and its captures.

    Name the operation by `operation` (an operationId, or "METHOD /path/template") or give
    `request.method` and `request.path`. Request fields (method, path, path_params, params,
    headers, body, content_type) may also be written at the step's top level.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "create",
                    "operation": "createPet",
                    "request": {"body": {"name": "Rex"}},
                    "expect": {"status": 201},
                    "capture": {"pet_id": "$.id"},
                }
            ]
        },
    )

    name: str | None = Field(default=None, description="unique in the plan; default: operation")
    description: str = Field(default="", description="what the step checks")
    operation: str | None = Field(
        default=None, description='an operationId ("getPet") or "METHOD /path/template"'
    )
    kind: Literal["happy_path", "negative"] = Field(
        default="happy_path",
        description="negative steps send invalid requests; their default status is 4XX",
    )
    request: StepRequest = Field(
        default_factory=StepRequest, description="the request to send (default: the operation's)"
    )
    expect: Expectations = Field(
        default_factory=Expectations, description="what the response must be like"
    )
    capture: dict[str, str | Capture] = Field(
        default_factory=dict,
        description="variable name -> JSONPath into the body, or a Capture object",
    )
    depends_on: list[str] = Field(
        default_factory=list,
        description="names of earlier steps that must pass, else this step is skipped",
    )

    @model_validator(mode="before")
    @classmethod
    def _hoist(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        loose = {key: data[key] for key in REQUEST_KEYS if key in data}
        if not loose:
            return data
        request = data.get("request")
        if request is None:
            request = {}
        if isinstance(request, dict):
            both = sorted(set(loose) & set(request))
            if both:
                raise ValueError(f"{both} given both on the step and in its request")
            rest = {key: value for key, value in data.items() if key not in loose}
            return {**rest, "request": {**request, **loose}}
        return data

    @field_validator("capture")
    @classmethod
    def _captures(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, source in value.items():
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a variable name (letters, digits, _ . -)")
            if isinstance(source, str):
                try:
                    _compile_jsonpath(source)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        return value

    def default_status(self) -> list[StatusCode]:
        if self.expect.status is not None:
            status = self.expect.status
            return list(status) if isinstance(status, list) else [status]
        return ["4XX"] if self.kind == "negative" else ["2XX"]


class TestPlan(BaseModel):
    """A named list of steps, run in order against one server."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "pets",
                    "steps": [
                        {
                            "name": "create",
                            "operation": "createPet",
                            "request": {"body": {"name": "Rex"}},
                            "expect": {"status": 201},
                            "capture": {"pet_id": "$.id"},
                        },
                        {
                            "name": "fetch",
                            "operation": "getPet",
                            "request": {"path_params": {"petId": "${pet_id}"}},
                            "expect": {
                                "status": 200,
                                "jsonpath": [{"path": "$.name", "equals": "Rex"}],
                            },
                        },
                    ],
                }
            ]
        },
    )

    version: Literal[1] = Field(default=1, description="the format version")
    name: str = Field(
        default="test_plan", min_length=1, max_length=200, description="the plan's name"
    )
    description: str = Field(default="", description="what the plan tests")
    variables: dict[str, Any] = Field(
        default_factory=dict, description="initial values of ${name} variables"
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="headers sent with every step (a step's own win)"
    )
    timeout_s: float = Field(default=10.0, gt=0, le=600, description="per-request timeout")
    stop_on_failure: bool = Field(
        default=False, description="skip the remaining steps once one fails or errors"
    )
    scenario: str | None = Field(
        default=None,
        min_length=1,
        description="a scenario of the MockLoop mock the plan expects: execute_test_plan "
        "activates it afresh for the run (sequences start over) and restores the previously "
        "active one afterwards",
    )
    steps: list[PlanStep] = Field(min_length=1, description="the steps, run in order")

    @field_validator("variables")
    @classmethod
    def _variables(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a variable name (letters, digits, _ . -)")
        return value

    def step_names(self) -> list[str]:
        """Each step's name: its own, else its operation or METHOD path, made unique."""
        names: list[str] = []
        for step in self.steps:
            if step.name is not None:
                names.append(step.name)
                continue
            base = step.operation or f"{step.request.method or 'GET'} {step.request.path or '/'}"
            name, number = base, 2
            while name in names:
                name, number = f"{base} #{number}", number + 1
            names.append(name)
        return names


# -- outcomes -------------------------------------------------------------------------------


class AssertionOutcome(Result):
    """One check of a step: what was expected, what came, and whether it held."""

    check: str = Field(description="status, schema, header NAME, jsonpath PATH CHECK, latency")
    expected: Any = None
    actual: Any = None
    passed: bool
    message: str = ""


class StepOutcome(Result):
    """What one step did, with the evidence: the request sent, the response, each assertion."""

    index: int
    name: str
    operation: str | None = Field(default=None, description="the description's operationId")
    kind: str = "happy_path"
    status: Literal["passed", "failed", "skipped", "error"]
    reason: str = Field(default="", description="why it failed, errored or was skipped")
    request: dict[str, Any] | None = Field(
        default=None, description="method, url, headers and body excerpt (secrets redacted)"
    )
    response: dict[str, Any] | None = Field(
        default=None, description="status, headers and body excerpt (truncated, redacted)"
    )
    elapsed_ms: float | None = None
    assertions: list[AssertionOutcome] = Field(default_factory=list)
    captured: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class PlanAnomaly(Result):
    """A step that departed from the plan's run so far (ai_monitoring)."""

    step: str
    operation: str | None = None
    kind: Literal["slow_step", "server_error", "no_response", "status_change"]
    detail: str = Field(description="what departed, and from what")
    elapsed_ms: float | None = None
    baseline_ms: float | None = Field(
        default=None, description="median latency of the steps before it"
    )
    status_code: int | None = None


class PlanMonitoring(Result):
    """What watching a plan's steps as they ran found (execute_test_plan(ai_monitoring=True))."""

    steps_watched: int
    anomalies: list[PlanAnomaly] = Field(default_factory=list)
    median_ms: float | None = Field(default=None, description="median step latency of the run")
    summary_text: str = Field(description="one line: what was found, or that nothing departed")


class TestPlanResult(Result):
    """The outcome of a test plan run: counts and each step's outcome with evidence."""

    __test__ = False
    kind: Literal["test_plan"] = "test_plan"
    run_id: str
    plan_name: str
    plan_source: str = Field(description="given, file PATH, named NAME or generated")
    server_url: str
    status: Literal["passed", "failed", "error"]
    total: int
    passed: int
    failed: int
    errors: int
    skipped: int
    pass_rate: float = Field(description="passed / total")
    started_at: float
    finished_at: float
    duration_ms: float
    description_source: str | None = Field(
        default=None, description="where the description checked against came from"
    )
    steps: list[StepOutcome]
    notes: list[str] = Field(default_factory=list)
    plan: dict[str, Any] = Field(description="the plan that ran (save it with save_test_plan)")
    session_id: str | None = None
    context_id: str | None = None
    monitoring: PlanMonitoring | None = Field(
        default=None, description="anomalies found while the steps ran (ai_monitoring=True)"
    )

    def summary(self, limit: int = 900) -> str:
        text = (
            f"test plan {self.plan_name!r} against {self.server_url}: {self.status}; "
            f"{self.total} steps, {self.passed} passed, {self.failed} failed, "
            f"{self.errors} errors, {self.skipped} skipped (pass rate {self.pass_rate:.1%}, "
            f"{self.duration_ms:.0f} ms)."
        )
        bad = [step for step in self.steps if step.status in ("failed", "error")]
        if bad:
            shown = "; ".join(f"{step.name}: {step.reason}" for step in bad[:5])
            more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
            text += f" Not passing: {shown}{more}."
        return text if len(text) <= limit else text[: limit - 3] + "..."


# -- parsing --------------------------------------------------------------------------------


def _compile_jsonpath(expression: str) -> None:
    try:
        jsonpath.compile(expression)
    except jsonpath.JSONPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{expression!r} is not a JSONPath expression: {first}") from None


def _compile_regex(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None


def format_location(parts: tuple[Any, ...] | list[Any]) -> str:
    """`("steps", 3, "expect", "status")` as `steps[3].expect.status`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text or "(plan)"


def _union_noise(part: Any) -> bool:
    """Pydantic's names of union branches in error locations (`str`, `Capture`, ...)."""
    text = str(part)
    return text in ("str", "int", "bool", "list[union[int,str]]", "Capture", "HeaderCheck") or (
        text.startswith(("list[", "union[", "function-"))
    )


def parse_plan(data: Any, *, what: str = "test_plan") -> TestPlan:
    """Validate plan data; ConfigError naming each bad field by its location otherwise."""
    if isinstance(data, TestPlan):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_unset=True)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{what} must be an object with a 'steps' list (see docs/test-plans.md), got "
            f"{type(data).__name__}"
        )
    try:
        plan = TestPlan.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        errors = [
            (tuple(p for p in error["loc"] if not _union_noise(p)), error) for error in exc.errors()
        ]
        for loc, error in errors:
            if error["type"].endswith("_type") and any(
                other[: len(loc)] == loc and not e["type"].endswith("_type") for other, e in errors
            ):
                continue  # a union branch that did not fit, beside the one that nearly did
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"unknown field; {_known_fields(loc)}"
            line = f"{format_location(loc)}: {message}"
            if line not in problems:
                problems.append(line)
        raise ConfigError(f"invalid {what}: " + "; ".join(problems[:12])) from None
    names = plan.step_names()
    for index, step in enumerate(plan.steps):
        if step.name is not None and names.index(step.name) != index:
            raise ConfigError(
                f"invalid {what}: steps[{index}].name: {step.name!r} is already the name of "
                f"steps[{names.index(step.name)}]; step names must be unique"
            )
        for position, dependency in enumerate(step.depends_on):
            if dependency not in names[:index]:
                raise ConfigError(
                    f"invalid {what}: steps[{index}].depends_on[{position}]: {dependency!r} is "
                    f"not the name of an earlier step (earlier: {names[:index] or 'none'})"
                )
    return plan


def _known_fields(loc: tuple[Any, ...]) -> str:
    models: dict[str, type[BaseModel]] = {
        "request": StepRequest,
        "expect": Expectations,
        "capture": Capture,
        "jsonpath": JsonPathAssertion,
        "headers": HeaderCheck,
    }
    owner: type[BaseModel] = TestPlan
    for part in loc[:-1]:
        if part == "steps":
            owner = PlanStep
        elif isinstance(part, str) and part in models:
            owner = models[part]
    return "known: " + ", ".join(owner.model_fields)


def variables_in(value: Any) -> list[str]:
    """The `${name}` references anywhere in `value` (strings inside lists and dicts too)."""
    found: list[str] = []
    if isinstance(value, str):
        found.extend(match.group(1) for match in VARIABLE.finditer(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.extend(variables_in(key))
            found.extend(variables_in(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(variables_in(item))
    return found


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan format (published as docs/test-plan.schema.json)."""
    schema = TestPlan.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "MockLoop test plan",
        **{key: value for key, value in schema.items() if key != "title"},
    }
