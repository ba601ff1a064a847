"""Scenarios by type, built from the built-in packs' templates for one description.

A scenario type names pack scenario templates (`load` is the load-testing pack's
realistic-latency scenario, `error` the flaky 5xx mix and 404s, `security` expired tokens and
a token refresh flow...), so a prompt's scenarios are exactly what the packs would deploy:
validated against the description, each with a test_plan expecting what it makes the mock do.
`functional` is the one type without a pack: every operation answers freshly generated
documented data.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from mockloop.errors import ConfigError
from mockloop.mock.scenarios.check import check_scenario
from mockloop.packs.apply import apply_pack
from mockloop.packs.loader import PackCollection, load_packs
from mockloop.packs.plans import OperationRequests
from mockloop.spec.model import ApiSpec

__all__ = [
    "LOAD_PARAMETERS",
    "SCENARIO_TYPES",
    "build_scenarios",
    "builtin_packs",
    "resolve_types",
]

_PACK = "scenario-pack://"
SCENARIO_TYPES: dict[str, list[tuple[str, str]]] = {
    "functional": [],
    "load": [("performance/load-testing", "realistic-latency")],
    "stress": [("performance/stress-testing", "degrading-under-stress")],
    "spike": [("performance/spike-testing", "spike-saturation")],
    "endurance": [("performance/endurance-testing", "slow-leak")],
    "error": [
        ("error-simulation/5xx-server-errors", "flaky-5xx"),
        ("error-simulation/4xx-client-errors", "not-found"),
    ],
    "client_error": [
        ("error-simulation/4xx-client-errors", "bad-request"),
        ("error-simulation/4xx-client-errors", "conflict"),
    ],
    "server_error": [
        ("error-simulation/5xx-server-errors", "internal-errors"),
        ("error-simulation/5xx-server-errors", "service-unavailable"),
    ],
    "timeout": [("error-simulation/network-timeouts", "slow-responses")],
    "rate_limit": [("error-simulation/rate-limiting", "burst-limit")],
    "security": [
        ("security/auth-bypass", "expired-token"),
        ("security/auth-bypass", "token-refresh"),
    ],
    "injection": [("security/injection-attacks", "sql-error-leak")],
    "xss": [("security/xss-attacks", "stored-xss")],
    "csrf": [("security/csrf-attacks", "missing-csrf-token")],
    "edge_cases": [
        ("business-logic/edge-cases", "empty-collections"),
        ("business-logic/edge-cases", "boundary-values"),
    ],
    "validation": [("business-logic/data-validation", "rejected-writes")],
    "workflow": [
        ("business-logic/workflow-testing", "duplicate-create"),
        ("business-logic/workflow-testing", "eventual-consistency"),
    ],
}
_ALIASES = {
    "performance": "load",
    "errors": "error",
    "error_handling": "error",
    "reliability": "error",
    "4xx": "client_error",
    "5xx": "server_error",
    "timeouts": "timeout",
    "latency": "timeout",
    "rate_limiting": "rate_limit",
    "ratelimit": "rate_limit",
    "throttling": "rate_limit",
    "auth": "security",
    "authentication": "security",
    "auth_bypass": "security",
    "sqli": "injection",
    "edge": "edge_cases",
    "edge_case": "edge_cases",
    "data_validation": "validation",
    "business_logic": "workflow",
    "business": "workflow",
    "happy_path": "functional",
    "baseline": "functional",
}
LOAD_PARAMETERS = ("concurrent_users", "duration", "ramp_up", "target_rps", "think_time")
_TEST_PARAMETERS = (*LOAD_PARAMETERS, "thresholds", "error_rate", "max_operations")


@cache
def builtin_packs() -> PackCollection:
    """The built-in packs (read once)."""
    return load_packs(include_user=False)


def resolve_types(types: list[str]) -> list[str]:
    """Canonical scenario types, in order, without duplicates; ConfigError for unknown ones."""
    out: list[str] = []
    for raw in types:
        key = str(raw).strip().lower().replace("-", "_").replace(" ", "_")
        key = _ALIASES.get(key, key)
        if key not in SCENARIO_TYPES:
            known = ", ".join([*SCENARIO_TYPES, *_ALIASES])
            raise ConfigError(f"unknown scenario type {raw!r}; use one of: {known}")
        if key not in out:
            out.append(key)
    return out


def _functional(
    spec: ApiSpec, requests: OperationRequests, name: str, operations: list[str] | None
) -> dict[str, Any] | None:
    chosen = [
        op
        for op in spec.operations
        if not operations
        or op.operation_id in operations
        or f"{op.method.upper()} {op.path}" in operations
    ]
    rules = [{"operation": op.operation_id, "generate": True} for op in chosen[:60]]
    if not rules:
        return None
    scenario: dict[str, Any] = {
        "name": name,
        "description": "Every operation answers its documented success with freshly generated "
        "data on each call: the baseline functional tests run against.",
        "rules": rules,
        "type": "functional",
        "tags": ["functional", "baseline"],
        "source": "mockloop.prompts",
        "expected_outcomes": ["every happy-path request succeeds with a conforming body"],
    }
    plan, _ = requests.plan_for(scenario, max_operations=10)
    if plan is not None:
        scenario["test_plan"] = plan
    return scenario


def _tune(scenario: dict[str, Any], parameters: dict[str, Any]) -> None:
    profile = scenario.get("load_profile")
    if isinstance(profile, dict):
        for key in LOAD_PARAMETERS:
            if key in parameters:
                profile[key] = parameters[key]
        if "thresholds" in parameters:
            profile["thresholds"] = dict(parameters["thresholds"])
    if "error_rate" in parameters:
        for rule in scenario["rules"]:
            if rule.get("error_rate"):
                rule["error_rate"] = parameters["error_rate"]


def check_test_parameters(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """The test parameters, checked: ConfigError naming an unknown key or a bad value."""
    parameters = dict(parameters or {})
    for key, value in parameters.items():
        if key not in _TEST_PARAMETERS:
            raise ConfigError(
                f"test_parameters: unknown key {key!r}; use {', '.join(_TEST_PARAMETERS)}"
            )
        if key == "thresholds":
            from mockloop.load.thresholds import check_thresholds

            check_thresholds(value)
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"test_parameters.{key}={value!r} must be a number >= 0")
    rate = parameters.get("error_rate")
    if rate is not None and rate > 1:
        raise ConfigError("test_parameters.error_rate must be between 0 and 1")
    return parameters


def build_scenarios(
    spec: ApiSpec,
    types: list[str],
    *,
    requests: OperationRequests | None = None,
    operations: list[str] | None = None,
    parameters: dict[str, Any] | None = None,
    scenario_name: str | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Scenarios of the given (canonical) types for `spec`, and notes on what was left out."""
    requests = requests or OperationRequests(spec)
    parameters = parameters or {}
    packs = builtin_packs()
    planned = [(kind, entry) for kind in types for entry in (SCENARIO_TYPES[kind] or [None])]
    scenarios: list[dict[str, Any]] = []
    notes: list[str] = []
    for kind, entry in planned:
        single = len(planned) == 1 and scenario_name
        if entry is None:
            name = scenario_name if single else f"{scenario_name or 'functional'}-baseline"
            built = _functional(spec, requests, str(name), operations)
            if built is None:
                notes.append(f"{kind}: no operation to build it for")
                continue
            found = [built]
        else:
            pack_path, template = entry
            pack = packs.get(_PACK + pack_path).pack
            slug = kind.replace("_", "-")
            base = template if template.startswith(slug) else f"{slug}-{template}"
            name = (
                scenario_name
                if single
                else f"{scenario_name}-{template}"
                if scenario_name
                else base
            )
            applied = apply_pack(
                pack,
                spec,
                requests=requests,
                operations=operations,
                templates=[template],
                names={template: str(name)},
            )
            notes.extend(f"{kind}: {note}" for note in applied.notes)
            notes.extend(
                f"{kind}: {item['name']} did not validate: {item['problems']}"
                for item in applied.invalid
            )
            found = applied.scenarios
        unsecured = (
            "security: no operation requires credentials; the auth-failure scenarios "
            "simulate what an API with auth would answer"
        )
        if (
            kind == "security"
            and unsecured not in notes
            and not any(op.security and all(op.security) for op in spec.operations)
        ):
            notes.append(unsecured)
        for scenario in found:
            _tune(scenario, parameters)
            scenario["scenario_type"] = kind
            if any(s["name"] == scenario["name"] for s in scenarios):
                notes.append(f"{scenario['name']}: a scenario of that name exists; left out")
                continue
            check = check_scenario(
                scenario, strict=True, operations=spec.operations, document=spec.document
            )
            if check.problems:
                notes.append(f"{scenario['name']} did not validate: {check.problems[0]}")
                continue
            scenarios.append(scenario)
    return scenarios, notes
