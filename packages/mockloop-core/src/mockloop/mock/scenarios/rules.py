"""Scenarios: named sets of per-operation rules that change how the mock answers at run time.

A scenario is data (see docs/scenarios.md):

    {"name": "slow_pets", "description": "...",
     "rules": [{"operation": "getPet", "status": 200, "delay": {"distribution": "normal",
                "mean_ms": 120, "stddev_ms": 30}},
               {"method": "POST", "path": "/pets", "error_rate": 0.2, "error_status": 503},
               {"path": "/pets/*", "sequence": [{"status": 200}, {"status": 429}]}]}

A rule selects operations by `operation` (an operationId), or by `path` (the template as the
description writes it, or a glob over templates) with an optional `method`; a rule with neither
applies to every operation. The first matching rule of the active scenario wins. Per-endpoint
response overrides are rules too and take precedence over the active scenario.

The original MockLoop shape (`scenario_name`, `endpoints[].response_config`) is accepted and
normalised into rules (`mockloop.mock.scenarios.original`); `test_parameters` and
`validation_rules` are kept on the scenario.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from mockloop.errors import ScenarioError
from mockloop.mock.config import RateLimit
from mockloop.mock.scenarios.matching import RequestView, When, when_problems
from mockloop.mock.scenarios.original import (
    TestParameters,
    ValidationRule,
    normalise_original_shape,
)
from mockloop.mock.scenarios.ratelimit import RateLimiter
from mockloop.mock.scenarios.templates import has_templates, template_problems
from mockloop.spec.model import Operation

__all__ = [
    "Delay",
    "ResponseSpec",
    "RuleEngine",
    "Scenario",
    "ScenarioRule",
    "parse_rule",
    "parse_scenario",
]

_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


class Delay(BaseModel):
    """How long to wait before answering, drawn per request from a distribution (milliseconds)."""

    model_config = ConfigDict(extra="forbid")

    distribution: Literal["fixed", "uniform", "normal", "exponential"] = Field(
        default="fixed",
        description="fixed needs ms; uniform needs min_ms and max_ms (min_ms <= max_ms); "
        "normal needs mean_ms and stddev_ms; exponential needs mean_ms",
        examples=["normal"],
    )
    ms: float | None = Field(
        default=None, ge=0, description="the fixed delay in milliseconds", examples=[200]
    )
    min_ms: float | None = Field(
        default=None, ge=0, description="the uniform delay's lower bound (ms)", examples=[50]
    )
    max_ms: float | None = Field(
        default=None, ge=0, description="the uniform delay's upper bound (ms)", examples=[250]
    )
    mean_ms: float | None = Field(
        default=None,
        ge=0,
        description="the normal or exponential delay's mean (ms)",
        examples=[120],
    )
    stddev_ms: float | None = Field(
        default=None,
        ge=0,
        description="the normal delay's standard deviation (ms)",
        examples=[30],
    )

    @model_validator(mode="after")
    def _complete(self) -> Delay:
        needed = {
            "fixed": ("ms",),
            "uniform": ("min_ms", "max_ms"),
            "normal": ("mean_ms", "stddev_ms"),
            "exponential": ("mean_ms",),
        }[self.distribution]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.distribution} delay needs {', '.join(missing)}")
        if self.distribution == "uniform" and self.min_ms > self.max_ms:  # type: ignore[operator]
            raise ValueError("min_ms must not exceed max_ms")
        return self

    def draw(self, rng: random.Random) -> float:
        """A delay in seconds, never negative."""
        if self.distribution == "fixed":
            value = self.ms or 0.0
        elif self.distribution == "uniform":
            value = rng.uniform(self.min_ms or 0.0, self.max_ms or 0.0)
        elif self.distribution == "normal":
            value = rng.gauss(self.mean_ms or 0.0, self.stddev_ms or 0.0)
        else:
            value = rng.expovariate(1.0 / self.mean_ms) if self.mean_ms else 0.0
        return max(0.0, value) / 1000.0


class ResponseSpec(BaseModel):
    """What to answer: a status, and a body given inline, by example name, or generated."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(
        default=None,
        ge=100,
        le=599,
        description="the status to answer; the documented response of that status supplies "
        "body and headers",
        examples=[503],
    )
    body: Any = Field(
        default=None,
        description="an inline body, served as given (JSON unless the response's media type is "
        "another); takes precedence over example and generate",
        examples=[{"error": "unavailable"}],
    )
    example: str | None = Field(
        default=None,
        description="the name of a documented example of the response to serve",
        examples=["sold_out"],
    )
    generate: bool = Field(
        default=False,
        description="true: fresh data generated from the response schema on every call",
        examples=[True],
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="extra response headers",
        examples=[{"Retry-After": "5"}],
    )
    delay_ms: float | None = Field(
        default=None,
        ge=0,
        description="a fixed delay in milliseconds before answering",
        examples=[200],
    )
    delay: Delay | None = Field(
        default=None,
        description="a delay drawn from a distribution per request (wins over delay_ms)",
        examples=[{"distribution": "normal", "mean_ms": 120, "stddev_ms": 30}],
    )
    template: bool = Field(
        default=False,
        description="true: render {{ ... }} templates in body and header values from the "
        "request (path.NAME, query.NAME, header.NAME, body.FIELD, now, uuid, fake.NAME, ...; "
        "see docs/scenarios.md); false: serve them as written",
        examples=[True],
    )
    # Set by the model when a body is given (even null); not part of the format.
    has_body: SkipJsonSchema[bool] = Field(default=False, exclude=True)
    # Set by the model when `template` is on and the body or a header holds a template.
    templated: SkipJsonSchema[bool] = Field(default=False, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _note_body(cls, data: Any) -> Any:
        if isinstance(data, dict) and "body" in data:
            data = {**data, "has_body": True}
        return data

    @model_validator(mode="after")
    def _templates(self) -> ResponseSpec:
        """With `template` on, templates in the body and header values parse (see
        scenarios.templates); off, `{{` is text like any other."""
        if not self.template:
            return self
        problems = template_problems(self.body, "body")
        for name, value in self.headers.items():
            problems.extend(template_problems(value, f"headers.{name}"))
        if problems:
            raise ValueError("; ".join(problems))
        self.templated = has_templates(self.body) or any(
            "{{" in value for value in self.headers.values()
        )
        return self

    def draw_delay(self, rng: random.Random) -> float:
        if self.delay is not None:
            return self.delay.draw(rng)
        return (self.delay_ms or 0.0) / 1000.0


class ScenarioRule(ResponseSpec):
    """A response rule for the operations it selects.

    Beyond a plain response: `error_rate` answers `error_status` (default 500) to that share of
    requests, and `sequence` answers successive calls with successive responses
    (`sequence_end`: "cycle" starts over, "repeat_last" stays on the last one).
    """

    operation: str | None = Field(
        default=None,
        description="select by operationId; with method or path, all must match",
        examples=["getPet"],
    )
    method: str | None = Field(
        default=None,
        description="an HTTP method (any case); with path, or alone for every operation of "
        "that method",
        examples=["POST"],
    )
    path: str | None = Field(
        default=None,
        description="a path template as the description writes it (/pets/{petId}) or a glob "
        "over templates (/pets/*)",
        examples=["/pets/{petId}"],
    )
    error_rate: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="share of calls (0 to 1) answered with error_status",
        examples=[0.2],
    )
    error_status: int = Field(
        default=500,
        ge=400,
        le=599,
        description="the status of those errors",
        examples=[503],
    )
    error_body: Any = Field(
        default=None,
        description="the body of those errors (default: the documented error response)",
        examples=[{"error": "try again"}],
    )
    sequence: list[ResponseSpec] = Field(
        default_factory=list,
        description="successive calls get successive responses (status, body, example, "
        "generate, headers, delay_ms, delay)",
        examples=[[{"status": 200}, {"status": 429, "headers": {"Retry-After": "1"}}]],
    )
    sequence_end: Literal["cycle", "repeat_last"] = Field(
        default="cycle",
        description="after the last response: cycle starts over, repeat_last stays on it",
        examples=["repeat_last"],
    )
    when: When | None = Field(
        default=None,
        description="answer only requests that pass these tests (path, query, headers, "
        "cookies, session, body); a request that fails them goes on to the next rule",
        examples=[{"path": {"petId": "999"}}],
    )
    rate_limit: RateLimit | None = Field(
        default=None,
        description="throttle what the rule selects: past requests per per_seconds (burst at "
        "once) per client, session or for everyone, answer 429 with Retry-After and "
        "RateLimit-* headers; requests let through get the rule's answer",
        examples=[{"requests": 5, "per_seconds": 60, "scope": "client"}],
    )

    @model_validator(mode="after")
    def _error_templates(self) -> ScenarioRule:
        if not self.template:
            return self
        problems = template_problems(self.error_body, "error_body")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("method")
    @classmethod
    def _method(cls, value: str | None) -> str | None:
        if value is None:
            return None
        upper = value.upper()
        if upper not in _METHODS:
            raise ValueError(f"unknown HTTP method {value!r}; use one of {sorted(_METHODS)}")
        return upper

    def selects(self, op: Operation) -> bool:
        if self.operation is not None and self.operation != op.operation_id:
            return False
        if self.method is not None and self.method != op.method.upper():
            return False
        if self.path is not None and self.path != op.path:
            return fnmatch.fnmatchcase(op.path, self.path)
        return True

    def describe(self) -> str:
        selector = self.operation or " ".join(
            part for part in (self.method or "*", self.path or "*")
        )
        return f"{selector} when ..." if self.when is not None else selector


