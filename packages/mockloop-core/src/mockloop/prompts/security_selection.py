"""Which security probes fit a description, and the mock scenarios for auth failures.

Each probe family of `mockloop.security.catalogue` is selected when the description has what
it tests (secured operations with ids for object-level authorization, URL-valued inputs for
SSRF, writes with bodies for mass assignment...), with the reason; families a compliance
framework needs are added with the control that needs them. The mock scenarios come from the
auth-bypass, CSRF, injection, XSS and rate-limiting packs, chosen by the same families.
"""

from __future__ import annotations

from typing import Any

from mockloop.prompts.risk import ADMIN_PATH, is_url_input, request_fields, requires_auth
from mockloop.security.catalogue import CATEGORIES, FAMILIES, resolve_focus
from mockloop.security.compliance import FRAMEWORKS, resolve_frameworks
from mockloop.spec.model import ApiSpec

__all__ = ["SCENARIOS_BY_FAMILY", "security_arguments", "select_families"]

_WRITES = ("POST", "PUT", "PATCH", "DELETE")

# Pack scenarios that exercise a client's handling of what each family is about.
SCENARIOS_BY_FAMILY: dict[str, list[tuple[str, str]]] = {
    "authentication": [
        ("security/auth-bypass", "expired-token"),
        ("security/auth-bypass", "token-refresh"),
        ("security/auth-bypass", "session-revoked"),
    ],
    "function_authorization": [("security/auth-bypass", "insufficient-scope")],
    "object_authorization": [("security/auth-bypass", "insufficient-scope")],
    "injection": [
        ("security/injection-attacks", "sql-error-leak"),
        ("security/xss-attacks", "stored-xss"),
    ],
    "misconfiguration": [
        ("security/csrf-attacks", "missing-csrf-token"),
        ("security/xss-attacks", "html-instead-of-json"),
    ],
    "resource_consumption": [("error-simulation/rate-limiting", "burst-limit")],
}


def _reasons(spec: ApiSpec) -> dict[str, str | None]:
    """Why each automatable family applies to this description (None: it does not)."""
    ops = spec.operations
    secured = [op for op in ops if requires_auth(op)]
    with_ids = [op for op in secured if any(p.location == "path" for p in op.parameters)]
    writes = [op for op in ops if op.method.upper() in _WRITES]
    bodies = [op for op in writes if op.request_body is not None]
    urls = [
        op.operation_id
        for op in ops
        if any(is_url_input(p.name, p.schema) for p in op.parameters)
        or any(is_url_input(n, s) for n, s in request_fields(spec, op).items())
    ]
    strings = [
        op
        for op in ops
        if any(
            p.location in ("query", "path") and p.schema.get("type", "string") == "string"
            for p in op.parameters
        )
        or op.request_body is not None
    ]
    admin = [op.operation_id for op in ops if ADMIN_PATH.search(op.path.lower())]
    return {
        "object_authorization": (
            f"{len(with_ids)} secured operation(s) take object ids in the path "
            f"(e.g. {with_ids[0].operation_id})"
            if with_ids
            else None
        ),
        "authentication": (
            f"{len(secured)} of {len(ops)} operations require credentials "
            f"({', '.join(spec.security_schemes)})"
            if secured
            else None
        ),
        "property_authorization": (
            f"{len(bodies)} write(s) take a body (mass assignment) and responses may over-share"
            if bodies
            else "responses may expose sensitive or undocumented properties"
        ),
        "resource_consumption": "every API should throttle bursts and bound page and body sizes",
        "function_authorization": (
            f"administrative paths ({', '.join(admin[:3])})"
            if admin
            else f"{len(writes)} write operation(s) and undocumented methods to check"
            if writes
            else "undocumented methods on documented paths"
        ),
        "ssrf": (
            f"URL-valued inputs in {len(urls)} operation(s) (e.g. {urls[0]})" if urls else None
        ),
        "misconfiguration": "security headers, CORS, verbose errors and TRACE apply to any API",
        "inventory": "old versions and shadow descriptions can exist beside any API",
        "injection": (
            f"{len(strings)} operation(s) take string parameters or bodies" if strings else None
        ),
    }


def select_families(
    spec: ApiSpec,
    security_focus: list[str] | None,
    compliance_requirements: list[str] | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(selected families with reasons, families left out with why, canonical frameworks)."""
    frameworks = resolve_frameworks(compliance_requirements)
    focus = resolve_focus(security_focus) if security_focus else None
    reasons = _reasons(spec)
    needed: dict[str, list[str]] = {}
    for framework in frameworks:
        for control in FRAMEWORKS[framework][1]:
            for family in control.families:
                needed.setdefault(family, []).append(f"{framework} {control.id}")
    selected: list[dict[str, Any]] = []
    left_out: list[dict[str, Any]] = []
    for name, family in FAMILIES.items():
        category = CATEGORIES[family.category].label
        entry: dict[str, Any] = {"family": name, "owasp": category}
        if not family.automatable:
            left_out.append({**entry, "why": family.why_not})
            continue
        reason = reasons.get(name)
        if focus is not None and name not in focus and name not in needed:
            left_out.append({**entry, "why": "not in security_focus"})
            continue
        if reason is None and name not in needed:
            why = "the description gives it nothing to test"
            if focus is not None and name in focus:
                why += " (asked for in security_focus: probes will report it not tested)"
                selected.append({**entry, "reason": why})
            else:
                left_out.append({**entry, "why": why})
            continue
        parts = [reason] if reason else []
        if name in needed:
            parts.append("required by " + ", ".join(needed[name][:4]))
        selected.append({**entry, "reason": "; ".join(parts)})
    return selected, left_out, frameworks


def security_arguments(
    spec: ApiSpec,
    api_spec: Any,
    security_focus: list[str] | None,
    compliance_requirements: list[str] | None,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(run_security_test arguments without server_url, selected, left out, frameworks)."""
    selected, left_out, frameworks = select_families(spec, security_focus, compliance_requirements)
    arguments: dict[str, Any] = {
        "security_focus": [entry["family"] for entry in selected],
        "max_requests": min(2000, 150 + 20 * len(spec.operations)),
        "rate_limit_rps": 50,
        "allow_writes": True,
    }
    if isinstance(api_spec, str | dict):
        arguments["api_spec"] = api_spec
    if frameworks:
        arguments["compliance_requirements"] = frameworks
    return arguments, selected, left_out, frameworks
