"""What the scenario tools return: validation findings, a deployment, a switch with its
verification evidence, and the active scenario of each mock."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mockloop.mock.scenarios.check import ScenarioProblem
from mockloop.mock.scenarios.endpoints import RuleMatch
from mockloop.mock.scenarios.verify import VerificationCheck
from mockloop.results import Result

__all__ = [
    "ActiveScenarioEntry",
    "ActiveScenarioList",
    "MockDataResult",
    "ScenarioDeployResult",
    "ScenarioSwitchResult",
    "ScenarioValidationResult",
    "ScenarioVerification",
]

_LISTED = 5


def _listing(problems: list[ScenarioProblem]) -> str:
    shown = "; ".join(str(p) for p in problems[:_LISTED])
    more = len(problems) - _LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def _rewrites(notes: list[str]) -> str:
    """The endpoint rewrites among the notes, in a few words."""
    count = sum(1 for note in notes if note.startswith("normalised: endpoints["))
    return f"{count} endpoint(s) -> {count} rule(s)" if count else ""


class ScenarioValidationResult(Result):
    """Every problem of a scenario, located, and the scenario as the mock would take it."""

    scenario_name: str | None = Field(description="the scenario's name, when it has one")
    valid: bool = Field(description="no errors (warnings do not make it invalid)")
    strict: bool = Field(description="validated against the strict format (the JSON schema)")
    problems: list[ScenarioProblem] = Field(
        description="errors, each with its location (rules[2].delay.mean_ms) and how to fix it"
    )
    warnings: list[ScenarioProblem] = Field(
        description="valid, but probably not meant: ignored fields, rules that never apply, "
        "undocumented statuses, endpoints not checked"
    )
    scenario: dict[str, Any] | None = Field(
        description="the normalised scenario (converted values, metadata keys under metadata); "
        "None when it could not be read"
    )
    rule_count: int | None = None
    endpoints_checked: bool = Field(description="the rules were checked against a description")
    checked_against: str | None = Field(
        default=None, description="the description the endpoints were checked against"
    )
    endpoint_matches: list[RuleMatch] = Field(
        default_factory=list, description="per rule: the operations it selects and answers"
    )
    normalisation: list[str] = Field(
        default_factory=list,
        description='what was rewritten from the original MockLoop shape ("normalised: '
        'endpoints[0] -> rules[0] (POST /payments: status 503, delay 200 ms)"), and what is '
        "kept on the scenario but not acted upon by deploying (test_parameters, error_rate "
        "validation rules)",
    )

    def summary(self, limit: int = 600) -> str:
        name = repr(self.scenario_name) if self.scenario_name else "(unnamed)"
        if self.valid:
            text = f"Scenario {name} is valid"
        else:
            text = f"Scenario {name} is invalid: {len(self.problems)} problem(s): "
            text += _listing(self.problems)
        rewritten = _rewrites(self.normalisation)
        if rewritten:
            text += f". Normalised from the original MockLoop shape: {rewritten}"
        if self.endpoints_checked:
            matched = sum(1 for m in self.endpoint_matches if m.operations)
            text += (
                f". Endpoints checked against {self.checked_against}: {matched} of "
                f"{len(self.endpoint_matches)} rule(s) select an operation"
            )
        else:
            text += ". Endpoints not checked"
        if self.warnings:
            text += f". {len(self.warnings)} warning(s): {_listing(self.warnings)}"
        text += "."
        return text if len(text) <= limit else text[: limit - 3] + "..."


class ScenarioDeployResult(Result):
    """A scenario stored on a mock: created or replaced, and whether it is active."""

    scenario_name: str
    server_url: str = Field(description="the URL the caller gave")
    admin_url: str
    action: Literal["created", "replaced"]
    validated: bool = Field(description="validated before deploying")
    forced: bool = Field(description="deployed despite validation problems (force_deploy)")
    activated: bool = Field(description="this call activated it")
    active: bool = Field(description="it is the mock's active scenario now")
    active_scenario: str | None = Field(description="the mock's active scenario after the call")
    rule_count: int
    warnings: list[ScenarioProblem] = Field(
        description="warnings, and with force_deploy the problems deployed anyway"
    )
    scenario: dict[str, Any] = Field(description="the scenario as the mock stored it")
    normalisation: list[str] = Field(
        default_factory=list,
        description="what was rewritten from the original MockLoop shape, and what is kept "
        "but not acted upon (as validate_scenario_config reports it)",
    )
    message: str

    def summary(self, limit: int = 600) -> str:
        text = self.message
        if self.warnings:
            text += f" {len(self.warnings)} warning(s): {_listing(self.warnings)}."
        return text if len(text) <= limit else text[: limit - 3] + "..."


class ScenarioVerification(BaseModel):
    """The evidence of one real request sent to confirm the switch."""

    status: Literal["verified", "failed", "not_verifiable"]
    reason: str = Field(description="why, in words")
    rule: str | None = Field(default=None, description='the rule checked: "rules[1]"')
    answer: str | None = Field(
        default=None, description='what of the rule answers: "the rule", "sequence[0]", ...'
    )
    operation_id: str | None = None
    request: dict[str, Any] | None = Field(
        default=None, description="method, url, headers and body size of the request sent"
    )
    response: dict[str, Any] | None = Field(
        default=None, description="status, elapsed_ms, headers and body excerpt of the answer"
    )
    checks: list[VerificationCheck] = Field(
        default_factory=list, description="expected against observed, one per thing the rule sets"
    )
    notes: list[str] = Field(default_factory=list, description="rules passed over, and why")
    sequences_restarted: bool = Field(
        default=False,
        description="the scenario was activated again after the request so that its sequences "
        "start from their first entry for real traffic",
    )


class ScenarioSwitchResult(Result):
    """The scenario now active on a mock and, when asked, the proof that it answers."""

    scenario_name: str
    server_url: str = Field(description="the URL the caller gave")
    admin_url: str
    business_url: str | None
    previous_scenario: str | None = Field(description="the scenario active before the switch")
    active_scenario: str | None = Field(description="the active scenario read back after it")
    rule_count: int
    verified: bool | None = Field(
        description="True: the request confirmed the rule; False: it did not; None: not "
        "verified (verify_switch=False, or nothing one request can confirm)"
    )
    verification: ScenarioVerification | None = None
    message: str

    def summary(self, limit: int = 600) -> str:
        text = self.message
        verification = self.verification
        if verification is not None and verification.request is not None:
            response = verification.response or {}
            text += (
                f" Evidence: {verification.request['method']} {verification.request['url']} "
                f"answered {response.get('status')} in {response.get('elapsed_ms')} ms"
            )
            failed = [c for c in verification.checks if not c.ok]
            if failed:
                text += "; failed: " + "; ".join(
                    f"{c.what} expected {c.expected!r}, observed {c.observed!r}" for c in failed
                )
            text += "."
        return text if len(text) <= limit else text[: limit - 3] + "..."


class ActiveScenarioEntry(BaseModel):
    """One mock and its active scenario, or why it could not be asked."""

    server_url: str
    found_by: Literal["given", "registry", "discovery"]
    reachable: bool
    admin_url: str | None = None
    business_url: str | None = None
    title: str | None = Field(default=None, description="the mocked API's title")
    active_scenario: str | None = None
    description: str | None = Field(default=None, description="the active scenario's")
    rule_count: int | None = Field(default=None, description="rules of the active scenario")
    stored_scenarios: int | None = Field(default=None, description="scenarios stored on the mock")
    error: str | None = Field(default=None, description="why the mock could not be asked")


class ActiveScenarioList(Result):
    """The active scenario of each mock asked; unreachable ones listed with their error."""

    servers: list[ActiveScenarioEntry]
    checked: int
    reachable: int
    unreachable: int
    with_active_scenario: int
    sources: list[str] = Field(description="where the mocks came from: given, registry, discovery")

    def summary(self, limit: int = 600) -> str:
        parts = []
        for entry in self.servers:
            if not entry.reachable:
                parts.append(f"{entry.server_url}: unreachable ({entry.error})")
            elif entry.active_scenario:
                parts.append(
                    f"{entry.server_url}: {entry.active_scenario!r} ({entry.rule_count} rule(s))"
                )
            else:
                parts.append(f"{entry.server_url}: no active scenario")
        text = (
            f"{self.checked} mock(s) asked, {self.reachable} reachable, "
            f"{self.with_active_scenario} with an active scenario"
        )
        if parts:
            text += ": " + "; ".join(parts)
        text += "."
        return text if len(text) <= limit else text[: limit - 3] + "..."


class MockDataResult(Result):
    """What a `manage_mock_data` action did, and the mock's scenario state after it."""

    operation: str
    server_url: str
    admin_url: str
    message: str = Field(description="what changed, in words")
    active_scenario: str | None = None
    scenarios: list[dict[str, Any]] | None = Field(
        default=None, description="the stored scenarios (list_scenarios)"
    )
    scenario: dict[str, Any] | None = Field(default=None, description="the scenario touched")
    override: dict[str, Any] | None = Field(default=None, description="the override set")
    endpoint: str | None = None