class Scenario(BaseModel):
    """A named set of rules, with the test parameters and expectations that go with it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=200,
        description="unique per mock, without '/'; the name deploy_scenario and switch_scenario "
        "use (scenario_name is accepted as a synonym)",
        examples=["payment_outage"],
    )
    description: str = Field(
        default="",
        description="what the scenario simulates, in words",
        examples=["Payments fail while the catalogue stays up"],
    )
    rules: list[ScenarioRule] = Field(
        default_factory=list,
        description="the first rule that selects an operation answers it",
        examples=[[{"method": "POST", "path": "/payments", "status": 503, "delay_ms": 200}]],
    )
    test_parameters: TestParameters | None = Field(
        default=None,
        description="load parameters for a run under the scenario (kept; deploying runs no "
        "load: they are run_load_test's concurrent_users, duration, ramp_up, target_rps and "
        "thresholds.error_rate)",
        examples=[{"concurrent_users": 10, "duration_seconds": 60, "ramp_up_time": 5}],
    )
    validation_rules: list[ValidationRule] = Field(
        default_factory=list,
        description="expectations on the answers while the scenario is active; "
        "switch_scenario checks status, response_time, header and body rules on its "
        "verification request",
        examples=[[{"rule_type": "status", "condition": "equals", "expected_value": 503}]],
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="anything describing the scenario; the mock keeps it and ignores it",
        examples=[{"scenario_type": "error_simulation", "owner": "payments-team"}],
    )


def _format_errors(exc: ValidationError, what: str) -> str:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(root)"
        problems.append(f"{location}: {error['msg']}")
    return f"invalid {what}: " + "; ".join(problems)


def parse_scenario(data: Any, *, name: str | None = None) -> Scenario:
    """Validate scenario data; ScenarioError naming each bad field otherwise.

    The original MockLoop shape (scenario_name, endpoints with response_config) is normalised
    into rules first (see `mockloop.mock.scenarios.original`).
    """
    if not isinstance(data, dict):
        raise ScenarioError(f"a scenario must be a JSON object, got {type(data).__name__}")
    shape = normalise_original_shape(data)
    if shape.problems:
        raise ScenarioError(
            "invalid scenario: " + "; ".join(f"{where}: {what}" for where, what in shape.problems)
        )
    data = shape.data
    if shape.original and "scenario_type" in data:
        # The original shape's scenario_type describes the scenario: metadata, as deploy keeps it.
        metadata = data.get("metadata")
        kept = {"scenario_type": data["scenario_type"]}
        data = {k: v for k, v in data.items() if k != "scenario_type"}
        data["metadata"] = {**kept, **metadata} if isinstance(metadata, dict) else kept
    if name is not None and "name" not in data:
        data = {**data, "name": name}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, "scenario")) from None


def parse_rule(data: Any) -> ScenarioRule:
    """Validate one rule (a response override); ScenarioError naming each bad field otherwise."""
    if not isinstance(data, dict):
        raise ScenarioError(f"a response rule must be a JSON object, got {type(data).__name__}")
    try:
        return ScenarioRule.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, "response rule")) from None


def check_rules_against(
    rules: list[ScenarioRule],
    operations: list[Operation],
    document: Mapping[str, Any] | None = None,
    *,
    validated: bool = False,
) -> list[str]:
    """Problems with rules that select nothing on this description (each names the rule).

    `validated`: the mock refuses requests that break the description before any rule is
    chosen (validation `enforce`), so a `when` no valid request can meet is a problem too
    (named with its condition; `document` resolves `$ref`s of request body schemas). Without
    it such a rule is kept: it answers exactly the invalid requests it describes (a 422 for
    `"currency": "XXX"`), which is what it is for.
    """
    problems = []
    for index, rule in enumerate(rules):
        selected = [op for op in operations if rule.selects(op)]
        if (rule.operation or rule.path or rule.method) and not selected:
            problems.append(f"rules[{index}] ({rule.describe()}) matches no operation")
            continue
        if validated and rule.when is not None:
            problems.extend(
                f"rules[{index}].when.{location}: {message}"
                for location, message, severity in when_problems(
                    rule.when, selected or operations, document
                )
                if severity == "error"
            )
    return problems


class RuleSnapshot:
    """The rules in force, resolved per operation, as one immutable unit: the table, whether a
    rule reads requests, and the rate limiters. A request reads one snapshot throughout."""

    __slots__ = ("by_operation", "limiters", "reads_requests")

    def __init__(
        self,
        by_operation: dict[str, list[tuple[ScenarioRule, itertools.count[int]]]],
        limiters: dict[int, RateLimiter],
        reads_requests: bool,
    ) -> None:
        self.by_operation = by_operation
        self.limiters = limiters
        # Whether a rule in force reads the request (`when`, templates): only then does the
        # business port build a `RequestView` for it.
        self.reads_requests = reads_requests


class RuleEngine:
    """The rules in force (overrides, then the active scenario), resolved per operation.

    Swapping the active scenario or an override replaces an immutable snapshot
    (`RuleSnapshot`), so a request in flight sees either the old rules or the new ones, never a
    mix. Per-rule sequence counters and rate-limit buckets live in the snapshot and restart
    when the scenario changes.
    """

    def __init__(self, operations: list[Operation], seed: int = 0) -> None:
        self._operations = operations
        self._lock = threading.Lock()
        self._overrides: dict[str, ScenarioRule] = {}
        self._scenario: Scenario | None = None
        self.snapshot = RuleSnapshot({}, {}, False)
        self._limiter_pool: dict[tuple[str, ...], RateLimiter] = {}
        self.rng = random.Random(seed)

    @property
    def reads_requests(self) -> bool:
        return self.snapshot.reads_requests

    @property
    def scenario_rules(self) -> list[ScenarioRule] | None:
        """The active scenario's rules (None when none is active)."""
        scenario = self._scenario
        return list(scenario.rules) if scenario else None

    @property
    def active_scenario(self) -> str | None:
        scenario = self._scenario
        return scenario.name if scenario else None

    def set_scenario(self, scenario: Scenario | None) -> None:
        with self._lock:
            self._scenario = scenario
            self._rebuild()

    def set_overrides(self, overrides: dict[str, ScenarioRule]) -> None:
        with self._lock:
            self._overrides = dict(overrides)
            self._rebuild()

    def set_operations(self, operations: list[Operation]) -> None:
        """Resolve the rules in force against another description's operations (a reload)."""
        with self._lock:
            self._operations = operations
            self._rebuild()

    def _rebuild(self) -> None:
        ordered = list(self._overrides.values())
        if self._scenario is not None:
            ordered.extend(self._scenario.rules)
        table: dict[str, list[tuple[ScenarioRule, itertools.count[int]]]] = {}
        for op in self._operations:
            # Every rule that selects the operation, in order, up to the first without `when`
            # (it answers whatever reaches it: the rest never would).
            candidates = []
            for rule in ordered:
                if rule.selects(op):
                    candidates.append((rule, itertools.count()))
                    if rule.when is None:
                        break
            if candidates:
                table[op.operation_id] = candidates
        # A limit keeps its buckets while its rule is unchanged: another change (an override of
        # another operation, a webhook, a replica's bump) must not refill them.
        pool: dict[tuple[str, ...], RateLimiter] = {}
        limiters: dict[int, RateLimiter] = {}
        keyed = [(("override", key), rule) for key, rule in self._overrides.items()]
        if self._scenario is not None:
            keyed += [
                (("scenario", self._scenario.name, str(index)), rule)
                for index, rule in enumerate(self._scenario.rules)
            ]
        for where, rule in keyed:
            if rule.rate_limit is None:
                continue
            identity = (*where, rule.model_dump_json())
            limiter = self._limiter_pool.get(identity) or RateLimiter(rule.rate_limit)
            pool[identity] = limiter
            limiters[id(rule)] = limiter
        self._limiter_pool = pool
        reads = any(
            rule.when is not None
            or rule.templated
            or (rule.template and has_templates(rule.error_body))
            or any(step.templated for step in rule.sequence)
            for rule in ordered
        )
        self.snapshot = RuleSnapshot(table, limiters, reads)  # published whole, at once

    def limiter(
        self, rule: ScenarioRule, snapshot: RuleSnapshot | None = None
    ) -> RateLimiter | None:
        """The buckets of a rule with `rate_limit` in force (None otherwise)."""
        return (snapshot or self.snapshot).limiters.get(id(rule))

    def rule_for(
        self,
        op: Operation,
        request: RequestView | None = None,
        snapshot: RuleSnapshot | None = None,
    ) -> tuple[ResponseSpec, ScenarioRule] | None:
        """The response to give for this call under the rules in force, or None for no rule.

        Returns the chosen response (the rule itself, an element of its sequence, or an error
        response drawn by `error_rate`) and the rule it came from: the first rule selecting
        the operation whose `when` holds for `request` (a rule with `when` never answers
        without a request). `snapshot`: the rules the caller read once for this request.
        """
        selected = self.select(op, request, snapshot)
        return None if selected is None else self.draw(*selected)

    def select(
        self,
        op: Operation,
        request: RequestView | None = None,
        snapshot: RuleSnapshot | None = None,
    ) -> tuple[ScenarioRule, itertools.count[int]] | None:
        """The rule that answers this call (and its sequence counter), before anything is
        drawn: a call its rate limit refuses takes no sequence step and no error draw."""
        entry = (snapshot or self.snapshot).by_operation.get(op.operation_id)
        if entry is None:
            return None
        for rule, counter in entry:
            if rule.when is None or (request is not None and rule.when.holds(request)):
                return rule, counter
        return None

    def draw(
        self, rule: ScenarioRule, counter: itertools.count[int]
    ) -> tuple[ResponseSpec, ScenarioRule]:
        """The response a selected rule gives this call (a sequence step, an error draw)."""
        return self._response(rule, counter)

    def _response(
        self, rule: ScenarioRule, counter: itertools.count[int]
    ) -> tuple[ResponseSpec, ScenarioRule]:
        if rule.error_rate and self.rng.random() < rule.error_rate:
            error = ResponseSpec(
                status=rule.error_status, body=rule.error_body, template=rule.template
            )
            error.has_body = rule.error_body is not None
            return error, rule
        if rule.sequence:
            call = next(counter)
            length = len(rule.sequence)
            index = call % length if rule.sequence_end == "cycle" else min(call, length - 1)
            return rule.sequence[index], rule
        return rule, rule
