"""analyze_openapi_for_testing, deterministic: risks, auth, dependencies, scenarios, a plan.

The scenario types follow the testing focus and the depth: standard covers each focus with its
most telling scenario (load latency, flaky 5xx and 404s, a rate limit, expired tokens, rejected
writes); comprehensive adds stress and spike load, timeouts, outages, injection, XSS and CSRF,
edge cases and workflows. The test plan is the generated happy path (standard) or happy path
plus negative cases (comprehensive) of every operation.
"""

from __future__ import annotations

from typing import Any

from mockloop.errors import ConfigError
from mockloop.packs.plans import OperationRequests
from mockloop.prompts.builders import build_scenarios
from mockloop.prompts.dependencies import find_dependencies
from mockloop.prompts.description import raw_document
from mockloop.prompts.models import OpenApiTestingAnalysis
from mockloop.prompts.risk import assess_operations, auth_coverage
from mockloop.prompts.security_selection import security_arguments
from mockloop.spec.model import ApiSpec
from mockloop.testing.plans.generate import generate_plan

__all__ = ["FOCUS_AREAS", "analyze_description", "resolve_focus_areas"]

FOCUS_AREAS = ("functional", "performance", "security", "reliability")
_FOCUS_ALIASES = {
    "load": "performance", "perf": "performance", "errors": "reliability",
    "resilience": "reliability", "error_handling": "reliability", "data": "functional",
    "business_logic": "functional", "contract": "functional", "auth": "security",
}  # fmt: skip
_TYPES = {
    "standard": {
        "functional": ["validation"],
        "performance": ["load"],
        "security": ["security"],
        "reliability": ["error", "rate_limit"],
    },
    "comprehensive": {
        "functional": ["functional", "edge_cases", "validation", "workflow"],
        "performance": ["load", "stress", "spike"],
        "security": ["security", "injection", "xss", "csrf"],
        "reliability": ["error", "server_error", "timeout", "rate_limit"],
    },
}


def resolve_focus_areas(focus: list[str] | str | None) -> list[str]:
    """Canonical focus areas (all when None); ConfigError naming the valid ones otherwise."""
    if focus is None or focus == [] or focus == "":
        return list(FOCUS_AREAS)
    items = [focus] if isinstance(focus, str) else focus
    out: list[str] = []
    for raw in items:
        key = str(raw).strip().lower().replace("-", "_").replace(" ", "_")
        key = _FOCUS_ALIASES.get(key, key)
        if key in ("all", "everything"):
            return list(FOCUS_AREAS)
        if key not in FOCUS_AREAS:
            raise ConfigError(
                f"testing_focus: unknown area {raw!r}; use {', '.join(FOCUS_AREAS)} (or all)"
            )
        if key not in out:
            out.append(key)
    return out


def analyze_description(
    spec: ApiSpec,
    *,
    depth: str,
    include_security: bool,
    focus: list[str],
    api_spec: Any,
) -> OpenApiTestingAnalysis:
    """The whole deterministic analysis (messages and refinement are added by the caller)."""
    if depth not in _TYPES:
        raise ConfigError(f"analysis_depth={depth!r}; use standard or comprehensive")
    risks = assess_operations(spec)
    auth = auth_coverage(spec)
    dependencies = find_dependencies(spec, raw_document(api_spec))
    areas = [a for a in focus if include_security or a != "security"]
    types: list[str] = []
    for area in areas:
        for kind in _TYPES[depth][area]:
            if kind == "security" and not auth.secured_operations:
                continue
            if kind not in types:
                types.append(kind)
    requests = OperationRequests(spec)
    scenarios, notes = build_scenarios(spec, types, requests=requests)
    if include_security and "security" in areas and not auth.secured_operations:
        notes.append("no operation requires credentials: no auth-failure scenario")
    test_plan = None
    try:
        plan, plan_notes = generate_plan(
            spec, focus="comprehensive" if depth == "comprehensive" else "happy_path"
        )
        test_plan = plan.model_dump(mode="json", exclude_defaults=True)
        notes.extend(f"test_plan: {note}" for note in plan_notes)
    except ConfigError as exc:
        notes.append(f"test_plan: none could be generated ({exc})")
    security = None
    if include_security:
        security, _, _, _ = security_arguments(spec, api_spec, None, None)
    counts = {
        level: sum(1 for r in risks if r.risk == level)
        for level in ("critical", "high", "medium", "low")
    }
    api = {
        "title": spec.title,
        "version": spec.version,
        "source": spec.source,
        "openapi": spec.source_version,
        "operations": len(spec.operations),
        "risk_counts": counts,
    }
    result = OpenApiTestingAnalysis(
        prompt="analyze_openapi_for_testing",
        summary="",
        scenarios=scenarios,
        notes=notes,
        api=api,
        analysis_depth=depth,
        testing_focus=areas,
        operations=risks,
        auth=auth,
        dependencies=dependencies,
        test_plan=test_plan,
        security_tests=security,
    )
    result.summary = _summary(result)
    return result


def _summary(result: OpenApiTestingAnalysis) -> str:
    api = result.api
    counts = api["risk_counts"]
    risky = [r for r in result.operations if r.risk in ("critical", "high")][:3]
    parts = [
        f"{api['title']} {api['version']}: {api['operations']} operation(s); risk "
        f"{counts['critical']} critical, {counts['high']} high, {counts['medium']} medium, "
        f"{counts['low']} low."
    ]
    if risky:
        parts.append(
            "Riskiest: "
            + "; ".join(f"{r.operation_id} ({r.risk}: {r.reasons[0]})" for r in risky)
            + "."
        )
    auth = result.auth
    schemes = ", ".join(s["name"] for s in auth.schemes) or "none"
    parts.append(
        f"Auth: {auth.secured_operations} of {api['operations']} require credentials "
        f"(schemes: {schemes}); {len(auth.unprotected_writes)} unprotected write(s)."
    )
    links = sum(1 for d in result.dependencies if d.via == "link")
    parts.append(f"{len(result.dependencies)} data dependencies ({links} from OpenAPI links).")
    names = ", ".join(s["name"] for s in result.scenarios[:6])
    more = f" and {len(result.scenarios) - 6} more" if len(result.scenarios) > 6 else ""
    parts.append(f"{len(result.scenarios)} scenario(s) ready to deploy: {names}{more}.")
    if result.test_plan:
        parts.append(f"Test plan: {len(result.test_plan.get('steps', []))} step(s).")
    if result.security_tests:
        parts.append(
            "Security probes: " + ", ".join(result.security_tests.get("security_focus", [])) + "."
        )
    return " ".join(parts)
