"""The results of the five prompts.

Each is deterministic (computed from the description alone) and carries `messages`: the MCP
prompt messages that embed the result as JSON with instructions for the host's model. When the
client has an `llm`, `refinement` says what the model added and what was dropped.

Every result has `scenarios` (deployable, each with a `name` and, where a plan can be made, a
`test_plan`) and iterating a result yields them: `for scenario in result: ...`. This replaces
pydantic's own `__iter__` (which yields `(field, value)` pairs) on purpose; `keys()`, `items()`
and `model_dump()` still give the fields.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from mockloop.results import Result

__all__ = [
    "AuthCoverage",
    "DataDependency",
    "ErrorScenarioSet",
    "LoadOptimization",
    "OpenApiTestingAnalysis",
    "OperationRisk",
    "PromptResult",
    "Refinement",
    "ScenarioConfigSet",
    "SecurityTestSelection",
]


class Refinement(Result):
    """What the client's model did to the deterministic result."""

    mode: Literal["deterministic", "llm"] = Field(
        description="llm: a model was asked and its answer merged; deterministic: no model"
    )
    requested: bool = Field(description="refinement was asked for (ai_optimization)")
    model: str | None = Field(default=None, description="the model's class or name")
    added_scenarios: list[str] = Field(default_factory=list)
    added_notes: list[str] = Field(default_factory=list)
    dropped: list[dict[str, Any]] = Field(
        default_factory=list, description="what the model proposed that did not validate, and why"
    )
    error: str | None = Field(default=None, description="why the model's answer was not used")
    note: str = ""


class OperationRisk(Result):
    """One operation with its risk and the reasons for it."""

    operation_id: str
    method: str
    path: str
    title: str = Field(default="", description="the operation's summary")
    secured: bool
    risk: Literal["low", "medium", "high", "critical"]
    score: int
    reasons: list[str]
    owasp: list[str] = Field(default_factory=list, description="OWASP API 2023 categories")


class AuthCoverage(Result):
    """Which operations the description protects, and with what."""

    schemes: list[dict[str, Any]]
    secured_operations: int
    public_operations: list[str]
    optional_auth_operations: list[str] = Field(
        description="operations that also allow anonymous access"
    )
    unprotected_writes: list[str] = Field(
        description="writes without security in a description that declares schemes"
    )
    coverage: float = Field(description="share of operations that require credentials")


class DataDependency(Result):
    """A value one operation produces and another consumes."""

    producer: str
    consumer: str
    field: str = Field(description="the producer's response field")
    parameter: str = Field(description="the consumer's parameter")
    via: Literal["link", "name", "path"] = Field(
        description="link: an OpenAPI link; name: same name; path: the collection's id"
    )


# `summary` is a field (the paragraph users print: result["summary"]); it stands in for
# Result.summary(), which summary_of() knows.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "summary"', category=UserWarning)

    class PromptResult(Result):
        """What every prompt returns: scenarios, a summary, LLM-ready messages, refinement."""

        prompt: str = Field(description="the prompt that made it")
        summary: str = Field(  # pyright: ignore[reportIncompatibleMethodOverride]
            description="a paragraph with the figures that matter"
        )
        scenarios: list[dict[str, Any]] = Field(
            default_factory=list,
            description="deployable scenarios (deploy_scenario), each with name and test_plan",
        )
        notes: list[str] = Field(default_factory=list)
        refinement: Refinement | None = None
        # Not serialised: it repeats the whole result (tool outputs stay half the size).
        messages: list[dict[str, Any]] = Field(
            default_factory=list,
            exclude=True,
            description="MCP prompt messages embedding this result for the host's model",
        )

        def __iter__(self) -> Iterator[dict[str, Any]]:  # type: ignore[override]
            """The scenarios (not pydantic's field pairs: use items() for those)."""
            return iter(self.scenarios)

        def __len__(self) -> int:
            return len(self.scenarios)

    class OpenApiTestingAnalysis(PromptResult):
        """analyze_openapi_for_testing: what to test in an API and how, ready to run."""

        # Redeclared: an inherited field would take Result.summary() as its default.
        summary: str = Field(  # pyright: ignore[reportIncompatibleMethodOverride]
            description="a paragraph with the figures that matter"
        )

        api: dict[str, Any] = Field(description="title, version, source, counts")
        analysis_depth: str
        testing_focus: list[str]
        operations: list[OperationRisk]
        auth: AuthCoverage
        dependencies: list[DataDependency]
        test_plan: dict[str, Any] | None = Field(
            default=None, description="a plan for execute_test_plan against a mock of the API"
        )
        security_tests: dict[str, Any] | None = Field(
            default=None, description="run_security_test arguments, when security tests are on"
        )

    class ScenarioConfigSet(PromptResult):
        """generate_scenario_config: deployable scenarios of the asked types."""

        # Redeclared: an inherited field would take Result.summary() as its default.
        summary: str = Field(  # pyright: ignore[reportIncompatibleMethodOverride]
            description="a paragraph with the figures that matter"
        )

        api: dict[str, Any] | None = None
        scenario_types: list[str]

    class LoadOptimization(PromptResult):
        """optimize_scenario_for_load: a load profile for a scenario, with the reasoning."""

        # Redeclared: an inherited field would take Result.summary() as its default.
        summary: str = Field(  # pyright: ignore[reportIncompatibleMethodOverride]
            description="a paragraph with the figures that matter"
        )

        load_profile: dict[str, Any] = Field(description="run_load_test arguments (and stages)")
        reasoning: list[str]
        estimates: dict[str, Any] = Field(description="the latency and throughput figures used")

    class ErrorScenarioSet(PromptResult):
        """generate_error_scenarios: error scenarios for the given endpoints."""

        # Redeclared: an inherited field would take Result.summary() as its default.
        summary: str = Field(  # pyright: ignore[reportIncompatibleMethodOverride]
            description="a paragraph with the figures that matter"
        )

        endpoints: list[str]
        error_types: list[str]
        severity_level: str

    class SecurityTestSelection(PromptResult):
        """generate_security_test_scenarios: probes to run, mock scenarios of auth failures."""

        # Redeclared: an inherited field would take Result.summary() as its default.
        summary: str = Field(  # pyright: ignore[reportIncompatibleMethodOverride]
            description="a paragraph with the figures that matter"
        )

        run_security_test: dict[str, Any] = Field(
            description="arguments for run_security_test (add server_url)"
        )
        selected: list[dict[str, Any]] = Field(description="each family chosen, with the reason")
        not_selected: list[dict[str, Any]] = Field(description="each family left out, with why")
        compliance: list[str] = Field(default_factory=list)
