"""The scenario pack format: templates of scenarios that become concrete for a description.

A pack is a YAML file `<category>/<name>.yaml` (see docs/scenario-packs.md). Its scenarios are
templates: each rule names which operations it applies to (`select`, a list of selectors tried
in order until one matches something) and what they answer (a status, a status mix, a rate
limit, a delay distribution, an error rate, a sequence, a body or a body built from the
operation's own schema). `mockloop.packs.apply` turns the templates into scenarios in the format
of docs/scenarios.md, one rule per selected operation.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mockloop.load.thresholds import THRESHOLD_METRICS
from mockloop.mock.scenarios.rules import Delay

__all__ = [
    "PACK_CATEGORIES",
    "BodyFrom",
    "EntryTemplate",
    "LoadProfileSpec",
    "OperationSelector",
    "PackScenarioTemplate",
    "RateLimitSpec",
    "RuleTemplate",
    "ScenarioPack",
]

PACK_CATEGORIES = ("error-simulation", "performance", "security", "business-logic")
_SLUG = r"^[a-z0-9][a-z0-9-]*$"
_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OperationSelector(_Strict):
    """Which operations of a description a rule applies to; every given criterion must hold."""

    methods: list[str] | None = Field(default=None, description="HTTP methods, e.g. [POST, PUT]")
    secured: bool | None = Field(
        default=None, description="true: only operations that require credentials"
    )
    has_body: bool | None = Field(default=None, description="true: takes a request body")
    has_path_params: bool | None = Field(default=None, description="true: /items/{id} style")
    has_query_params: bool | None = Field(default=None, description="true: takes query params")
    returns_collection: bool | None = Field(
        default=None, description="true: the success response is a JSON array (or a page)"
    )
    returns_json: bool | None = Field(
        default=None, description="true: the success response has a JSON body"
    )
    limit: int | None = Field(default=None, ge=1, description="at most this many operations")

    @field_validator("methods")
    @classmethod
    def _upper(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [m.upper() for m in value]


class BodyFrom(_Strict):
    """A body built at apply time from the operation and the pack.

    Kinds: `problem` (an RFC 9457 problem document with title and detail), `payloads` (the
    success response generated from its schema with every string replaced by the pack's
    payloads, in turn), `edge` (the success response with edge values: `empty` collections and
    strings, `boundaries` (each number at its schema's limit, strings at max length), `unicode`
    strings, `nulls`), `malformed` (`wrong_types`, `empty_object`, `truncated`), `validation`
    (a 422 problem with one error per required request field).
    """

    kind: Literal["problem", "payloads", "edge", "malformed", "validation"]
    title: str | None = None
    detail: str | None = None
    payloads: str | None = Field(default=None, description="the pack's payload list to use")
    variant: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="more problem members")

    @model_validator(mode="after")
    def _complete(self) -> BodyFrom:
        if self.kind == "problem" and not self.title:
            raise ValueError("a problem body needs a title")
        if self.kind == "payloads" and not self.payloads:
            raise ValueError("a payloads body needs payloads: the name of a payload list")
        variants = {
            "edge": ("empty", "boundaries", "unicode", "nulls"),
            "malformed": ("wrong_types", "empty_object", "truncated"),
        }
        if self.kind in variants and self.variant not in variants[self.kind]:
            raise ValueError(f"a {self.kind} body needs variant: one of {variants[self.kind]}")
        return self


class EntryTemplate(_Strict):
    """One response of a sequence (or a status mix entry)."""

    status: int | None = Field(default=None, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    delay: Delay | None = None
    delay_ms: float | None = Field(default=None, ge=0)
    body: Any = None
    body_from: BodyFrom | None = None


class RateLimitSpec(_Strict):
    """`allowed` calls succeed, then `blocked` calls answer 429 with Retry-After."""

    allowed: int = Field(ge=1, le=100)
    blocked: int = Field(default=1, ge=1, le=100)
    retry_after_s: int = Field(default=1, ge=0)
    window_s: int = Field(default=60, ge=1, description="the window the headers advertise")
    reset: Literal["cycle", "repeat_last"] = Field(
        default="cycle", description="cycle: the window reopens; repeat_last: blocked for good"
    )


class RuleTemplate(_Strict):
    """What the selected operations answer; becomes one scenario rule per operation."""

    select: list[OperationSelector] = Field(
        default_factory=lambda: [OperationSelector()],
        description="selectors tried in order; the first that matches an operation is used",
    )
    status: int | None = Field(default=None, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    delay: Delay | None = None
    delay_ms: float | None = Field(default=None, ge=0)
    body: Any = None
    body_from: BodyFrom | None = None
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: int = Field(default=500, ge=400, le=599)
    error_body_from: BodyFrom | None = None
    sequence: list[EntryTemplate] = Field(default_factory=list)
    sequence_end: Literal["cycle", "repeat_last"] = "cycle"
    status_mix: dict[str, int] | None = Field(
        default=None,
        description='{"ok": 6, "500": 2, "503": 1}: weights of statuses, "ok" = the documented '
        "success; becomes an interleaved cycling sequence",
    )
    rate_limit: RateLimitSpec | None = None

    @field_validator("status_mix")
    @classmethod
    def _mix(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return None
        for key, weight in value.items():
            if key != "ok" and not (key.isdigit() and 100 <= int(key) <= 599):
                raise ValueError(f"status_mix key {key!r} must be 'ok' or an HTTP status")
            if weight < 1:
                raise ValueError(f"status_mix weight of {key} must be at least 1")
        if sum(value.values()) > 50:
            raise ValueError("status_mix weights add up to more than 50 calls")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> RuleTemplate:
        shapes = [bool(self.sequence), self.status_mix is not None, self.rate_limit is not None]
        if sum(shapes) > 1:
            raise ValueError("give at most one of sequence, status_mix, rate_limit")
        if not self.select:
            raise ValueError("select needs at least one selector")
        return self


class PackScenarioTemplate(_Strict):
    """A scenario of a pack: rules templates plus what a run under it should observe."""

    name: str = Field(pattern=_SLUG, max_length=80)
    description: str = Field(min_length=1)
    type: str = Field(default="error", description="error, load, security, functional, ...")
    tags: list[str] = Field(default_factory=list)
    rules: list[RuleTemplate] = Field(min_length=1)
    expected_outcomes: list[str] = Field(default_factory=list)
    notes: str = ""


class LoadProfileSpec(_Strict):
    """The load to run while a performance pack's scenario is active (run_load_test terms)."""

    concurrent_users: int = Field(ge=1, le=10_000)
    duration: float = Field(gt=0, description="seconds")
    ramp_up: float = Field(default=0, ge=0, description="seconds")
    target_rps: float | None = Field(default=None, gt=0)
    think_time: float = Field(default=0, ge=0)
    read_weight: int = Field(default=8, ge=0, description="weight of each read in the mix")
    write_weight: int = Field(default=2, ge=0, description="weight of each write in the mix")
    thresholds: dict[str, float] = Field(default_factory=dict)
    stages: list[dict[str, float]] = Field(
        default_factory=list,
        description="the shape over time as [{duration, users}] (for spike and endurance "
        "runs: run_load_test runs one stage per call)",
    )

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        for key in value:
            if key not in THRESHOLD_METRICS:
                raise ValueError(f"unknown threshold {key!r}; use {', '.join(THRESHOLD_METRICS)}")
        return value


PayloadLists = Annotated[dict[str, list[str]], Field(default_factory=dict)]


class ScenarioPack(_Strict):
    """A pack file: what it simulates, its data (payloads, load profile) and its scenarios."""

    name: str = Field(pattern=_SLUG, max_length=80)
    category: Literal["error-simulation", "performance", "security", "business-logic"]
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    version: int = Field(default=1, ge=1)
    tags: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list, description="standards, RFCs, OWASP")
    payloads: PayloadLists
    load_profile: LoadProfileSpec | None = None
    security_focus: list[str] = Field(
        default_factory=list, description="run_security_test categories this pack relates to"
    )
    scenarios: list[PackScenarioTemplate] = Field(min_length=1)

    @property
    def uri(self) -> str:
        """`scenario-pack://CATEGORY/NAME`."""
        return f"scenario-pack://{self.category}/{self.name}"

    @model_validator(mode="after")
    def _references_resolve(self) -> ScenarioPack:
        names = [s.name for s in self.scenarios]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"scenario names must be unique in a pack: {duplicates}")
        for index, scenario in enumerate(self.scenarios):
            for r, rule in enumerate(scenario.rules):
                bodies = [rule.body_from, rule.error_body_from]
                bodies += [entry.body_from for entry in rule.sequence]
                for body in bodies:
                    if body is not None and body.payloads and body.payloads not in self.payloads:
                        raise ValueError(
                            f"scenarios[{index}].rules[{r}]: payload list {body.payloads!r} is "
                            f"not in payloads (has: {sorted(self.payloads)})"
                        )
        return self


def is_write(method: str) -> bool:
    """POST, PUT, PATCH or DELETE."""
    return method.upper() in _WRITE_METHODS
